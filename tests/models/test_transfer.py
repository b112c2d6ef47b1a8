"""Transfer learning: a new model starts from another model's body with a fresh head."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ase.build import bulk
from click.testing import CliRunner

from asegraph.cli.main import cli
from asegraph.data.emt_alloys import EXAMPLE_PATH
from asegraph.exceptions import ParameterError
from asegraph.models import load, save
from asegraph.models.cgcnn import CGCNN, CGCNNConfig
from asegraph.models.ensemble import Ensemble
from asegraph.models.inference import model_batch, model_graph
from asegraph.models.transfer import body_config, select_target, transfer_model
from asegraph.training import TrainingConfig
from asegraph.workflows import fit_model

STRUCTURES = [bulk("NaCl", "rocksalt", a=5.64), bulk("Cu", "fcc", a=3.6) * (1, 1, 2)]


def source_model(tmp_path):
    """A small 'energy' model with a non-default body, saved to a file."""
    torch.manual_seed(1)
    config = CGCNNConfig(
        targets=["energy"], units=["eV"], atom_dim=12, n_conv=2, hidden_dim=20, cutoff=5.0
    )
    model = CGCNN(config).eval()
    for module in model.modules():  # non-trivial batch-norm statistics
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "energy.pt"
    save(model, path)
    return path


def outputs(model, structures):
    model.eval()
    batch = model_batch(model, [model_graph(model, s) for s in structures])
    with torch.no_grad():
        return model(batch)


def test_body_is_copied_and_the_head_is_fresh(tmp_path):
    path = source_model(tmp_path)
    source = load(path)
    new_config = CGCNNConfig(
        targets=["shear"], units=["GPa"], target_transform=["log10"], hidden_dim=32, dropout=0.2
    )
    torch.manual_seed(5)
    model = transfer_model(new_config, str(path))
    assert model.training  # ready to be trained
    # body settings are the source's; task and head are the new config's
    assert (model.config.atom_dim, model.config.n_conv, model.config.cutoff) == (12, 2, 5.0)
    assert model.config.targets == ["shear"] and model.config.target_transform == ["log10"]
    assert (model.config.hidden_dim, model.config.dropout) == (32, 0.2)
    assert model.metadata["init_from"]["source"] == str(path)
    assert model.metadata["init_from"]["targets"] == ["energy"]
    # the same atom representations after the convolutions, in eval mode ...
    new_out, old_out = outputs(model, STRUCTURES), outputs(source, STRUCTURES)
    torch.testing.assert_close(new_out["atom_embeddings"], old_out["atom_embeddings"])
    # ... and a head that is CGCNN(config)'s random start under the same seed
    torch.manual_seed(5)
    fresh = CGCNN(body_config(new_config, source))
    assert model.conv_to_fc.weight.shape == (32, 12)
    torch.testing.assert_close(model.fc_out.weight, fresh.fc_out.weight)
    torch.testing.assert_close(model.target_std, torch.ones(1, dtype=torch.float64))


def test_fit_model_with_init_from_starts_from_the_source(tmp_path):
    """One epoch at a tiny learning rate moves the body by at most a few lr steps."""
    path = source_model(tmp_path)
    from asegraph.data.datasets import load_graph_dataset

    config = body_config(CGCNNConfig(targets=["energy_per_atom"]), str(path))
    data = load_graph_dataset(EXAMPLE_PATH, ["energy_per_atom"], 5.0, 12, "keep")
    data = data.subset(range(40))
    training = TrainingConfig(epochs=1, lr=1e-6, init_from=str(path))
    trainer = fit_model(data, None, config, training, progress=False)
    source = load(path)
    for key in ("convs.0.fc_full.weight", "embedding.weight"):
        start = source.state_dict()[key]
        assert (trainer.model.state_dict()[key] - start).abs().max() < 1e-4
    # without init_from the same call starts from random weights
    plain = fit_model(data, None, config, TrainingConfig(epochs=1, lr=1e-6), progress=False)
    differs = (
        plain.model.state_dict()["convs.0.fc_full.weight"]
        - source.state_dict()["convs.0.fc_full.weight"]
    )
    assert differs.abs().max() > 1e-2


def test_an_ensemble_is_refused_as_a_source(tmp_path):
    torch.manual_seed(0)
    members = [CGCNN(CGCNNConfig(atom_dim=8, n_conv=1)).eval() for _ in range(2)]
    Ensemble(members).save(tmp_path / "ens.pt")
    with pytest.raises(ParameterError, match="ensemble of 2 models; transfer learning starts"):
        transfer_model(CGCNNConfig(), str(tmp_path / "ens.pt"))


def test_published_formation_energy_body(published_model_dir):
    """The use the option is for: the published formation-energy model's convolutions."""
    source = load("formation-energy-per-atom")
    model = transfer_model(CGCNNConfig(targets=["g"], dropout=0.2), "formation-energy-per-atom")
    assert (model.config.n_conv, model.config.ties, model.config.n_atom_features) == (
        4,
        "truncate",
        92,
    )
    np.testing.assert_allclose(
        outputs(model, STRUCTURES)["atom_embeddings"].numpy(),
        outputs(source, STRUCTURES)["atom_embeddings"].numpy(),
        rtol=1e-6,
    )
    assert model.metadata["init_from"]["pretrained_name"] == "formation-energy-per-atom"


def cli_args(tmp_path, *extra):
    return [
        "train",
        str(EXAMPLE_PATH),
        "--target",
        "energy_per_atom",
        "--rows",
        "0:60",
        "--epochs",
        "1",
        "-o",
        str(tmp_path / "model.pt"),
        "--no-progress",
        *extra,
    ]


def test_cli_init_from(tmp_path):
    path = source_model(tmp_path)
    result = CliRunner().invoke(cli, cli_args(tmp_path, "--init-from", str(path)))
    assert result.exit_code == 0, result.output
    model = load(tmp_path / "model.pt")
    assert (model.config.atom_dim, model.config.cutoff) == (12, 5.0)
    assert model.metadata["init_from"]["source"] == str(path)
    run = json.loads((tmp_path / "model.pt.run" / "run.json").read_text())
    assert run["training"]["init_from"] == str(path)
    # a body option given with --init-from would be replaced silently: refused
    result = CliRunner().invoke(
        cli, cli_args(tmp_path, "--init-from", str(path), "--n-conv", "3", "--cutoff", "6")
    )
    assert result.exit_code == 2
    assert "--n-conv, --cutoff: with --init-from" in result.output
    assert "drop these options" in result.output and "Traceback" not in result.output
    # a source that does not exist: one line, exit 2
    result = CliRunner().invoke(cli, cli_args(tmp_path, "--init-from", "no-such-model"))
    assert result.exit_code == 2 and "neither a file nor a pretrained name" in result.output


def two_target_model(seed: int) -> CGCNN:
    config = CGCNNConfig(
        targets=["shear_modulus_vrh", "bulk_modulus_vrh"],
        units=["GPa", "GPa"],
        target_transform=["log10", "log10"],
        atom_dim=8,
        n_conv=1,
        hidden_dim=8,
        cutoff=6.0,
    )
    torch.manual_seed(seed)
    model = CGCNN(config)
    model.set_normalizer([1.5, 2.0], [0.3, 0.2])  # per-target scales must follow the column
    return model.eval()


@pytest.mark.parametrize("ensemble", [False, True])
def test_select_target_gives_that_column(ensemble):
    model = Ensemble([two_target_model(s) for s in range(3)]) if ensemble else two_target_model(0)
    both = outputs(model, STRUCTURES)
    for k, name in enumerate(["shear_modulus_vrh", "bulk_modulus_vrh"]):
        one = select_target(model, name)
        assert one.config.targets == [name] and one.config.target_transform == ["log10"]
        out = outputs(one, STRUCTURES)
        torch.testing.assert_close(out["y"][:, 0], both["y"][:, k])
        if ensemble:
            torch.testing.assert_close(out["y_std"][:, 0], both["y_std"][:, k])
    assert select_target(one, name) is one  # already that target alone
    with pytest.raises(ParameterError, match="target 'energy' is not one of this regression"):
        select_target(model, "energy")
