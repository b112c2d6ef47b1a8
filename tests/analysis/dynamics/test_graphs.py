"""Per-frame neighbour tables (the project's one k-nearest search) and their store,
built through :meth:`GDyNetAnalysis.build_graphs`, the frame loop of ``run``."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list

from asegraph.analysis.dynamics import GDyNetAnalysis
from asegraph.analysis.dynamics.graphs import FrameGraphs, GraphStore
from asegraph.exceptions import ParameterError
from asegraph.graph.neighbors import all_pairs, nearest_table, select_nearest

CELL = np.array([[10.0, 0.0, 0.0], [3.0, 9.0, 0.0], [1.0, 2.0, 11.0]])


def _random_system(seed=0, n=200, cell=CELL):
    rng = np.random.default_rng(seed)
    return rng.random((n, 3)) @ cell


def test_matches_ase_in_triclinic_cell():
    positions = _random_system()
    targets = np.arange(0, 200, 7)
    neighbors, distances = nearest_table(positions, CELL, 12, 6.0, receivers=targets)
    assert neighbors.dtype == np.int32 and distances.dtype == np.float32
    atoms = Atoms("H200", positions=positions, cell=CELL, pbc=True)
    i, j, d = neighbor_list("ijd", atoms, 6.0)
    for row, t in enumerate(targets):
        order = np.argsort(d[i == t], kind="stable")
        np.testing.assert_allclose(distances[row], d[i == t][order][:12], atol=1e-5)
        assert set(neighbors[row]) <= set(j[i == t])


@pytest.mark.parametrize("radius", [None, 3.0, 6.0])
def test_table_is_the_truncate_rule_of_the_crystal_graphs(radius):
    """One k-nearest search: the dense table equals select_nearest(ties='truncate') on an
    FCC lattice full of exact ties, whatever radius the search starts from."""
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((3, 3, 3))
    positions, cell = atoms.positions, atoms.cell.array
    table, distances = nearest_table(positions, cell, 8, 6.0, radius=radius)
    r, s, shifts, d = all_pairs(positions, cell, np.ones(3, dtype=bool), 6.0)
    r, s, _, d = select_nearest(r, s, shifts, d, len(atoms), 8, "truncate")
    np.testing.assert_array_equal(table, s.reshape(len(atoms), 8))
    np.testing.assert_allclose(distances, d.reshape(len(atoms), 8), atol=1e-6)


def test_unwrapped_positions_give_the_same_graph():
    rng = np.random.default_rng(3)
    positions = _random_system()
    shifted = positions + rng.integers(-3, 4, size=(200, 3)) @ CELL
    a = nearest_table(positions, CELL, 12, 6.0, receivers=np.arange(10))
    b = nearest_table(shifted, CELL, 12, 6.0, receivers=np.arange(10))
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
    a = nearest_table(positions, cubic, 12, 6.0, receivers=targets)
    b = nearest_table(positions, sheared, 12, 6.0, receivers=targets)
    np.testing.assert_allclose(a[1], b[1], atol=1e-4)


def test_too_few_neighbours_names_the_fix():
    positions = _random_system(n=30)
    with pytest.raises(
        ParameterError,
        match=r"frame 4: atom \d+ has fewer than max_neighbors=12 neighbours within "
        r"cutoff=2.0 Å; raise cutoff or lower max_neighbors",
    ):
        nearest_table(positions, CELL, 12, 2.0, receivers=np.arange(3), frame=4)


def test_environment_restricts_neighbours_and_adds_the_graph_nodes():
    positions = _random_system()
    environment = np.zeros(200, dtype=bool)
    environment[100:] = True
    targets = np.arange(5)
    first = FrameGraphs(200, targets, environment, 8, 7.0, "first-shell")
    multi = FrameGraphs(200, targets, environment, 8, 7.0, "multi-shell")
    np.testing.assert_array_equal(multi.nodes, np.r_[0:5, 100:200])
    a, da = first(positions, CELL)
    b, db = multi(positions, CELL)
    assert a.shape == (5, 8) and b.shape == (105, 8)
    assert a.min() >= 5 and b.min() >= 5  # node indices of allowed neighbours only
    np.testing.assert_array_equal(a, b[multi.target_rows])
    np.testing.assert_array_equal(da, db[:5])


def test_build_graphs_is_the_run_frame_loop(tmp_path, toy_universe):
    kwargs = {"select": "name Li", "environment": "name S"}
    analysis = GDyNetAnalysis(toy_universe, **kwargs)
    in_memory = analysis.build_graphs(stop=20, step=2)
    li_rows = analysis.frame_graphs.target_rows  # atoms 32..47; every atom is a node here
    np.testing.assert_array_equal(li_rows, np.arange(32, 48))
    mapped = GDyNetAnalysis(toy_universe, graph_cache=tmp_path / "graphs", **kwargs).build_graphs(
        stop=20, step=2
    )
    assert in_memory.n_frames == 10
    assert in_memory.neighbors.shape == (10, 48, 12)  # 16 Li + 32 S rows (multi-shell)
    assert in_memory.nbytes == 10 * 48 * 12 * 8 + 10 * 8
    np.testing.assert_array_equal(in_memory.neighbors, mapped.neighbors)
    np.testing.assert_allclose(in_memory.times, np.arange(0, 20, 2) * 0.1, atol=1e-5)
    assert (tmp_path / "graphs.neighbors.npy").exists()
    toy_universe.trajectory[4]
    direct = nearest_table(
        toy_universe.atoms.positions,
        np.diag(toy_universe.dimensions[:3]),
        12,
        6.0,
        receivers=toy_universe.select_atoms("name Li").indices,
        senders=np.isin(np.arange(48), toy_universe.select_atoms("name S").indices),
    )
    np.testing.assert_array_equal(in_memory.neighbors[2][li_rows], direct[0])
    first = GDyNetAnalysis(toy_universe, receptive_field="first-shell", **kwargs)
    store = first.build_graphs(stop=20, step=2)
    assert store.neighbors.shape == (10, 16, 12)
    np.testing.assert_allclose(store.distances, in_memory.distances[:, li_rows])


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
    store = GDyNetAnalysis(u, select="index 0:199:9", max_neighbors=10).build_graphs()
    for i, atoms in enumerate(frames):
        expected = nearest_table(atoms.positions, cells[i], 10, 6.0)
        np.testing.assert_allclose(store.distances[i], expected[1], atol=1e-4)
