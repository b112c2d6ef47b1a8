"""Local environments: CrystalNN coordination, order parameters, maps and projection."""

from __future__ import annotations

import numpy as np
import pytest
from interpret_models import perovskite

from asegraph.analysis.interpret.environments import (
    coordination,
    environment_map,
    project,
    sample_atoms,
)
from asegraph.exceptions import ParameterError


def test_octahedral_b_site_in_a_cubic_perovskite():
    """B (atom 0) has 6 O at a/2 through periodic images of a 5-atom cell: oct = 1."""
    cell = perovskite("Sr", "Ti", a=3.9)
    cache: dict = {}
    first = coordination([cell], [(0, 0), (0, 4)], progress=False, cache=cache)
    assert first["cn"][0] == 6 and sorted(set(first["neighbors"][0])) == ["O"]
    assert first["oct"][0] == pytest.approx(1.0, abs=1e-6)
    assert first["tet"][0] < 0.2
    again = coordination([cell], [(0, 4), (0, 0)], progress=False, cache=cache)
    assert again["cn"].tolist() == first["cn"][::-1].tolist()  # served from the cache
    np.testing.assert_allclose(again["oct"], first["oct"][::-1])


def test_projection_puts_copies_of_reference_points_on_their_place():
    rng = np.random.default_rng(0)
    vectors = np.vstack([rng.normal(0, 0.1, (10, 6)), rng.normal(5, 0.1, (10, 6))])
    coords = environment_map(vectors, seed=0, perplexity=5)
    # two clusters in vector space stay apart in the map
    gap = np.linalg.norm(coords[:10].mean(0) - coords[10:].mean(0))
    assert gap > 3 * coords[:10].std(0).max()
    placed = project(vectors, coords, vectors[[3, 15]])
    np.testing.assert_allclose(placed, coords[[3, 15]], atol=1e-9)


def test_bad_environment_input():
    with pytest.raises(ParameterError, match="element 'Xe' has no atoms"):
        sample_atoms(np.array(["O", "Ti"]), "Xe", 10)
    with pytest.raises(ParameterError, match="at least 4 atom vectors"):
        environment_map(np.zeros((3, 2)))
    with pytest.raises(ParameterError, match="do not match"):
        project(np.zeros((5, 3)), np.zeros((5, 2)), np.zeros((2, 4)))


def test_atoms_all_in_one_environment_map_to_one_point_instead_of_crashing():
    """Identical vectors (every O of identical cubic cells) crashed scikit-learn's t-SNE."""
    vectors = np.tile(np.linspace(-1.0, 1.0, 16), (8, 1))
    vectors[3] += 1e-13  # rounding noise is still one environment
    np.testing.assert_array_equal(environment_map(vectors), np.zeros((8, 2)))
    placed = project(vectors, np.zeros((8, 2)), vectors[:2] + 0.5)
    np.testing.assert_array_equal(placed, np.zeros((2, 2)))
