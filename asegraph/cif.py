"""CIF text to :class:`ase.Atoms`, fast for the P1 files that datasets are made of.

Generated datasets (Materials Project dumps, perov_5, carbon_24, ...) store
every structure as a P1 CIF: the atoms are listed explicitly and the only
symmetry operation is the identity. For those, gemmi's C++ CIF reader gives
cell and coordinates about 80x faster than pymatgen's parser. Anything else —
other space groups (whose operations must be applied and duplicates merged),
partial occupancies, missing type symbols — goes through pymatgen, the
reference reader of the original CGCNN.

Note that pymatgen rounds fractional coordinates within ~1e-4 of simple
fractions (0.3333 -> 1/3) and gemmi does not; the difference moves positions
by at most ~1e-4 Å.
"""

from __future__ import annotations

import warnings

import numpy as np
from ase import Atoms

from asegraph.exceptions import InputFileError
from asegraph.graph.structures import to_atoms


def read_cif_text(text: str) -> Atoms:
    """Parse one CIF data block (text) into Atoms.

    Raises whatever the underlying parser raises for an unreadable file; the
    callers turn that into a per-entry error.
    """
    atoms = _read_p1_with_gemmi(text)
    if atoms is not None:
        return atoms
    from pymatgen.io.cif import CifParser

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return to_atoms(CifParser.from_str(text).parse_structures(primitive=False)[0])
    except Exception as exc:
        explained = explain_cif_error(text)
        if explained is None:
            raise
        raise InputFileError(explained) from exc


def explain_cif_error(text: str) -> str | None:
    """Say what is wrong with a CIF pymatgen refused ("no structures", ...), or None.

    pymatgen's own messages ("Invalid CIF file with no structures!", "integer
    modulo by zero") name neither the cause nor the fix; the two common
    causes are a file without atom sites and two sites at one position.
    """
    try:
        import gemmi

        small = gemmi.make_small_structure_from_block(gemmi.cif.read_string(text).sole_block())
    except Exception:  # noqa: BLE001 - not even gemmi can read it: keep pymatgen's message
        return None
    if not small.sites:
        return (
            "the CIF has no atoms (no _atom_site_ loop with fractional coordinates); "
            "add the atom sites"
        )
    fract = np.array([site.fract.tolist() for site in small.sites]) % 1.0
    for i in range(len(fract)):
        delta = fract[i + 1 :] - fract[i]
        delta -= np.round(delta)  # periodic images are the same site
        same = np.flatnonzero(np.abs(delta).max(axis=1) < 1e-4)
        if len(same):
            j = i + 1 + int(same[0])
            where = ", ".join(f"{x:.4f}" for x in fract[i])
            return (
                f"the CIF has two atoms on one site: {small.sites[i].label} and "
                f"{small.sites[j].label} at fractional ({where}); remove the duplicated site "
                "(or give both partial occupancies)"
            )
    return None


def _read_p1_with_gemmi(text: str) -> Atoms | None:
    """Atoms for an ordered P1 CIF, else None (so the caller falls back)."""
    try:
        import gemmi
    except ImportError:  # gemmi is optional: pymatgen reads everything
        return None
    try:
        block = gemmi.cif.read_string(text).sole_block()
        small = gemmi.make_small_structure_from_block(block)
    except (RuntimeError, ValueError):
        return None
    identity = gemmi.Op("x,y,z")
    operations = [gemmi.Op(op) for op in small.symops] if small.symops else []
    if any(op != identity for op in operations) or len(operations) > 1 or not small.sites:
        return None
    if not operations and small.spacegroup_hm.replace(" ", "") not in ("P1", ""):
        return None
    sites = small.sites
    if any(site.occ != 1.0 or site.element.atomic_number == 0 for site in sites):
        return None
    cell = np.array(small.cell.orth.mat.tolist()).T  # rows are lattice vectors, Å
    fractional = np.array([site.fract.tolist() for site in sites])
    numbers = [site.element.atomic_number for site in sites]
    return Atoms(numbers=numbers, scaled_positions=fractional, cell=cell, pbc=True)
