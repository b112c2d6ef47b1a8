"""CIFs pymatgen refuses with a bare "no structures": the cause and the fix (issue 9)."""

from __future__ import annotations

import ase.io
import pytest
from ase.build import bulk

from asegraph.exceptions import InputFileError
from asegraph.io import read_cif_text, read_structures

NO_ATOMS = """data_empty
_symmetry_space_group_name_H-M 'P 1'
_cell_length_a 4
_cell_length_b 4
_cell_length_c 4
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
"""


def _two_on_one_site(tmp_path) -> str:
    ase.io.write(tmp_path / "nacl.cif", bulk("NaCl", "rocksalt", a=5.6))
    text = (tmp_path / "nacl.cif").read_text().rstrip("\n")
    last = text.splitlines()[-1]  # the Cl site, given twice
    return text + "\n" + last + "\n"


def test_a_cif_without_atoms(tmp_path):
    (tmp_path / "empty.cif").write_text(NO_ATOMS)
    ((sid, error),) = read_structures([tmp_path / "empty.cif"])
    assert isinstance(error, InputFileError)  # before: "Invalid CIF file with no structures!"
    assert "could not be read: the CIF has no atoms (no _atom_site_ loop" in str(error)
    assert "add the atom sites" in str(error)
    with pytest.raises(InputFileError, match=r"the CIF has no atoms"):
        read_cif_text(NO_ATOMS)


def test_a_cif_with_two_atoms_on_one_site(tmp_path):
    (tmp_path / "dup.cif").write_text(_two_on_one_site(tmp_path))
    ((sid, error),) = read_structures([tmp_path / "dup.cif"])
    assert isinstance(error, InputFileError), error  # before: "... no structures!"
    assert "two atoms on one site: Cl1 and Cl1 at fractional (0.5000, 0.5000, 0.5000)" in str(error)
    assert "remove the duplicated site" in str(error)
