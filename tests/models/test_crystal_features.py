"""Whole-crystal inputs of the CGCNN head (``crystal_features``, e.g. the volume per atom)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from click.testing import CliRunner
from scipy.spatial.transform import Rotation

from asegraph.cli.main import cli
from asegraph.data.emt_alloys import EXAMPLE_PATH
from asegraph.exceptions import ParameterError
from asegraph.graph.batch import collate
from asegraph.models import load, save
from asegraph.models.cgcnn import CGCNN, CGCNNConfig, crystal_features
from asegraph.models.inference import model_batch, model_graph, predict_graphs
from asegraph.models.transfer import transfer_model

VOLUME = ["log_volume_per_atom"]
STRUCTURES = [bulk("NaCl", "rocksalt", a=5.64), bulk("Al", "fcc", a=4.05), bulk("Fe", "bcc", 2.87)]


def make_model(seed: int = 0, **overrides) -> CGCNN:
    torch.manual_seed(seed)
    config = CGCNNConfig(n_conv=2, atom_dim=16, hidden_dim=24, crystal_features=VOLUME, **overrides)
    return CGCNN(config).double().eval()


def predict(model, structures):
    return predict_graphs(model, [model_graph(model, s) for s in structures])["y"]


def test_volume_feature_is_the_standardised_log_volume_per_atom():
    # fcc Al, a = 4.05 Å: conventional cube of 4 atoms -> V/N = 4.05³/4 = 16.6075 Å³;
    # the primitive cell of bulk() holds 1 atom of the same volume. Standardised with
    # centre 2.92 and scale 0.41: (ln 16.6075 - 2.92) / 0.41 = (2.80983 - 2.92) / 0.41.
    expected = (math.log(4.05**3 / 4) - 2.92) / 0.41
    assert expected == pytest.approx(-0.26871, abs=1e-4)
    model = make_model()
    graphs = [
        model_graph(model, bulk("Al", "fcc", a=4.05)),
        model_graph(model, bulk("Al", "fcc", a=4.05, cubic=True)),
    ]
    value = crystal_features(collate(graphs), VOLUME)
    assert value.shape == (2, 1)
    np.testing.assert_allclose(value.numpy().ravel(), [expected, expected], atol=1e-9)


def test_the_head_sees_the_feature():
    model = make_model()
    assert model.conv_to_fc.in_features == 16 + 1  # atom vector + one crystal feature
    graphs = [model_graph(model, s) for s in STRUCTURES]
    batch = model_batch(model, graphs)
    with torch.no_grad():
        before = model(batch)["y"]
        model.conv_to_fc.weight[:, -1] += 1.0  # the feature's column only
        after = model(batch)["y"]
    assert (before - after).abs().min() > 1e-6


@pytest.mark.parametrize("index", range(len(STRUCTURES)))
def test_invariances_and_supercells(index):
    model = make_model()
    atoms = STRUCTURES[index]
    reference = predict(model, [atoms])
    rotated = atoms.copy()
    rotation = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix()
    rotated.set_cell(atoms.cell.array @ rotation.T, scale_atoms=False)
    rotated.positions = atoms.positions @ rotation.T
    for variant in (rotated, atoms.repeat((2, 2, 1)), atoms.repeat((2, 2, 2))):
        np.testing.assert_allclose(predict(model, [variant]), reference, atol=1e-8, rtol=0)


def test_batched_equals_one_by_one():
    model = make_model()
    graphs = [model_graph(model, s) for s in STRUCTURES]
    batched = predict_graphs(model, graphs, batch_size=len(graphs))["y"]
    single = np.concatenate([predict_graphs(model, [g])["y"] for g in graphs])
    np.testing.assert_allclose(batched, single, atol=1e-12)


def test_strain_derivative_matches_finite_differences():
    """d y / d s for a uniform scaling s of cell and positions: autograd through the
    distances *and* the volume feature equals central finite differences."""
    model = make_model()
    atoms = bulk("NaCl", "rocksalt", a=5.64)
    base = model_batch(model, [model_graph(model, atoms)])

    def y_at(scale: torch.Tensor) -> torch.Tensor:
        batch = base.to()
        batch.positions = base.positions * scale
        batch.cell = base.cell * scale
        return model(batch, from_positions=True)["y"].sum()

    s = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(y_at(s), s)
    h = 1e-5
    with torch.no_grad():
        plus, minus = (torch.tensor(1 + d, dtype=torch.float64) for d in (h, -h))
        numeric = (y_at(plus) - y_at(minus)) / (2 * h)
    assert float(grad) == pytest.approx(float(numeric), rel=1e-5, abs=1e-8)
    assert abs(float(grad)) > 1e-4


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"crystal_features": ["density"]}, "crystal_features must name entries of"),
        ({"crystal_features": VOLUME, "readout": "site"}, "crystal_features enter the pooled"),
    ],
)
def test_bad_config(overrides, match):
    with pytest.raises(ParameterError, match=match):
        CGCNNConfig(**overrides)


def test_a_molecule_has_no_volume_feature():
    model = make_model()
    water = molecule("H2O")
    water.pbc = False
    with pytest.raises(ParameterError, match="needs a periodic cell with a volume"):
        predict(model, [water])


def test_saved_model_and_transfer_keep_the_feature(tmp_path):
    model = make_model().float()
    save(model, tmp_path / "m.pt")
    loaded = load(tmp_path / "m.pt")
    assert loaded.config.crystal_features == VOLUME
    np.testing.assert_allclose(predict(loaded, STRUCTURES), predict(model, STRUCTURES), atol=1e-6)
    # a source without the feature: the fresh head of the new model takes it
    torch.manual_seed(1)
    source = CGCNN(CGCNNConfig(targets=["energy"], atom_dim=12, n_conv=1, hidden_dim=20)).eval()
    save(source, tmp_path / "energy.pt")
    config = CGCNNConfig(
        targets=["bulk"], units=["GPa"], target_transform=["log10"], crystal_features=VOLUME
    )
    new = transfer_model(config, str(tmp_path / "energy.pt"))
    assert new.config.crystal_features == VOLUME and new.conv_to_fc.in_features == 12 + 1


def test_cli_train_with_the_volume_feature(tmp_path):
    runner = CliRunner()
    out = tmp_path / "v.pt"
    args = ["train", str(EXAMPLE_PATH), "--target", "energy_per_atom", "--rows", "0:40",
            "--epochs", "2", "--atom-dim", "8", "--n-conv", "1", "--cutoff", "5", "--threads", "1",
            "--no-progress", "-o", str(out)]  # fmt: skip
    result = runner.invoke(cli, [*args, "--crystal-feature", "log_volume_per_atom"])
    assert result.exit_code == 0, result.output
    assert load(out).config.crystal_features == VOLUME
    assert json.loads((tmp_path / "v.pt.metrics.json").read_text())["epochs"] == 2
    bad = runner.invoke(cli, [*args, "--crystal-feature", "density"])
    assert bad.exit_code == 2 and "log_volume_per_atom" in bad.output
    site = runner.invoke(
        cli, [*args, "--crystal-feature", "log_volume_per_atom", "--readout", "site"]
    )
    assert site.exit_code == 2 and "crystal_features enter the pooled" in site.output
    assert "Traceback" not in site.output


def test_default_is_the_thesis_head():
    model = CGCNN(CGCNNConfig(atom_dim=16))
    assert model.config.crystal_features == [] and model.conv_to_fc.in_features == 16
