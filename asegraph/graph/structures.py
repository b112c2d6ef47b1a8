"""Turn user structures into validated :class:`ase.Atoms`.

Every public graph builder calls :func:`to_atoms` first, so a structure is
checked once, at the boundary, and every message names the structure.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from asegraph.exceptions import StructureError

#: Largest atomic number with a name in ASE's table.
MAX_ATOMIC_NUMBER = len(chemical_symbols) - 1


def structure_name(structure: Any, name: str | None = None) -> str:
    """A short label for messages: ``name`` if given, else the chemical formula."""
    if name is not None:
        return str(name)
    try:
        return str(structure.get_chemical_formula())
    except AttributeError:
        formula = getattr(structure, "formula", None)
        return str(formula).replace(" ", "") if formula is not None else "<structure>"


def to_atoms(structure: Any, name: str | None = None) -> Atoms:
    """Convert and validate a structure.

    Parameters
    ----------
    structure : ase.Atoms | pymatgen.core.Structure | pymatgen.core.Molecule
        The input. pymatgen objects are converted with ``AseAtomsAdaptor``;
        a ``Molecule`` becomes a non-periodic :class:`ase.Atoms`.
    name : str, optional
        Label used in error messages (a file name or an id).

    Returns
    -------
    ase.Atoms
        The structure (the input object itself when it already is an ``Atoms``).

    Raises
    ------
    StructureError
        Empty structure, NaN/inf positions or cell, unknown atomic numbers, or
        a singular cell along a periodic direction.
    """
    if isinstance(structure, Atoms):
        atoms = structure
    else:
        atoms = _from_pymatgen(structure, structure_name(structure, name))
    if not _looks_valid(atoms):  # the fast path; the slow one says what is wrong
        _validate(atoms, structure_name(structure, name))
    return atoms


def _looks_valid(atoms: Atoms) -> bool:
    """The cheap checks (True: nothing to report); :func:`_validate` says what is wrong.

    Written for one small cell per call (the calculator, MD), where numpy's
    per-call overhead dominates: one reduction per array, the 3x3 cell in
    plain Python. A sum is finite only when every term is (a sum that
    overflows just takes the slow path, which finds nothing).
    """
    numbers, positions = atoms.numbers, atoms.positions
    if len(numbers) <= 16:  # plain Python is faster on a few atoms
        numbers = numbers.tolist()
        if not numbers or min(numbers) < 1 or max(numbers) > MAX_ATOMIC_NUMBER:
            return False
        total = sum(positions.ravel().tolist())
    elif numbers.min() < 1 or numbers.max() > MAX_ATOMIC_NUMBER:
        return False
    else:
        total = np.add.reduce(positions, axis=None)
    (a1, a2, a3), (b1, b2, b3), (c1, c2, c3) = atoms.cell.array.tolist()
    if not math.isfinite(total + a1 + a2 + a3 + b1 + b2 + b3 + c1 + c2 + c3):
        return False
    pbc = atoms.pbc.tolist()
    if all(pbc):
        # numpy's det costs more than a small cell's graph
        scale = max(abs(a1), abs(a2), abs(a3), abs(b1), abs(b2), abs(b3), abs(c1), abs(c2), abs(c3))
        det = a1 * (b2 * c3 - b3 * c2) - a2 * (b1 * c3 - b3 * c1) + a3 * (b1 * c2 - b2 * c1)
        return scale > 0 and abs(det) > 1e-6 * scale**3
    return not any(pbc)


def _from_pymatgen(structure: Any, label: str) -> Atoms:
    try:
        from pymatgen.core import IStructure, Molecule, Structure
    except ImportError:  # pragma: no cover - pymatgen is a dependency
        Structure = IStructure = Molecule = ()  # type: ignore[assignment]
    if not isinstance(structure, (Structure, IStructure, Molecule)):
        raise StructureError(
            f"structure {label!r}: expected ase.Atoms or a pymatgen Structure/Molecule, "
            f"got {type(structure).__name__}; read files with ase.io.read or Structure.from_file"
        )
    if len(structure) == 0:
        raise StructureError(f"structure {label!r} is empty: it has no atoms; check the input")
    if not structure.is_ordered:
        raise StructureError(
            f"structure {label!r} has partially occupied sites; a crystal graph needs one element "
            "per site — order it first (e.g. pymatgen's OrderDisorderedStructureTransformation)"
        )
    # Built directly (not with AseAtomsAdaptor, which also copies site properties
    # and costs ~1 ms): only numbers, positions, cell and pbc matter here.
    numbers = [site.specie.Z for site in structure]
    if isinstance(structure, Molecule):
        return Atoms(numbers=numbers, positions=structure.cart_coords, pbc=False)
    lattice = structure.lattice
    return Atoms(
        numbers=numbers, positions=structure.cart_coords, cell=lattice.matrix, pbc=lattice.pbc
    )


def _validate(atoms: Atoms, label: str) -> None:
    if len(atoms) == 0:
        raise StructureError(f"structure {label!r} is empty: it has no atoms; check the input")
    positions = atoms.positions
    bad = ~np.isfinite(positions).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise StructureError(
            f"structure {label!r}: atom {first} ({atoms[first].symbol}) has a NaN or infinite "
            f"position {positions[first].tolist()}; fix the coordinates"
        )
    numbers = atoms.numbers
    unknown = (numbers < 1) | (numbers > MAX_ATOMIC_NUMBER)
    if unknown.any():
        first = int(np.flatnonzero(unknown)[0])
        raise StructureError(
            f"structure {label!r}: atom {first} has atomic number {int(numbers[first])}, which "
            f"is not an element (expected 1..{MAX_ATOMIC_NUMBER}); fix the species"
        )
    cell = atoms.cell.array
    if not np.isfinite(cell).all():
        raise StructureError(f"structure {label!r}: the cell has NaN or infinite entries; fix it")
    pbc = atoms.pbc
    if pbc.any():
        vectors = cell[pbc]
        gram = vectors @ vectors.T
        scale = max(float(np.max(np.abs(vectors))), 1e-300)
        if np.linalg.det(gram) <= (1e-6 * scale**2) ** len(vectors):
            raise StructureError(
                f"structure {label!r}: the cell vectors along periodic directions "
                f"{np.flatnonzero(pbc).tolist()} are zero or linearly dependent "
                f"(cell={cell.round(4).tolist()}); set a proper cell or pbc=False for those axes"
            )
