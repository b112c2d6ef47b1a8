"""Readers, selections and validation of trajectory input."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from asegraph.analysis.dynamics.trajectory import (
    check_box,
    load_universe,
    parse_time,
    parse_types,
    select_targets,
    species_labels,
    universe_from_ase,
)
from asegraph.exceptions import InputFileError, ParameterError


def _ase_frames(n_frames=5, cells=None):
    rng = np.random.default_rng(1)
    frames = []
    for i in range(n_frames):
        cell = cells[i] if cells is not None else np.eye(3) * 8.0
        atoms = Atoms("Li2S6", positions=rng.random((8, 3)) @ cell, cell=cell, pbc=True)
        atoms.info["time"] = i * 10.0 * 0.09822694788464063  # 10 fs in ASE time units
        frames.append(atoms)
    return frames


def test_parse_time_units():
    assert parse_time("1ps") == 1.0
    assert parse_time("500 fs") == pytest.approx(0.5)
    assert parse_time("2ns") == 2000.0
    assert parse_time(0.25) == 0.25


@pytest.mark.parametrize("value", ["abc", "1 min"])
def test_parse_time_rejects_garbage(value):
    with pytest.raises(ParameterError, match="expected a time such as '1ps'"):
        parse_time(value)


def test_parse_time_rejects_non_positive():
    with pytest.raises(ParameterError, match="lag must be a positive time, got '0ps'"):
        parse_time("0ps")


def test_parse_types():
    assert parse_types("S*2,Li") == ["S", "S", "Li"]
    with pytest.raises(ParameterError, match="got 3 labels for a trajectory of 4 atoms"):
        parse_types("S*2,Li", 4)
    with pytest.raises(ParameterError, match="cannot read 'S\\*x'"):
        parse_types("S*x")


def test_ase_list_with_changing_triclinic_cell():
    cells = [np.array([[8.0 + 0.1 * i, 0, 0], [2.0, 7.5, 0], [1.0, 1.5, 9.0]]) for i in range(4)]
    u = load_universe(_ase_frames(4, cells))
    assert u.trajectory.n_frames == 4
    assert u.trajectory.dt == pytest.approx(0.01, rel=1e-6)  # 10 fs from atoms.info["time"]
    for i, ts in enumerate(u.trajectory):
        from asegraph.analysis.dynamics.trajectory import frame_cell

        np.testing.assert_allclose(frame_cell(ts.dimensions), cells[i], atol=1e-4)
    assert species_labels(u.atoms)[:2] == ["Li", "Li"]


def test_ase_without_time_needs_timestep():
    frames = _ase_frames(3)
    for f in frames:
        del f.info["time"]
    with pytest.raises(ParameterError, match="stores no time per frame; give the time between"):
        universe_from_ase(frames)
    assert universe_from_ase(frames, timestep_ps=0.02).trajectory.dt == pytest.approx(0.02)


def test_extxyz_file_and_timestep_override(tmp_path):
    from ase.io import write

    path = tmp_path / "t.extxyz"
    write(path, _ase_frames(3))
    u = load_universe(path, timestep_ps=0.5)
    assert u.trajectory.n_frames == 3 and u.trajectory.dt == pytest.approx(0.5)


def test_ase_traj_file(tmp_path):
    from ase.io import Trajectory

    path = tmp_path / "t.traj"
    with Trajectory(path, "w") as handle:
        for atoms in _ase_frames(3):
            handle.write(atoms)
    u = load_universe(path, timestep_ps=0.01)
    assert u.trajectory.n_frames == 3


def test_dcd_without_topology_says_what_to_pass(toy_universe):
    from asegraph.examples.li_fcc import SHIPPED_TRAJECTORY

    with pytest.raises(
        InputFileError, match="carries no element or atom-type information; pass --topology"
    ):
        load_universe(SHIPPED_TRAJECTORY)


def test_dcd_with_types_instead_of_topology():
    from asegraph.examples.li_fcc import SHIPPED_TRAJECTORY

    u = load_universe(SHIPPED_TRAJECTORY, types="S*32,Li*16")
    assert species_labels(u.atoms).count("Li") == 16
    assert u.trajectory.dt == pytest.approx(0.1, rel=1e-4)  # from the DCD header


def test_missing_files():
    with pytest.raises(FileNotFoundError, match="trajectory 'nope.dcd' does not exist"):
        load_universe("nope.dcd", "top.pdb")


def test_selection_errors(toy_universe):
    with pytest.raises(ParameterError, match="select='name Na' selects no atoms"):
        select_targets(toy_universe, "name Na")
    with pytest.raises(ParameterError, match="cannot parse it"):
        select_targets(toy_universe, "name Li and and")
    with pytest.raises(ParameterError, match="group must be one of"):
        select_targets(toy_universe, "name Li", "chains")
    with pytest.raises(ParameterError, match="group='molecules' needs bonds"):
        select_targets(toy_universe, "name Li", "molecules")


def test_residue_groups_for_water(water_universe):
    u = water_universe(n_frames=2)
    targets, groups = select_targets(u, "resname SOL", "residues")
    assert len(targets) == 81 and groups.max() == 26
    np.testing.assert_array_equal(groups[:6], [0, 0, 0, 1, 1, 1])


def test_missing_box():
    with pytest.raises(InputFileError, match="frame 3 has no periodic box"):
        check_box(np.zeros(6), 3)


def test_vasp_xdatcar_aimd(tmp_path):
    """VASP AIMD output (XDATCAR, no suffix) goes through ASE; several files are
    independent runs (file_frames)."""
    from ase.build import bulk
    from ase.io import write

    from asegraph.analysis.dynamics.trajectory import file_frames

    rng = np.random.default_rng(0)
    base = bulk("NaCl", "rocksalt", a=5.6, cubic=True)
    paths = []
    for run in range(2):
        frames = []
        for _ in range(3 + run):
            atoms = base.copy()
            atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
            frames.append(atoms)
        path = tmp_path / f"XDATCAR_{run}"
        write(path, frames, format="vasp-xdatcar")
        paths.append(str(path))
    u = load_universe(paths, timestep_ps=0.1)
    assert u.trajectory.n_frames == 7 and file_frames(u) == [3, 4]
    assert sorted(set(u.atoms.names)) == ["Cl", "Na"]
