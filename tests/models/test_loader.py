"""One loader: a model file predicts the same through every entry point (defect 1)."""

from __future__ import annotations

import csv
import json

import ase.io
import numpy as np
import pytest
import torch
from ase.build import bulk
from click.testing import CliRunner

from asegraph.cli.main import cli
from asegraph.exceptions import ModelNotFoundError
from asegraph.models import CGCNN, CGCNNConfig, Ensemble, load, model_graphs, predict_graphs, save


def enveloped_model() -> CGCNN:
    """A per-atom energy model with the smooth envelope; the normaliser makes a model
    rebuilt without the envelope predict numbers far away (the reported 226 vs 4 eV)."""
    config = CGCNNConfig(
        targets=["energy_per_atom"],
        units=["eV/atom"],
        atom_features="embedding",
        atom_dim=8,
        n_conv=2,
        hidden_dim=8,
        readout="site",
        cutoff=5.0,
        max_neighbors=64,
        gaussian={"start": 0.0, "stop": 5.0, "step": 0.5, "width": 0.5},
        envelope=True,
        envelope_cutoff=4.0,
    )
    with torch.random.fork_rng():
        torch.manual_seed(3)
        model = CGCNN(config)
    model.set_normalizer([-4.0], [30.0])
    return model.eval()


def structures():
    rng = np.random.default_rng(0)
    frames = [bulk("NaCl", "rocksalt", a=5.5, cubic=True), bulk("MgO", "rocksalt", a=4.3)]
    rattled = bulk("NaCl", "rocksalt", a=5.6, cubic=True)
    rattled.positions += rng.normal(scale=0.05, size=rattled.positions.shape)
    return [*frames, rattled]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_an_enveloped_model_gives_the_same_numbers_through_every_entry_point(tmp_path):
    from asegraph.calculators import CGCNNCalculator
    from asegraph.calculators.predict import predict

    model = enveloped_model()
    frames = structures()
    expected = predict_graphs(model, model_graphs(model, frames))["y"][:, 0]  # eV/atom
    path = save(model, tmp_path / "smooth.pt")

    # the library loader
    loaded = load(path)
    assert loaded.config.envelope and loaded.config.envelope_cutoff == 4.0
    via_load = predict_graphs(loaded, model_graphs(loaded, frames))["y"][:, 0]
    np.testing.assert_allclose(via_load, expected, rtol=1e-6)

    # the ASE calculator: distances come from positions (autograd, for forces), so
    # float32 rounding differs in the last bits, scaled by the normaliser's std of
    # 30 eV/atom to ~1e-4 eV/atom (the defect guarded against: 226 vs 4 eV)
    for atoms, value in zip(frames, expected, strict=True):
        atoms.calc = CGCNNCalculator(path)
        energy = atoms.get_potential_energy() / len(atoms)
        assert energy == pytest.approx(value, rel=1e-5, abs=3e-4)

    # batched predict()
    dataset = predict(frames, path, progress=False)
    np.testing.assert_allclose(dataset["energy_per_atom"].values, expected, rtol=1e-5)

    # asegraph predict
    for k, atoms in enumerate(frames):
        atoms.calc = None
        atoms.info["e"] = float(expected[k]) + 0.25  # evaluate's MAE must be exactly 0.25
    ase.io.write(tmp_path / "s.extxyz", frames)
    result = run("predict", path, tmp_path / "s.extxyz", "-o", tmp_path / "p.csv", "--no-progress")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    column = [float(r["energy_per_atom (eV/atom)"]) for r in rows]
    np.testing.assert_allclose(column, expected, rtol=1e-5)

    # asegraph evaluate
    out = tmp_path / "eval"
    result = run("evaluate", path, tmp_path / "s.extxyz", "--target", "e", "-o", out)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text())["mae"] == pytest.approx(0.25, abs=1e-5)


def test_files_that_kept_the_envelope_in_metadata_still_load(tmp_path):
    # asegraph 0.1 stored the envelope only in metadata; the loader must restore it
    model = enveloped_model()
    payload_config = model.config.to_dict()
    for key in ("envelope", "envelope_cutoff", "envelope_exponent"):
        del payload_config[key]
    path = tmp_path / "old.pt"
    torch.save(
        {
            "format": "asegraph.cgcnn",
            "format_version": 1,
            "asegraph_version": "0.1.0",
            "config": payload_config,
            "state_dict": model.state_dict(),
            "metadata": {"envelope": {"kind": "polynomial", "cutoff": 4.0, "exponent": 6}},
        },
        path,
    )
    frames = structures()
    old = load(path)
    assert old.config.envelope and old.config.envelope_cutoff == 4.0
    np.testing.assert_allclose(
        predict_graphs(old, model_graphs(old, frames))["y"],
        predict_graphs(model, model_graphs(model, frames))["y"],
        rtol=1e-6,
    )


def test_load_takes_ensembles_folders_and_loaded_models(tmp_path):
    members = [enveloped_model(), enveloped_model()]
    ensemble_file = save(Ensemble(members), tmp_path / "ens.pt")
    folder = tmp_path / "members"
    for k, member in enumerate(members):
        save(member, folder / f"m{k}.pt")
    assert isinstance(load(ensemble_file), Ensemble) and len(load(folder)) == 2
    assert load(folder).config.envelope
    assert load(members[0]) is members[0]


def test_load_names_what_it_accepts():
    with pytest.raises(ModelNotFoundError, match="neither a file nor a pretrained name"):
        load("no-such-model")
    with pytest.raises(ModelNotFoundError, match="got int"):
        load(3)


def test_cgcnn_leaves_the_callers_config_alone():
    config = CGCNNConfig(n_conv=1, atom_dim=8, hidden_dim=8, max_atomic_number=50)
    before = config.to_dict()
    model = CGCNN(config)
    assert config.to_dict() == before and model.config is not config
    assert model.config.max_atomic_number == 100  # taken from the atom table


def test_train_envelope_flag_writes_an_enveloped_model(tmp_path):
    frames = structures() * 3
    for k, atoms in enumerate(frames):
        atoms.info["e"] = -3.0 - 0.01 * k
    ase.io.write(tmp_path / "d.extxyz", frames)
    out = tmp_path / "m.pt"
    result = run(
        "train", tmp_path / "d.extxyz", "--target", "e", "--units", "eV/atom", "--cutoff", "5",
        "--max-neighbors", "64", "--envelope", "--envelope-cutoff", "4.5", "--epochs", "2",
        "--n-conv", "1", "--atom-dim", "8", "--hidden-dim", "8", "--no-progress", "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = load(out).config
    assert config.envelope and config.envelope_cutoff == 4.5
