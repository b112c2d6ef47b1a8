"""Model files, the original-checkpoint importer and the pretrained registry."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from ase.build import bulk

from asegraph.exceptions import ModelFileError, ModelNotFoundError
from asegraph.models.cgcnn import CGCNN, CGCNNConfig
from asegraph.models.checkpoint import load_model, save_model
from asegraph.models.inference import model_graph, predict_graphs
from asegraph.models.loader import load
from asegraph.models.registry import ATOM_INIT, PRETRAINED, fetch, load_pretrained


def small_model(**overrides) -> CGCNN:
    torch.manual_seed(1)
    model = CGCNN(CGCNNConfig(n_conv=1, atom_dim=8, hidden_dim=8, **overrides)).eval()
    model.set_normalizer([0.5], [2.0])
    return model


def test_save_load_round_trip_is_exact(tmp_path):
    model = small_model(targets=["bulk_modulus"], units=["GPa"], target_transform=["log10"])
    path = save_model(model, tmp_path / "model.pt", metadata={"seed": 3})
    loaded = load_model(path)
    assert loaded.config == model.config and loaded.metadata == {"seed": 3}
    graphs = [model_graph(model, bulk("NaCl", "rocksalt", a=5.6))]
    np.testing.assert_array_equal(
        predict_graphs(loaded, graphs)["y"], predict_graphs(model, graphs)["y"]
    )
    # plain data only: loads with weights_only=True and no allowances
    payload = torch.load(path, weights_only=True)
    assert payload["config"]["ties"] == "keep" and payload["format"] == "asegraph.cgcnn"
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write leaves no temporary file


def test_embedding_model_round_trip(tmp_path):
    model = small_model(atom_features="embedding")
    loaded = load_model(save_model(model, tmp_path / "m.pt"))
    assert loaded.config.atom_features == "embedding"


def test_corrupt_model_file(tmp_path):
    path = tmp_path / "model.pt"
    save_model(small_model(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ModelFileError, match=r"model file '.*model.pt' could not be read safely .*corrupt"
    ):
        load_model(path)


def test_not_a_model_file(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"a": torch.zeros(2)}, path)
    with pytest.raises(ModelFileError, match="is not an asegraph model"):
        load_model(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file '.*nothing.pt' does not exist"):
        load_model(tmp_path / "nothing.pt")


def test_original_checkpoint_is_named_with_its_conversion(shared_cgcnn):
    path = shared_cgcnn / "pre-trained" / "band-gap.pth.tar"
    with pytest.raises(ModelFileError, match="original CGCNN checkpoint.*asegraph convert"):
        load_model(path)


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth.tar"
    torch.save({"state_dict": {}, "args": shutil.copy}, path)  # a function: not plain data
    with pytest.raises(ModelFileError, match="could not be read safely") as info:
        load(path, atom_init=path)
    # torch's first line advised weights_only=False, i.e. running the file's code
    assert "weights_only" not in str(info.value)
    assert "objects other than tensors and plain data" in str(info.value)


def test_registry_verifies_checksums(published_model_dir, tmp_path, monkeypatch):
    bad_dir = tmp_path / "models"
    bad_dir.mkdir()
    original = published_model_dir / "pre-trained" / "efermi.pth.tar"
    tampered = bytearray(original.read_bytes())
    tampered[-10] ^= 0xFF
    (bad_dir / "efermi.pth.tar").write_bytes(bytes(tampered))
    monkeypatch.setenv("ASEGRAPH_MODEL_DIR", str(bad_dir))
    with pytest.raises(
        ModelFileError,
        match=r"efermi.pth.tar' has SHA-256 .* expected .*delete it and download it again",
    ):
        load_pretrained("efermi")


def test_registry_offline_without_a_copy_says_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ASEGRAPH_MODEL_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("ASEGRAPH_OFFLINE", "1")
    with pytest.raises(
        ModelNotFoundError, match=r"band-gap.pth.tar is not on disk .*offline.*ASEGRAPH_MODEL_DIR"
    ):
        load_pretrained("band-gap")


def test_unknown_pretrained_name():
    with pytest.raises(
        ModelNotFoundError, match="unknown pretrained model 'bandgap'; available: formation"
    ):
        load_pretrained("bandgap")


def test_every_published_model_loads(published_model_dir):
    assert fetch(ATOM_INIT).name == "atom_init.json"
    for name in PRETRAINED:
        model = load_pretrained(name)
        assert model.config.ties == "truncate" and model.config.cutoff == 8.0
        assert model.metadata["pretrained_name"] == name
