"""A/B sites by coordination, site-energy tables and the ABX3 search."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from interpret_models import perovskite

from asegraph.analysis.interpret.search import (
    count_found,
    formula,
    parse_formula,
    perovskite_search,
)
from asegraph.analysis.interpret.sites import (
    environment_energies,
    perovskite_sites,
    site_classes,
    site_energy_table,
    wyckoff_sites,
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


def spinel(cation: str = "Fe") -> Atoms:
    """Fe3O4-type spinel (Fd-3m, origin 2): cation on 8a (tetrahedral) and 16d (octahedral)."""
    from ase.spacegroup import crystal

    basis = [(0.125, 0.125, 0.125), (0.5, 0.5, 0.5), (0.26, 0.26, 0.26)]
    return crystal([cation, cation, "O"], basis, spacegroup=227, setting=2, cellpar=8.4)


def test_wyckoff_classes_follow_symmetry_not_cell_origin_or_atom_order():
    from ase.build import bulk

    fe3o4 = spinel()
    labels = wyckoff_sites([fe3o4])[0]
    fe = [lab for lab, s in zip(labels, fe3o4.get_chemical_symbols()) if s == "Fe"]
    o = {lab for lab, s in zip(labels, fe3o4.get_chemical_symbols()) if s == "O"}
    # one element, two Wyckoff classes: 8 tetrahedral and 16 octahedral Fe
    assert sorted(set(fe)) == ["Fd-3m 16 .-3m", "Fd-3m 8 -43m"]
    assert fe.count("Fd-3m 8 -43m") == 8 and fe.count("Fd-3m 16 .-3m") == 16
    assert o == {"Fd-3m 32 .3m"}
    # same classes for a translated, reordered copy (the letter 8a/8b would flip)
    moved = fe3o4.copy()
    moved.translate([0.7, 1.3, 0.2])
    moved.wrap()
    order = np.random.default_rng(0).permutation(len(moved))
    assert wyckoff_sites([moved[order]])[0] == [labels[k] for k in order]
    # primitive cell, conventional cell and supercell of diamond: one class
    diamond = [bulk("C", "diamond", a=3.57), bulk("C", "diamond", a=3.57, cubic=True)]
    diamond.append(diamond[0].repeat((2, 1, 1)))
    assert {lab for cell in wyckoff_sites(diamond) for lab in cell} == {"Fd-3m 8 -43m"}


def test_site_classes_keep_perovskite_names_and_give_others_wyckoff_classes():
    from ase.build import bulk

    structures = [perovskite("Sr", "Ti"), bulk("NaCl", "rocksalt", a=5.64)]
    classes = site_classes(structures, build_graphs(structures, cutoff=8.0, max_neighbors=12))
    assert classes.tolist() == ["B", "X", "X", "X", "A", "Fm-3m 4 m-3m", "Fm-3m 4 m-3m"]
    table = site_energy_table(["Ti", "O", "O", "O", "Sr", "Na", "Cl"], classes, np.arange(7.0))
    assert table["Fm-3m 4 m-3m"] == {
        "Cl": {"mean": 6.0, "std": 0.0, "count": 1},
        "Na": {"mean": 5.0, "std": 0.0, "count": 1},
    }


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


def test_search_scales_the_prototype_cell_by_the_atomic_volumes():
    from interpret_models import make_model
    from pymatgen.core.periodic_table import Element

    structures = [perovskite("Pb", "Ti", a=3.97), perovskite("Sn", "Zr", a=4.1)]
    labels = perovskite_sites(build_graphs(structures, cutoff=8.0, max_neighbors=12))
    model = make_model("site")
    ranked = perovskite_search(model, structures, labels, ["pt", "sz"])
    plain = perovskite_search(model, structures, labels, ["pt", "sz"], rescale=False)
    by_formula = {c["formula"]: c for c in ranked}
    assert set(by_formula) == {"PbTiO3", "PbZrO3", "SnTiO3", "SnZrO3"}
    assert by_formula["PbTiO3"]["scale"] == 1.0 and by_formula["PbTiO3"]["in_dataset"] == "pt"

    def volume(*symbols):
        return sum(Element(s).atomic_radius ** 3 for s in symbols + ("O",) * 3)

    for name, candidate in by_formula.items():
        proto = {"pt": ("Pb", "Ti"), "sz": ("Sn", "Zr")}[candidate["prototype"]]
        new = (candidate["a_site"], candidate["b_site"])
        expected = (volume(*new) / volume(*proto)) ** (1 / 3)
        assert candidate["scale"] == pytest.approx(expected, rel=1e-12), name
    assert by_formula["SnTiO3"]["scale"] != 1.0
    # a scaled cell is a different input: the prediction moves; unscaled: scale 1
    unscaled = {c["formula"]: c for c in plain}
    assert all(c["scale"] == 1.0 for c in plain)
    changed = by_formula["SnTiO3"]["prototype"]
    assert changed in ("pt", "sz")
    assert by_formula["SnTiO3"]["predicted"] != unscaled["SnTiO3"]["predicted"]
