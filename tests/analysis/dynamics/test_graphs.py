"""Per-frame target neighbour lists and their compact store."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list

from asegraph.analysis.dynamics.graphs import GraphStore, build_store, target_neighbors
from asegraph.exceptions import ParameterError

CELL = np.array([[10.0, 0.0, 0.0], [3.0, 9.0, 0.0], [1.0, 2.0, 11.0]])


def _random_system(seed=0, n=200, cell=CELL):
    rng = np.random.default_rng(seed)
    return rng.random((n, 3)) @ cell


def test_matches_ase_in_triclinic_cell():
    positions = _random_system()
    targets = np.arange(0, 200, 7)
    neighbors, distances = target_neighbors(positions, CELL, targets, 12, 6.0)
    assert neighbors.dtype == np.int32 and distances.dtype == np.float32
    atoms = Atoms("H200", positions=positions, cell=CELL, pbc=True)
    i, j, d = neighbor_list("ijd", atoms, 6.0)
    for row, t in enumerate(targets):
        order = np.argsort(d[i == t], kind="stable")
        np.testing.assert_allclose(distances[row], d[i == t][order][:12], atol=1e-5)
        assert set(neighbors[row]) <= set(j[i == t])


def test_unwrapped_positions_give_the_same_graph():
    rng = np.random.default_rng(3)
    positions = _random_system()
    shifted = positions + rng.integers(-3, 4, size=(200, 3)) @ CELL
    targets = np.arange(10)
    a = target_neighbors(positions, CELL, targets, 12, 6.0)
    b = target_neighbors(shifted, CELL, targets, 12, 6.0)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], atol=1e-5)


def test_same_lattice_in_a_sheared_cell_gives_the_same_graph(toy_universe):
    """The toy FCC system described by a triclinic cell of the same periodicity."""
    from asegraph.analysis.dynamics.trajectory import frame_cell

    toy_universe.trajectory[5]
    positions = toy_universe.atoms.positions.astype(np.float64)
    cubic = frame_cell(toy_universe.dimensions)
    sheared = cubic.copy()
    sheared[1] += cubic[0]  # (L, L, 0): same lattice, triclinic cell
    sheared[2] += cubic[0] - cubic[1]
    targets = toy_universe.select_atoms("name Li").indices
    a = target_neighbors(positions, cubic, targets, 12, 6.0)
    b = target_neighbors(positions, sheared, targets, 12, 6.0)
    np.testing.assert_allclose(a[1], b[1], atol=1e-4)


def test_too_few_neighbours_names_the_fix():
    positions = _random_system(n=30)
    with pytest.raises(
        ParameterError,
        match=r"has \d+ neighbours within cutoff=2.0 Å but "
        r"max_neighbors=12; raise cutoff",
    ):
        target_neighbors(positions, CELL, np.arange(3), 12, 2.0, frame=4)


def test_environment_restricts_neighbours():
    positions = _random_system()
    environment = np.zeros(200, dtype=bool)
    environment[100:] = True
    neighbors, _ = target_neighbors(positions, CELL, np.arange(5), 8, 7.0, environment=environment)
    assert neighbors.min() >= 100


def test_store_in_memory_and_memmap(tmp_path, toy_universe):
    targets = toy_universe.select_atoms("name Li").indices
    in_memory = build_store(toy_universe, targets, 12, 6.0, stop=20, step=2)
    mapped = build_store(toy_universe, targets, 12, 6.0, stop=20, step=2, path=tmp_path / "graphs")
    assert in_memory.n_frames == 10
    assert in_memory.nbytes == 10 * 16 * 12 * 8 + 10 * 8
    np.testing.assert_array_equal(in_memory.neighbors, mapped.neighbors)
    np.testing.assert_allclose(in_memory.times, np.arange(0, 20, 2) * 0.1, atol=1e-5)
    assert (tmp_path / "graphs.neighbors.npy").exists()
    toy_universe.trajectory[4]
    direct = target_neighbors(
        toy_universe.atoms.positions, np.diag(toy_universe.dimensions[:3]), targets, 12, 6.0
    )
    np.testing.assert_array_equal(in_memory.neighbors[2], direct[0])


def test_store_shape():
    store = GraphStore(4, 3, 2)
    assert store.neighbors.shape == (4, 3, 2) and store.distances.dtype == np.float32


def test_changing_triclinic_box_npt():
    """Every frame uses its own cell (NPT), read through the ASE adapter."""
    from asegraph.analysis.dynamics.trajectory import universe_from_ase

    rng = np.random.default_rng(5)
    frames, cells = [], []
    for i in range(4):
        cell = CELL * (1.0 + 0.03 * i)
        cell[1, 0] += 0.5 * i  # the tilt changes too
        atoms = Atoms("H200", positions=rng.random((200, 3)) @ cell, cell=cell, pbc=True)
        frames.append(atoms)
        cells.append(cell)
    u = universe_from_ase(frames, timestep_ps=0.1)
    targets = np.arange(0, 200, 9)
    store = build_store(u, targets, 10, 6.0)
    for i, atoms in enumerate(frames):
        expected = target_neighbors(atoms.positions, cells[i], targets, 10, 6.0)
        np.testing.assert_allclose(store.distances[i], expected[1], atol=1e-4)
