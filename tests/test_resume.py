"""Resume after SIGINT and SIGKILL with every schedule x optimizer; one run per folder.

Each interrupted run stops at the worst moment: in epoch 3's save, after
``best_model.pt`` and ``log.csv`` are written and before ``checkpoint.pt``.
SIGINT is delivered to this process (Python turns it into KeyboardInterrupt);
SIGKILL needs another process: the SIGKILL runs are forked children. The resumed run must end with the weights of an uninterrupted one.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch

from asegraph.data.emt_alloys import EXAMPLE_PATH
from asegraph.exceptions import ParameterError
from asegraph.graph.crystal_graph import build_graphs
from asegraph.models.cgcnn import CGCNN, CGCNNConfig
from asegraph.training import Trainer, TrainingConfig

EPOCHS = 4
SCHEDULES = {"constant": {}, "step": {"lr_milestones": [2]}, "cosine": {}}
OPTIMIZERS = ["adam", "sgd"]
MATRIX = [(s, o) for s in SCHEDULES for o in OPTIMIZERS]
MODEL = dict(
    targets=["e"],
    atom_dim=8,
    n_conv=1,
    hidden_dim=16,
    cutoff=5.0,
    gaussian={"start": 0.0, "stop": 5.0, "step": 0.5, "width": 0.5},
)


def data():
    frames = ase.io.read(EXAMPLE_PATH, index=":24")
    return build_graphs(frames, cutoff=5.0), np.array([f.info["energy_per_atom"] for f in frames])


def trainer(output_dir, schedule, optimizer, **kw) -> Trainer:
    torch.manual_seed(0)
    config = TrainingConfig(
        epochs=EPOCHS,
        batch_size=8,
        lr=3e-3,
        optimizer=optimizer,
        lr_schedule=schedule,
        seed=1,
        **SCHEDULES[schedule],
    )
    return Trainer(CGCNN(CGCNNConfig(**MODEL)), config, output_dir, progress=False, **kw)


def save_up_to_the_checkpoint(self, save, optimizer, scheduler, generator, state, record, improved):
    """Write what ``_save`` writes before ``checkpoint.pt`` (best model, log), not the rest."""
    import asegraph.training as training

    real = training.atomic_write_bytes

    def skip_checkpoint(path, write):
        if Path(path).name != "checkpoint.pt":
            real(path, write)

    training.atomic_write_bytes = skip_checkpoint
    try:
        save(self, optimizer, scheduler, generator, state, record, improved)
    finally:
        training.atomic_write_bytes = real


@pytest.fixture(scope="module")
def alloys():
    return data()


@pytest.fixture(scope="module")
def references(alloys, tmp_path_factory):
    """Uninterrupted runs' final weights, by (schedule, optimizer)."""
    graphs, energies = alloys
    out = {}
    for schedule, optimizer in MATRIX:
        run = trainer(tmp_path_factory.mktemp("ref"), schedule, optimizer)
        run.fit(graphs[:16], energies[:16], graphs[16:], energies[16:])
        out[schedule, optimizer] = (run.model.state_dict(), [r["lr"] for r in run.history])
    return out


@pytest.fixture(scope="module")
def killed(alloys, tmp_path_factory):
    """Folders of the six SIGKILL runs, killed in epoch 3's save.

    The runs are forked children of this process (real SIGKILLs without the
    seconds a fresh interpreter takes to import torch).
    """
    graphs, energies = alloys
    save = Trainer._save

    def stalled_save(self, optimizer, scheduler, generator, state, record, improved):
        if state["epoch"] == 3:
            save_up_to_the_checkpoint(
                self, save, optimizer, scheduler, generator, state, record, improved
            )
            (self.output_dir / "stalled").write_text("epoch 3")
            time.sleep(600)
        save(self, optimizer, scheduler, generator, state, record, improved)

    folders = {}
    for key in MATRIX:
        folder = folders[key] = tmp_path_factory.mktemp(f"kill-{key[0]}-{key[1]}")
        pid = os.fork()
        if pid == 0:  # the child trains until killed, and never returns into pytest
            try:
                Trainer._save = stalled_save
                trainer(folder, *key).fit(graphs[:16], energies[:16], graphs[16:], energies[16:])
            finally:
                os._exit(1)
        deadline = time.time() + 120
        while not (folder / "stalled").exists():
            assert time.time() < deadline and os.waitpid(pid, os.WNOHANG) == (0, 0), (
                "a training child never reached epoch 3"
            )
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return folders


def _check_resumed(folder, key, alloys, references):
    graphs, energies = alloys
    assert len((folder / "log.csv").read_text().splitlines()) == 1 + 3  # epoch 3 in the log...
    resumed = trainer(folder, *key)
    resumed.fit(graphs[:16], energies[:16], graphs[16:], energies[16:])
    epochs = [int(line.split(",")[0]) for line in (folder / "log.csv").read_text().splitlines()[1:]]
    assert epochs == list(range(1, EPOCHS + 1))  # ...but not yet checkpointed: redone once
    weights, lrs = references[key]
    assert [r["lr"] for r in resumed.history] == pytest.approx(lrs, rel=1e-12)
    for name, value in weights.items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("schedule,optimizer", MATRIX)
def test_resume_after_sigint(
    schedule, optimizer, alloys, references, tmp_path, monkeypatch, request
):
    graphs, energies = alloys
    save = Trainer._save

    def interrupted_save(self, optimizer, scheduler, generator, state, record, improved):
        if state["epoch"] == 3:
            save_up_to_the_checkpoint(
                self, save, optimizer, scheduler, generator, state, record, improved
            )
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends
            time.sleep(5)  # the KeyboardInterrupt arrives here
        save(self, optimizer, scheduler, generator, state, record, improved)

    monkeypatch.setattr(Trainer, "_save", interrupted_save)
    # Python's own Ctrl-C handler, whatever an earlier test (dask, multiprocessing) installed
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    with pytest.raises(KeyboardInterrupt):
        trainer(tmp_path, schedule, optimizer).fit(
            graphs[:16], energies[:16], graphs[16:], energies[16:]
        )
    monkeypatch.setattr(Trainer, "_save", save)
    _check_resumed(tmp_path, (schedule, optimizer), alloys, references)


@pytest.mark.parametrize("schedule,optimizer", MATRIX)
def test_resume_after_sigkill(schedule, optimizer, alloys, references, killed):
    _check_resumed(killed[schedule, optimizer], (schedule, optimizer), alloys, references)


def test_checkpoint_holds_plain_numbers_only(alloys, tmp_path):
    """The cosine factor was a numpy float: weights-only loading refused the checkpoint."""
    graphs, energies = alloys
    trainer(tmp_path, "cosine", "adam").fit(graphs[:16], energies[:16])
    payload = torch.load(tmp_path / "checkpoint.pt", weights_only=True)  # raised before
    assert type(payload["optimizer"]["param_groups"][0]["lr"]) is float


def test_resume_refuses_another_run(alloys, tmp_path):
    graphs, energies = alloys
    trainer(tmp_path, "constant", "adam").fit(graphs[:16], energies[:16])
    with pytest.raises(ParameterError, match=r"holds another run \(lr_schedule 'constant' -> "):
        trainer(tmp_path, "cosine", "adam").fit(graphs[:16], energies[:16])
    with pytest.raises(ParameterError, match=r"holds another run \(the data differ\)"):
        trainer(tmp_path, "constant", "adam").fit(graphs[:16], energies[:16] + 1.0)
    with pytest.raises(ParameterError, match="start afresh with --restart"):
        other = trainer(tmp_path, "constant", "adam")
        other.model = CGCNN(CGCNNConfig(**{**MODEL, "n_conv": 2}))
        other.fit(graphs[:16], energies[:16])
    fresh = trainer(tmp_path, "cosine", "adam", restart=True)
    assert len(fresh.fit(graphs[:16], energies[:16])) == EPOCHS  # trained afresh, not resumed


def test_a_folder_in_use_is_refused(alloys, tmp_path):
    graphs, energies = alloys
    first, second = trainer(tmp_path, "constant", "adam"), trainer(tmp_path, "constant", "adam")
    save = Trainer._save

    def second_run_meanwhile(self, *args):
        save(self, *args)
        if self is first:
            with pytest.raises(ParameterError, match="is in use by another training process"):
                second.fit(graphs[:16], energies[:16])

    Trainer._save = second_run_meanwhile
    try:
        first.fit(graphs[:16], energies[:16])
    finally:
        Trainer._save = save
    assert len(second.fit(graphs[:16], energies[:16])) == EPOCHS  # free again: resumes


def test_nonfinite_and_non_class_targets_are_refused(alloys):
    graphs, energies = alloys
    bad = energies[:16].copy()
    bad[[3, 5]] = [np.nan, np.inf]
    with pytest.raises(ParameterError, match=r"2 of 16 structures have a NaN or infinite value"):
        trainer(None, "constant", "adam").fit(graphs[:16], bad)
    classifier = Trainer(
        CGCNN(CGCNNConfig(**{**MODEL, "task": "classification", "classes": ["0", "1"]})),
        progress=False,
    )
    with pytest.raises(
        ParameterError, match=r"needs class indices 0..1 as targets, got 0.0381289 "
    ):
        classifier.fit(graphs[:16], energies[:16])
    with pytest.raises(ParameterError, match=r"has one class only \(0\) in the 16 training"):
        classifier.fit(graphs[:16], np.zeros(16))
