"""A/B sites by coordination, site-energy tables and the ABX3 search."""

from __future__ import annotations

import numpy as np
import pytest
from interpret_models import perovskite

from asegraph.analysis.interpret.search import count_found, formula, parse_formula
from asegraph.analysis.interpret.sites import (
    environment_energies,
    perovskite_sites,
    site_energy_table,
)
from asegraph.exceptions import ParameterError
from asegraph.graph.crystal_graph import build_graphs


def test_a_and_b_sites_are_found_by_coordination_not_order():
    cell = perovskite("Sr", "Ti")  # A listed last
    shuffled = cell[[4, 1, 0, 3, 2]]  # A first, B in the middle
    graphs = build_graphs([cell, shuffled, cell.repeat((2, 1, 1))], cutoff=8.0, max_neighbors=12)
    labels = perovskite_sites(graphs)
    assert labels[0] == ["B", "X", "X", "X", "A"]
    assert labels[1] == ["A", "X", "B", "X", "X"]
    assert labels[2] == ["B", "X", "X", "X", "A"] * 2
    from ase.build import bulk

    assert perovskite_sites(build_graphs([bulk("NaCl", "rocksalt", a=5.6)]))[0] is None


def test_site_energy_table_and_environment_energies():
    table = site_energy_table(
        ["Sr", "Ti", "O", "Sr"], ["A", "B", "X", None], np.array([1, 2, 3, 9.0])
    )
    assert table["A"]["Sr"] == {"mean": 1.0, "std": 0.0, "count": 1}
    assert set(table) == {"A", "B", "X"}
    pairs = environment_energies(
        ["Ti", "Ti"], [["O"] * 6, ["O"] * 3 + ["N"] * 3], np.array([1.0, 3.0])
    )
    assert pairs[("Ti", "O")] == {
        "mean": pytest.approx(1.0 * 1 / 1.5 + 3.0 * 0.5 / 1.5),
        "weight": 1.5,
        "pure": 1,
    }
    assert pairs[("Ti", "N")]["mean"] == 3.0


def test_formulas_written_and_read_as_in_table_3_1():
    assert formula("Tl", "Ta", ["N", "F", "O"]) == "TlTaOFN"
    assert formula("Pb", "Ti", ["O"] * 3) == "PbTiO3"
    assert parse_formula("TlTaO2F") == ("Tl", "Ta", ("F", "O", "O"))
    ranked = [{"a_site": "Pb", "b_site": "Ti", "anions": ["O", "O", "O"]}]
    assert count_found(ranked, ["PbTiO3", "TiPbO3"], 30) == ["PbTiO3"]
    with pytest.raises(ParameterError, match="not written A B X3"):
        parse_formula("Pb2TiO3")
