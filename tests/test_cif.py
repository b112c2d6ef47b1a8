"""The fast P1 CIF path agrees with pymatgen; everything else falls back to it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase.build import bulk

from asegraph.graph.crystal_graph import build_graph
from asegraph.io import _read_p1_with_gemmi, read_cif_text


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
    assert list(fast.numbers) == list(reference.numbers)  # pymatgen's site order too
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


def test_rounded_fractions_snap_like_pymatgen():
    pytest.importorskip("gemmi")
    text = """data_x
_symmetry_space_group_name_H-M 'P 1'
_cell_length_a 4.0
_cell_length_b 4.0
_cell_length_c 5.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 120
loop_
_symmetry_equiv_pos_as_xyz
 'x, y, z'
loop_
_atom_site_type_symbol
_atom_site_label
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
 B B0 0.3333 0.6667 0.25 1
 N N0 0.6667 0.3333 0.75 1
"""
    fast = _read_p1_with_gemmi(text)
    np.testing.assert_allclose(
        fast.get_scaled_positions(), [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]], atol=1e-15
    )
    reference = pymatgen_atoms(text)
    a, b = build_graph(fast), build_graph(reference)
    np.testing.assert_allclose(np.sort(a.distances), np.sort(b.distances), atol=1e-10)


def test_prediction_sources_and_datasets_read_alike(tmp_path):
    import ase.db
    import ase.io

    from asegraph.data.datasets import read_dataset
    from asegraph.io import read_structures

    frames = [bulk("NaCl", "rocksalt", a=5.6), bulk("Cu", "fcc", a=3.6)]
    with ase.db.connect(tmp_path / "s.db") as db:
        db.write(frames[0], e=1.0, uid="nacl")
        db.write(frames[1], e=2.0)
    for k, atoms in enumerate(frames):
        atoms.info["e"] = float(k)
    ase.io.write(tmp_path / "s.extxyz", frames)
    predicted = dict(read_structures([tmp_path / "s.db", tmp_path / "s.extxyz"]))
    assert list(predicted) == ["nacl", "s.db@2", "s.extxyz@0", "s.extxyz@1"]
    assert read_dataset(tmp_path / "s.db", ["e"]).ids == ["nacl", "s.db@2"]
    assert read_dataset(tmp_path / "s.extxyz", ["e"]).ids == ["s.extxyz@0", "s.extxyz@1"]
    text = p1_cif(frames[1], tmp_path)
    (tmp_path / "cu.cif").write_text(text)
    ((_, from_file),) = read_structures([tmp_path / "cu.cif"])
    np.testing.assert_array_equal(from_file.positions, read_cif_text(text).positions)
