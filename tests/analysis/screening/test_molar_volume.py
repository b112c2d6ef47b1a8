"""Li coordination by Voronoi analysis and v from Shannon radii (thesis ch. 2.5.2)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from pymatgen.core import Lattice, Structure

from asegraph.analysis.screening.molar_volume import (
    li_coordination,
    molar_volume_ratio,
    shannon_radius,
)
from asegraph.exceptions import StructureError

N_A = 6.02214076e23
V_LI = 1.30e-5


def _v(radius_angstrom: float) -> float:
    return N_A * 4 / 3 * np.pi * (radius_angstrom * 1e-10) ** 3 / V_LI


def test_li2o_antifluorite_is_fourfold():
    li2o = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["O", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]]
    )
    np.testing.assert_allclose(li_coordination(li2o), 4.0, atol=1e-9)
    cn, v = molar_volume_ratio(li2o)
    # Shannon Li+(IV) = 0.59 Å: 6.022e23 · 4/3 π (0.59e-10)³ / 1.3e-5 = 0.039852
    assert cn == pytest.approx(4.0) and v == pytest.approx(0.039852, rel=1e-4)


def test_lif_rock_salt_is_sixfold():
    cn, v = molar_volume_ratio(bulk("LiF", "rocksalt", a=4.03))
    # Shannon Li+(VI) = 0.76 Å -> 0.085180
    assert cn == pytest.approx(6.0) and v == pytest.approx(0.085180, rel=1e-4)


def test_coordination_between_tabulated_values_is_interpolated():
    """Rock salt stretched along c (c/a = 1.3): the Voronoi cell is a box with half-sides p, p, q.

    Solid angles of its faces (rectangle seen from the centre):
    Ω_x = 4 asin(q / √(2(p² + q²))) = 2.379812, Ω_z = 4 asin(p² / (p² + q²)) = 1.523562 (q = 1.3p);
    4 Ω_x + 2 Ω_z = 4π, as it must.
    O'Keeffe CN = 4 + 2 Ω_z / Ω_x = 5.280405; r = 0.59 + (5.280405 − 4)/2 · (0.76 − 0.59)
    = 0.698834 Å between Shannon's IV and VI.
    """
    a, c = 4.0, 5.2
    li = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    f = [[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]]
    crystal = Structure(Lattice.tetragonal(a, c), ["Li"] * 4 + ["F"] * 4, li + f)
    p, q = 1.0, 1.3
    omega_x = 4 * np.arcsin(q / np.sqrt(2 * (p**2 + q**2)))
    omega_z = 4 * np.arcsin(p**2 / (p**2 + q**2))
    cn_hand = 4 + 2 * omega_z / omega_x
    assert cn_hand == pytest.approx(5.280405, rel=1e-6)
    assert 4 * omega_x + 2 * omega_z == pytest.approx(4 * np.pi)
    np.testing.assert_allclose(li_coordination(crystal), cn_hand, rtol=1e-6)
    radius = 0.59 + (cn_hand - 4) / 2 * (0.76 - 0.59)
    assert shannon_radius(cn_hand) == pytest.approx(radius)
    cn, v = molar_volume_ratio(crystal)
    assert v == pytest.approx(_v(radius), rel=1e-6)
    assert _v(0.59) < v < _v(0.76)


def test_shannon_extrapolates_linearly_beyond_the_table():
    # VIII = 0.92 Å, slope 0.08 Å per neighbour above it; 0.085 below IV
    assert shannon_radius(12) == pytest.approx(0.92 + 4 * 0.08)
    assert shannon_radius(3) == pytest.approx(0.59 - 0.085)


def test_isolated_li_and_li_free_structures_are_reported():
    isolated = Atoms("LiF", positions=[[0, 0, 0], [0, 0, 14]], cell=[30, 30, 30], pbc=True)
    with pytest.raises(StructureError, match="isolated Li"):
        li_coordination(isolated, label="lonely")
    with pytest.raises(StructureError, match="contains no Li"):
        li_coordination(bulk("NaCl", "rocksalt", a=5.64))
    with pytest.raises(StructureError, match="only Li"):
        li_coordination(bulk("Li", "bcc", a=3.49))
