"""A triclinic LAMMPS dump, read through MDAnalysis, gives the expected periodic graphs."""

from __future__ import annotations

import numpy as np
import pytest

from asegraph.analysis.dynamics import GDyNetAnalysis
from asegraph.analysis.dynamics.trajectory import load_universe, select_targets
from asegraph.graph.neighbors import nearest_table

LX, LY, LZ, XY, XZ, YZ = 10.0, 9.0, 11.0, 2.0, 1.0, 1.5
CELL = np.array([[LX, 0, 0], [XY, LY, 0], [XZ, YZ, LZ]])


def _write_dump(path, frames, types, timestep_steps=10):
    """LAMMPS text dump with a triclinic box (bounding-box bounds, tilt factors)."""
    xlo_bound, xhi_bound = min(0, XY, XZ, XY + XZ), LX + max(0, XY, XZ, XY + XZ)
    ylo_bound, yhi_bound = min(0, YZ), LY + max(0, YZ)
    with open(path, "w") as handle:
        for step, positions in enumerate(frames):
            handle.write(f"ITEM: TIMESTEP\n{step * timestep_steps}\n")
            handle.write(f"ITEM: NUMBER OF ATOMS\n{len(positions)}\n")
            handle.write("ITEM: BOX BOUNDS xy xz yz pp pp pp\n")
            handle.write(
                f"{xlo_bound} {xhi_bound} {XY}\n{ylo_bound} {yhi_bound} {XZ}\n0.0 {LZ} {YZ}\n"
            )
            handle.write("ITEM: ATOMS id type x y z\n")
            for i, (x, y, z) in enumerate(positions):
                handle.write(f"{i + 1} {types[i]} {x:.6f} {y:.6f} {z:.6f}\n")


def test_triclinic_lammps_dump(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.random((60, 3)) @ CELL for _ in range(4)]
    types = [2 if i % 6 == 0 else 1 for i in range(60)]
    path = tmp_path / "run.lammpstrj"
    _write_dump(path, frames, types)
    u = load_universe(path, timestep_ps=0.01)
    assert u.trajectory.n_frames == 4 and u.trajectory.dt == pytest.approx(0.01)
    targets, _ = select_targets(u, "type 2")
    assert len(targets) == 10
    analysis = GDyNetAnalysis(u, select="type 2", max_neighbors=8, cutoff=5.0)
    store = analysis.build_graphs()
    rows = analysis.frame_graphs.target_rows
    for index, positions in enumerate(frames):
        _, expected = nearest_table(positions, CELL, 8, 5.0, receivers=targets)
        np.testing.assert_allclose(store.distances[index][rows], expected, atol=2e-4)
