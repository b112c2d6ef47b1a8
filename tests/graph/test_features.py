from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from asegraph.exceptions import InputFileError
from asegraph.graph.features import AtomFeatureTable, GaussianDistance


def test_gaussian_distance_matches_eq_2_2():
    expansion = GaussianDistance()
    assert expansion.n_features == 41
    d = torch.tensor([0.0, 1.0, 3.3], dtype=torch.float64)
    u = expansion(d)
    mu = 0.2 * np.arange(41)
    expected = np.exp(-((d.numpy()[:, None] - mu) ** 2) / 0.2**2)
    # atol: values below sqrt(smallest normal float64) ~ 1e-154 are raised to it, see below
    np.testing.assert_allclose(u.numpy(), expected, rtol=1e-12, atol=1e-150)
    assert GaussianDistance(0.0, 6.0, 0.5, 0.5).n_features == 13


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_gaussian_distance_has_no_denormals(dtype, requires_grad):
    """Far tails are clamped at sqrt(smallest normal float) (exp and matmul are ~10x slower on
    denormals); the values stay those of Eq. 2.2 within float precision, gradients too."""
    d = torch.linspace(0.0, 8.0, 97, dtype=dtype).requires_grad_(requires_grad)
    expansion = GaussianDistance()
    u = expansion(d)
    mu = expansion.centres.to(dtype)
    d_exact = d.detach().clone().requires_grad_(requires_grad)
    exact = torch.exp(-((d_exact[:, None] - mu) ** 2) / 0.2**2)  # Eq. 2.2 as written
    floor = torch.finfo(dtype).tiny ** 0.5
    assert float(u.min()) >= 0.99 * floor and float(exact.min()) < floor  # tails clamped
    torch.testing.assert_close(u, exact, atol=1.01 * floor, rtol=torch.finfo(dtype).eps * 4)
    if requires_grad:
        u.sum().backward()
        exact.sum().backward()
        torch.testing.assert_close(d.grad, d_exact.grad)


def test_gaussian_distance_rejects_bad_settings():
    with pytest.raises(ValueError, match="needs stop > start and positive step"):
        GaussianDistance(0.0, 8.0, -0.2)


def test_table21_is_one_hot_per_property():
    table = AtomFeatureTable.table21()
    assert table.table.shape == (101, 93)
    blocks = np.cumsum([0, 18, 9, 10, 10, 12, 10, 10, 4, 10])
    # exactly one bit per property for every element, except where pymatgen has no value:
    # noble gases He, Ne, Ar have no electronegativity (block 2); At, Fr, Fm miss the last one
    missing = {2: {2}, 10: {2}, 18: {2}, 85: {8}, 87: {8}, 100: {8}}
    assert set(np.unique(table.table)) == {0.0, 1.0}
    for z in range(1, 101):
        sums = [table.table[z, a:b].sum() for a, b in zip(blocks[:-1], blocks[1:])]
        expected = [0.0 if k in missing.get(z, ()) else 1.0 for k in range(len(sums))]
        assert sums == expected, (z, sums)
    iron = table.table[26]
    assert iron[7] == 1.0  # group 8
    assert iron[18 + 3] == 1.0  # period 4
    assert iron[blocks[8] - 4 + 2] == 1.0  # d block


def test_atom_init_round_trip(tmp_path):
    path = tmp_path / "atom_init.json"
    path.write_text(json.dumps({"1": [1, 0, 0], "8": [0, 1, 0.5]}))
    table = AtomFeatureTable.from_atom_init(path)
    assert table.n_features == 3 and table.known[[1, 8]].all() and not table.known[2]
    np.testing.assert_array_equal(table.table[8], [0, 1, 0.5])


def test_atom_init_bad_file(tmp_path):
    path = tmp_path / "atom_init.json"
    path.write_text("{not json")
    with pytest.raises(
        InputFileError, match=r"atom feature file '.*atom_init.json': expected a JSON object"
    ):
        AtomFeatureTable.from_atom_init(path)
    path.write_text(json.dumps({"1": [1, 0], "2": [1]}))
    with pytest.raises(InputFileError, match="equal-length feature lists"):
        AtomFeatureTable.from_atom_init(path)
