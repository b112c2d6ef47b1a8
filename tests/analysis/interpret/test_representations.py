"""Representations: site values average to the output; invariance to atom order and cell."""

from __future__ import annotations

import numpy as np
import pytest

from asegraph.analysis.interpret import representations, site_values
from asegraph.exceptions import ParameterError


def test_site_values_average_exactly_to_the_prediction(site_model, perovskites):
    ds = representations(site_model, perovskites, progress=False)
    site = site_values(ds)
    means = np.bincount(ds["structure_index"].values, weights=site) / ds["n_atoms"].values
    np.testing.assert_allclose(means, ds["prediction"].values[:, 0], rtol=0, atol=1e-12)
    assert np.ptp(site) > 1e-3  # the site values are not all the same number
    assert ds["atom_vector"].shape == (20, 3, 16)  # atoms, layers (v^(0) + 2 convs), features


def test_layer_zero_is_the_element_embedding(site_model, perovskites):
    ds = representations(site_model, perovskites, progress=False)
    for symbol in ["O", "Ti", "La"]:
        atoms = ds["atom_vector"].isel(layer=0).where(ds["symbol"] == symbol, drop=True)
        expected = ds["element_embedding"].sel(element=symbol).values
        np.testing.assert_allclose(atoms.values, np.broadcast_to(expected, atoms.shape))


def test_invariant_to_atom_order(site_model, perovskites):
    rng = np.random.default_rng(0)
    shuffled = []
    orders = []
    for atoms in perovskites:
        order = rng.permutation(len(atoms))
        orders.append(order)
        shuffled.append(atoms[order])
    ds = representations(site_model, perovskites, progress=False)
    ds2 = representations(site_model, shuffled, progress=False)
    np.testing.assert_allclose(ds2["prediction"], ds["prediction"], atol=1e-12)
    np.testing.assert_allclose(ds2["crystal_embedding"], ds["crystal_embedding"], atol=1e-12)
    start = 0
    for atoms, order in zip(perovskites, orders):
        index = start + order
        sl = slice(start, start + len(atoms))
        np.testing.assert_allclose(ds2["atom_vector"][sl], ds["atom_vector"][index], atol=1e-12)
        np.testing.assert_allclose(ds2["site_value"][sl], ds["site_value"][index], atol=1e-12)
        start += len(atoms)


def test_invariant_to_the_choice_of_unit_cell(site_model, perovskites):
    """A 2x1x2 supercell gives every copy of an atom the same vectors and site value."""
    cell = perovskites[0]
    ds = representations(site_model, [cell, cell.repeat((2, 1, 2))], progress=False)
    np.testing.assert_allclose(ds["prediction"][1], ds["prediction"][0], atol=1e-12)
    np.testing.assert_allclose(ds["crystal_embedding"][1], ds["crystal_embedding"][0], atol=1e-12)
    one = ds["atom_vector"].values[:5]
    many = ds["atom_vector"].values[5:].reshape(4, 5, *one.shape[1:])  # repeat() tiles the cell
    np.testing.assert_allclose(many, np.broadcast_to(one, many.shape), atol=1e-12)
    site = ds["site_value"].values[:, 0]
    np.testing.assert_allclose(
        site[5:].reshape(4, 5), np.broadcast_to(site[:5], (4, 5)), atol=1e-12
    )


def test_pool_model_gives_embeddings_but_no_site_values(pool_model, perovskites):
    ds = representations(pool_model, perovskites, progress=False)
    assert ds["element_embedding"].shape == (9, 16)  # Sr Ti O Ba Zr Pb La Al N
    assert "crystal_hidden" in ds and "site_value" not in ds
    with pytest.raises(ParameterError, match="readout='pool'.*no site value.*--readout site"):
        site_values(ds)


def test_coordinates_name_structures_and_atoms(site_model, perovskites):
    names = ["a", "b", "c", "d"]
    ds = representations(site_model, perovskites, names=names, progress=False)
    assert list(ds["structure"].values) == names
    assert ds["formula"].values[3] == "AlLaNO2"
    assert list(ds["structure_index"].values[:6]) == [0, 0, 0, 0, 0, 1]
    assert ds["element"].values.tolist() == ["N", "O", "Al", "Ti", "Sr", "Zr", "Ba", "La", "Pb"]


def test_bad_input_is_named(site_model, perovskites):
    with pytest.raises(ParameterError, match="got 1 names for 4 structures"):
        representations(site_model, perovskites, names=["x"], progress=False)
    with pytest.raises(ParameterError, match="single CGCNN"):
        representations(object(), perovskites, progress=False)
