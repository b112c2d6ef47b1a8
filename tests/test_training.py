"""Training: learning, determinism, resume after SIGKILL, data parallelism."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import ase.io
import numpy as np
import pytest
import torch

from asegraph.data.emt_alloys import EXAMPLE_PATH
from asegraph.exceptions import ParameterError
from asegraph.graph.crystal_graph import build_graphs
from asegraph.models.cgcnn import CGCNN, CGCNNConfig
from asegraph.models.checkpoint import load_model
from asegraph.training import Trainer, TrainingConfig

CONFIG = dict(
    targets=["e"],
    units=["eV/atom"],
    atom_dim=16,
    n_conv=2,
    hidden_dim=32,
    cutoff=6.0,
    gaussian={"start": 0.0, "stop": 6.0, "step": 0.3, "width": 0.3},
)


@pytest.fixture(scope="module")
def alloys():
    frames = ase.io.read(EXAMPLE_PATH, index=":120")
    graphs = build_graphs(frames, cutoff=6.0)
    energies = np.array([f.info["energy_per_atom"] for f in frames])
    return graphs, energies


def fit(alloys, seed=0, epochs=15, **config):
    graphs, energies = alloys
    torch.manual_seed(seed)
    model = CGCNN(CGCNNConfig(**{**CONFIG, **config}))
    trainer = Trainer(
        model, TrainingConfig(epochs=epochs, batch_size=16, lr=3e-3, seed=seed), progress=False
    )
    trainer.fit(graphs[:90], energies[:90], graphs[90:], energies[90:])
    return trainer


def test_training_beats_the_mean_and_keeps_the_best_epoch(alloys):
    graphs, energies = alloys
    trainer = fit(alloys)
    mae = trainer.evaluate(graphs[90:], energies[90:])["mae"]
    baseline = np.abs(energies[90:] - energies[:90].mean()).mean()
    assert mae < 0.6 * baseline
    best = min(r["val_mae"] for r in trainer.history)
    assert mae == pytest.approx(best, rel=1e-5)  # the best epoch's weights are restored


def test_batch_norm_recalibration_gives_eval_mode_the_current_statistics():
    # One element (carbon): v^(0) is one vector, so batch norm's inputs are nearly
    # constant and eval mode with stale running averages is far off (the carbon_24
    # trap). After recalibration eval mode matches training mode on the same
    # batch, up to the n/(n-1) of the unbiased running variance.
    from ase.build import bulk

    from asegraph.models.inference import model_batch
    from asegraph.training import recalibrate_batch_norm

    rng = np.random.default_rng(0)
    frames = []
    for k in range(24):
        atoms = bulk("C", "diamond", a=3.57, cubic=k % 2 == 0)
        atoms.rattle(0.05, seed=k)
        atoms.set_cell(atoms.cell * rng.uniform(0.97, 1.03), scale_atoms=True)
        frames.append(atoms)
    graphs = build_graphs(frames, cutoff=4.0)
    torch.manual_seed(0)
    model = CGCNN(
        CGCNNConfig(**{**CONFIG, "cutoff": 4.0, "gaussian": None}, atom_features="embedding")
    ).double()
    for m in model.modules():  # stale statistics, as after weights moved
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-1.0, 1.0)
            m.running_var.uniform_(0.01, 0.1)
    weights = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k}
    weights = {k: v for k, v in weights.items() if "num_batches" not in k}
    batch = model_batch(model, graphs)
    with torch.no_grad():
        trained = model.train()(batch)["y"]
        stale = model.eval()(batch)["y"]
        recalibrate_batch_norm(model, graphs, batch_size=len(graphs), n_batches=1)
        assert not model.training
        fresh = model(batch)["y"]
    scale = trained.std()
    assert (stale - trained).abs().max() > 0.5 * scale
    assert (fresh - trained).abs().max() < 0.05 * scale
    for k, v in weights.items():  # only the running statistics changed
        assert torch.equal(model.state_dict()[k], v), k


def test_same_seed_same_history(alloys):
    first = [r["val_mae"] for r in fit(alloys, seed=3, epochs=3).history]
    second = [r["val_mae"] for r in fit(alloys, seed=3, epochs=3).history]
    assert first == second


def test_classification_metrics(alloys):
    graphs, energies = alloys
    labels = (energies > np.median(energies)).astype(float)
    torch.manual_seed(0)
    model = CGCNN(CGCNNConfig(**{**CONFIG, "task": "classification", "classes": ["low", "high"]}))
    trainer = Trainer(model, TrainingConfig(epochs=10, batch_size=16, lr=3e-3), progress=False)
    trainer.fit(graphs[:90], labels[:90], graphs[90:], labels[90:])
    metrics = trainer.evaluate(graphs[90:], labels[90:])
    assert set(metrics) == {"accuracy", "roc_auc", "precision", "recall"}
    assert metrics["roc_auc"] > 0.7


def test_regression_metrics_per_target():
    """Several targets: pooled numbers plus each target's own (equal to one-column metrics)."""
    from asegraph.training import regression_metrics

    rng = np.random.default_rng(0)
    target = rng.normal(size=(50, 2)) * [1.0, 0.1]
    predicted = target + rng.normal(size=(50, 2)) * [0.3, 0.05]
    both = regression_metrics(predicted, target, ["g", "k"])
    for k, name in enumerate(["g", "k"]):
        one = regression_metrics(predicted[:, k : k + 1], target[:, k : k + 1])
        assert both[f"rmse_{name}"] == pytest.approx(one["rmse"])
        assert both[f"mae_{name}"] == pytest.approx(one["mae"])
        assert both[f"r2_{name}"] == pytest.approx(one["r2"])
    assert both["rmse"] == pytest.approx(np.sqrt((both["rmse_g"] ** 2 + both["rmse_k"] ** 2) / 2))
    # one target, or no names: the pooled numbers only
    assert set(regression_metrics(predicted[:, :1], target[:, :1], ["g"])) == {"mae", "rmse", "r2"}
    assert set(regression_metrics(predicted, target)) == {"mae", "rmse", "r2"}


def test_log10_targets_need_positive_values(alloys):
    graphs, energies = alloys
    model = CGCNN(CGCNNConfig(**{**CONFIG, "target_transform": ["log10"]}))
    with pytest.raises(ParameterError, match="non-positive values but its transform is log10"):
        Trainer(model, progress=False).fit(graphs[:10], energies[:10] - energies.max() - 0.1)


def test_bad_training_settings():
    with pytest.raises(ParameterError, match="optimizer must be 'adam' or 'sgd', got 'lbfgs'"):
        TrainingConfig(optimizer="lbfgs").validate()
    with pytest.raises(ParameterError, match="lr_schedule must be"):
        TrainingConfig(lr_schedule="exp")
    with pytest.raises(ParameterError, match="weight_decay must be >= 0, got -1"):
        TrainingConfig(weight_decay=-1)
    with pytest.raises(ParameterError, match="patience must be >= 1 epoch"):
        TrainingConfig(patience=0)
    with pytest.raises(ParameterError, match="bn_recalibration_batches must be >= 0"):
        TrainingConfig(bn_recalibration_batches=-1)
    with pytest.raises(ParameterError, match="max_time_s must be a positive number"):
        TrainingConfig(max_time_s=0)


def _train_command(output, epochs, *extra):
    return [
        sys.executable,
        "-m",
        "asegraph.cli.main",
        "train",
        str(EXAMPLE_PATH),
        "--target",
        "energy_per_atom",
        "--split",
        "0.6,0.2,0.2",
        "--cutoff",
        "6",
        "--atom-dim",
        "16",
        "--n-conv",
        "2",
        "--hidden-dim",
        "32",
        "--batch-size",
        "16",
        "--epochs",
        str(epochs),
        "--lr-schedule",
        "constant",
        "--seed",
        "1",
        "--no-progress",
        "-o",
        str(output),
        *extra,
    ]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def test_sigkill_then_rerun_resumes_and_matches_an_uninterrupted_run(tmp_path):
    epochs = 6
    reference = tmp_path / "reference.pt"
    subprocess.run(_train_command(reference, epochs), check=True, env=_env(), capture_output=True)

    output = tmp_path / "model.pt"
    log = tmp_path / "model.pt.run" / "log.csv"
    process = subprocess.Popen(
        _train_command(output, epochs),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until two epochs are on disk, then kill
        if log.exists() and len(log.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = len(log.read_text().splitlines()) - 1
    assert 2 <= done < epochs, "the run was not killed mid-way"
    assert not output.exists()

    subprocess.run(_train_command(output, epochs), check=True, env=_env(), capture_output=True)
    epochs_logged = [int(line.split(",")[0]) for line in log.read_text().splitlines()[1:]]
    assert epochs_logged == list(range(1, epochs + 1))  # nothing repeated, nothing lost
    resumed, uninterrupted = load_model(output), load_model(reference)
    for key, value in uninterrupted.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=1e-5, atol=1e-6)


def test_data_parallel_two_processes_equal_one_process(tmp_path):
    single = tmp_path / "single.pt"
    parallel = tmp_path / "parallel.pt"
    subprocess.run(
        _train_command(single, 3, "--no-batch-norm"), check=True, env=_env(), capture_output=True
    )
    command = _train_command(parallel, 3, "--no-batch-norm")
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(29500 + os.getpid() % 1000),
        "-m",
        "asegraph.cli.main",
    ]
    result = subprocess.run(launcher + command[3:], env=_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    a, b = load_model(single), load_model(parallel)
    for key, value in a.state_dict().items():
        torch.testing.assert_close(b.state_dict()[key], value, rtol=1e-4, atol=1e-5)


def test_several_targets_at_once(alloys):
    graphs, energies = alloys
    targets = np.stack([energies, 2.0 * energies + 1.0], axis=1)
    torch.manual_seed(0)
    model = CGCNN(
        CGCNNConfig(
            **{
                **CONFIG,
                "targets": ["e", "f"],
                "units": ["eV", "eV"],
                "target_transform": ["none", "none"],
            }
        )
    )
    trainer = Trainer(model, TrainingConfig(epochs=8, batch_size=16, lr=3e-3), progress=False)
    trainer.fit(graphs[:90], targets[:90], graphs[90:], targets[90:])
    predicted = trainer.predict(graphs[90:])
    assert predicted.shape == (30, 2)
    # both heads learn their own target (each beats predicting its training mean)
    for k in range(2):
        mae = np.abs(predicted[:, k] - targets[90:, k]).mean()
        baseline = np.abs(targets[90:, k] - targets[:90, k].mean()).mean()
        assert mae < 0.8 * baseline, (k, mae, baseline)


def test_balanced_classes_weight_the_rare_class(alloys):
    graphs, energies = alloys
    labels = (energies > np.quantile(energies, 0.9)).astype(float)  # 10 % positives
    torch.manual_seed(0)
    model = CGCNN(CGCNNConfig(**{**CONFIG, "task": "classification", "classes": ["a", "b"]}))
    trainer = Trainer(
        model, TrainingConfig(epochs=1, batch_size=16, balanced_classes=True), progress=False
    )
    trainer.fit(graphs[:90], labels[:90])
    counts = np.bincount(labels[:90].astype(int), minlength=2)
    expected = counts.sum() / (2 * counts)
    np.testing.assert_allclose(trainer._class_weights.numpy(), expected, rtol=1e-6)
    assert trainer._class_weights[1] > 3 * trainer._class_weights[0]
