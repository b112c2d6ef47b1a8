"""Ensemble: mean, spread and members; one file or a folder; validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

from asegraph.exceptions import ModelFileError, ParameterError
from asegraph.models.cgcnn import CGCNN, CGCNNConfig
from asegraph.models.checkpoint import save_model
from asegraph.models.ensemble import Ensemble
from asegraph.models.inference import model_batch, model_graphs


def member(seed, readout="site", **overrides):
    config = CGCNNConfig(
        targets=["energy_per_atom"],
        units=["eV/atom"],
        atom_features="embedding",
        atom_dim=8,
        n_conv=1,
        hidden_dim=8,
        readout=readout,
        **overrides,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return CGCNN(config).eval()


@pytest.fixture
def batch_and_members():
    members = [member(s) for s in range(3)]
    structures = [bulk("NaCl", "rocksalt", a=5.6), bulk("Cu", "fcc", a=3.6, cubic=True)]
    graphs = model_graphs(members[0], structures, errors="raise")
    return model_batch(members[0], graphs), members


def test_statistics_over_members(batch_and_members):
    batch, members = batch_and_members
    ensemble = Ensemble(members).eval()
    with torch.no_grad():
        out = ensemble(batch)
        ys = torch.stack([m(batch)["y"] for m in members])
        sites = torch.stack([m(batch)["site"] for m in members])
    assert out["y_members"].shape == (3, 2, 1) and out["site_members"].shape == (3, 6, 1)
    torch.testing.assert_close(out["y_members"], ys)
    torch.testing.assert_close(out["y"], ys.mean(0))
    torch.testing.assert_close(out["y_std"], torch.from_numpy(ys.numpy().std(0)))
    torch.testing.assert_close(out["site"], sites.mean(0))
    assert (out["y_std"] > 0).all()
    assert len(ensemble) == 3 and ensemble.config is members[0].config


def test_one_file_round_trip_loads_with_weights_only(tmp_path, batch_and_members):
    batch, members = batch_and_members
    ensemble = Ensemble(members, metadata={"seed": 4})
    path = ensemble.save(tmp_path / "ensemble.pt")
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "asegraph.ensemble" and len(payload["members"]) == 3
    loaded = Ensemble.load(path)
    assert loaded.metadata == {"seed": 4}
    with torch.no_grad():
        torch.testing.assert_close(loaded(batch)["y_members"], ensemble(batch)["y_members"])


def test_folder_of_member_files(tmp_path, batch_and_members):
    batch, members = batch_and_members
    for k, m in enumerate(members):
        save_model(m, tmp_path / f"member_{k}.pt")
    loaded = Ensemble.load(tmp_path)
    with torch.no_grad():
        np.testing.assert_allclose(
            loaded(batch)["y"].numpy(), Ensemble(members)(batch)["y"].numpy()
        )


def test_bad_ensembles_and_files(tmp_path):
    with pytest.raises(ParameterError, match="at least one member"):
        Ensemble([])
    with pytest.raises(ParameterError, match="member 1 is a str, expected a CGCNN"):
        Ensemble([member(0), "model.pt"])
    with pytest.raises(ParameterError, match="member 1 has cutoff=6.0 but member 0 has 8.0"):
        Ensemble([member(0), member(1, cutoff=6.0)])
    with pytest.raises(ParameterError, match="member 1 has readout='pool'"):
        Ensemble([member(0), member(1, readout="pool")])
    with pytest.raises(FileNotFoundError, match="has no \\*.pt model files"):
        Ensemble.load(tmp_path)
    save_model(member(0), tmp_path / "single.pt")
    with pytest.raises(ModelFileError, match="is not an asegraph ensemble"):
        Ensemble.load(tmp_path / "single.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ModelFileError, match="could not be read safely"):
        Ensemble.load(tmp_path / "junk.pt")
