"""Bad structures get a clear error that names the structure and the fix."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from asegraph.exceptions import ParameterError, StructureError
from asegraph.graph.crystal_graph import build_graph, build_graphs


def test_isolated_atom_names_the_atom_and_the_fix():
    atoms = Atoms("NaCl", positions=[[0, 0, 0], [20, 0, 0]], cell=[40, 40, 40], pbc=False)
    with pytest.raises(
        StructureError,
        match=r"'NaCl-gas': atom 0 \(Na\) has no neighbour within cutoff=8 Å; raise cutoff",
    ):
        build_graph(atoms, name="NaCl-gas")


@pytest.mark.parametrize("n_atoms", [2, 40])  # the small-cell search and the general one
def test_isolated_atom_in_a_periodic_cell(n_atoms):
    positions = [[0, 0, 0]] + [[10 + 0.3 * k, 10, 10] for k in range(n_atoms - 1)]
    atoms = Atoms(f"NaCl{n_atoms - 1}", positions=positions, cell=[20, 20, 20], pbc=True)
    with pytest.raises(
        StructureError, match=r"'box': atom 0 \(Na\) has no neighbour within cutoff=8 Å"
    ):
        build_graph(atoms, name="box")


@pytest.mark.parametrize("n_atoms", [3, 40])
def test_overlapping_atoms_are_reported_before_an_isolated_atom(n_atoms):
    positions = [[10 + 0.3 * k, 10, 10] for k in range(n_atoms - 1)] + [[0, 0, 0]]
    positions[1] = [10.05, 10, 10]
    atoms = Atoms(f"Cu{n_atoms}", positions=positions, cell=[20, 20, 20], pbc=True)
    with pytest.raises(StructureError, match=r"atoms 0 \(Cu\) and 1 \(Cu\) are 0.05 Å apart"):
        build_graph(atoms, name="box")


def test_nan_position():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.positions[2, 1] = np.nan
    with pytest.raises(
        StructureError, match=r"'bad.cif': atom 2 \(Cu\) has a NaN or infinite position"
    ):
        build_graph(atoms, name="bad.cif")


def test_infinite_position():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.positions[0, 0] = np.inf
    with pytest.raises(StructureError, match="NaN or infinite position"):
        build_graph(atoms)


def test_singular_cell_with_pbc():
    atoms = Atoms(
        "Cu2", positions=[[0, 0, 0], [1.8, 0, 0]], cell=[[3, 0, 0], [6, 0, 0], [0, 0, 3]], pbc=True
    )
    with pytest.raises(
        StructureError, match=r"zero or linearly dependent.*set a proper cell or pbc=False"
    ):
        build_graph(atoms, name="flat")


def test_zero_cell_with_pbc():
    atoms = Atoms("Cu", positions=[[0, 0, 0]], pbc=True)
    with pytest.raises(StructureError, match="'Cu': the cell vectors along periodic directions"):
        build_graph(atoms)


def test_overlapping_atoms():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.positions[1] = atoms.positions[0] + [0.05, 0, 0]
    with pytest.raises(
        StructureError,
        match=r"atoms 0 \(Cu\) and 1 \(Cu\) are 0.05 Å apart \(closer than 0.1 Å\); remove duplicated",
    ):
        build_graph(atoms, name="dup")


@pytest.mark.parametrize(
    "pbc,other",
    [
        (True, [0.0, 0.0, 0.0]),  # the very same position
        (False, [0.0, 0.0, 0.0]),  # a molecule
        (True, [3.6, 0.0, 3.6]),  # the same site through a periodic image
    ],
)
def test_atoms_at_exactly_one_position(pbc, other):
    # neighbour lists drop pairs at distance 0: accepted before (and predicted)
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.pbc = pbc
    atoms.positions[2] = other
    with pytest.raises(
        StructureError,
        match=r"'dup': atoms 0 \(Cu\) and 2 \(Cu\) are 0 Å apart \(closer than 0.1 Å\); remove dup",
    ):
        build_graph(atoms, name="dup")
    # the list path (predict, datasets) returns it in place
    (error,) = build_graphs([atoms], names=["dup"], errors="return")
    assert isinstance(error, StructureError) and "0 Å apart" in str(error)


def test_unknown_element():
    atoms = bulk("Cu", "fcc", a=3.6)
    atoms.numbers[0] = 0
    with pytest.raises(
        StructureError, match=r"atom 0 has atomic number 0, which is not an element"
    ):
        build_graph(atoms, name="x")


def test_empty_structure():
    with pytest.raises(StructureError, match=r"'nothing' is empty: it has no atoms"):
        build_graph(Atoms(), name="nothing")


def test_not_a_structure():
    with pytest.raises(
        StructureError, match=r"expected ase.Atoms or a pymatgen Structure/Molecule, got str"
    ):
        build_graph("POSCAR")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"cutoff": -1.0}, "cutoff must be a positive distance in Å, got -1.0"),
        ({"max_neighbors": 0}, "max_neighbors must be a positive integer, got 0"),
        ({"ties": "random"}, r"ties must be one of \('keep', 'truncate'\)"),
    ],
)
def test_bad_graph_settings(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        build_graph(bulk("Cu"), **kwargs)


def test_pymatgen_structure_and_molecule_are_accepted():
    from pymatgen.core import Lattice, Molecule, Structure

    structure = Structure(Lattice.cubic(4.2), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert build_graph(structure).n_atoms == 2
    molecule = Molecule(["O", "H", "H"], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    graph = build_graph(molecule)
    assert graph.n_edges == 6 and not graph.pbc.any()


def test_disordered_pymatgen_structure():
    from pymatgen.core import Lattice, Structure

    structure = Structure(
        Lattice.cubic(4.0), [{"Na": 0.5, "K": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    with pytest.raises(
        StructureError, match="partially occupied sites; a crystal graph needs one element"
    ):
        build_graph(structure, name="NaKCl")
