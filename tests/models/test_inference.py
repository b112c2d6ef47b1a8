"""predict_graphs: the one batched prediction path, ensemble members included."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

from asegraph.exceptions import ParameterError
from asegraph.models import CGCNN, CGCNNConfig, Ensemble, model_graphs, predict_graphs


def _member(seed: int) -> CGCNN:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = CGCNN(CGCNNConfig(n_conv=1, atom_dim=8, hidden_dim=8, readout="site"))
    model.set_normalizer([1.0], [2.0])
    return model.eval()


def test_ensemble_members_batched_equal_each_member_alone():
    members = [_member(0), _member(1), _member(2)]
    ensemble = Ensemble(members)
    frames = [bulk("NaCl", "rocksalt", a=5.6), bulk("Cu", "fcc", a=3.6), bulk("Si", a=5.43)]
    graphs = model_graphs(ensemble, frames)
    out = predict_graphs(ensemble, graphs, batch_size=2)
    alone = np.stack([predict_graphs(m, graphs, batch_size=1)["y"] for m in members])
    assert out["y_members"].shape == (3, 3, 1)
    np.testing.assert_allclose(out["y_members"], alone, rtol=1e-6)
    np.testing.assert_allclose(out["y"], alone.mean(0), rtol=1e-6)
    np.testing.assert_allclose(out["y_std"], alone.std(0), rtol=1e-5, atol=1e-7)
    assert [s.shape for s in out["site"]] == [(2, 1), (1, 1), (2, 1)]
    assert len(out["site_std"]) == 3


def test_no_graphs_give_empty_arrays_with_the_same_keys():
    out = predict_graphs(Ensemble([_member(0), _member(1)]), [])
    assert out["y"].shape == (0, 1) and out["y_std"].shape == (0, 1)
    assert out["y_members"].shape == (2, 0, 1)


def test_bad_batch_size():
    with pytest.raises(ParameterError, match="batch_size must be a positive integer, got 0"):
        predict_graphs(_member(0), [], batch_size=0)
