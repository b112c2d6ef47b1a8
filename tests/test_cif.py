"""The fast P1 CIF path agrees with pymatgen; everything else falls back to it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase.build import bulk

from asegraph.cif import _read_p1_with_gemmi, read_cif_text
from asegraph.graph.crystal_graph import build_graph


def pymatgen_atoms(text):
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AseAtomsAdaptor.get_atoms(
            CifParser.from_str(text).parse_structures(primitive=False)[0]
        )


def p1_cif(atoms, tmp_path) -> str:
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.cif import CifWriter

    path = tmp_path / "s.cif"
    CifWriter(AseAtomsAdaptor.get_structure(atoms)).write_file(path)
    return path.read_text()


def test_p1_cif_read_fast_equals_pymatgen(tmp_path):
    pytest.importorskip("gemmi")
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.set_chemical_symbols(["Cu", "Au", "Cu", "Ag"])
    atoms.rattle(0.05, seed=1)
    atoms.set_cell(atoms.cell.array @ [[1, 0.1, 0], [0, 1, 0.05], [0, 0, 1]], scale_atoms=True)
    text = p1_cif(atoms, tmp_path)
    fast = _read_p1_with_gemmi(text)
    assert fast is not None
    reference = pymatgen_atoms(text)
    assert sorted(fast.numbers) == sorted(reference.numbers)
    a, b = build_graph(fast), build_graph(reference)
    np.testing.assert_allclose(np.sort(a.distances), np.sort(b.distances), atol=1e-4)


def test_symmetry_cifs_fall_back_to_pymatgen(tmp_path):
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.cif import CifWriter

    structure = AseAtomsAdaptor.get_structure(bulk("NaCl", "rocksalt", a=5.64, cubic=True))
    path = tmp_path / "nacl.cif"
    CifWriter(structure, symprec=0.01).write_file(path)  # Fm-3m with its operations
    text = path.read_text()
    assert "Fm-3m" in text.replace(" ", "")
    assert _read_p1_with_gemmi(text) is None
    atoms = read_cif_text(text)
    assert len(atoms) == 8 and sorted(set(atoms.get_chemical_symbols())) == ["Cl", "Na"]


def test_unreadable_cif_raises():
    with pytest.raises(ValueError, match="the CIF has no atoms"):  # pymatgen: "no structures"
        read_cif_text("data_empty\n")
