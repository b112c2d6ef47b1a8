"""The crystal graph's edge set against a brute-force image enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, fcc111

from asegraph.graph.crystal_graph import build_graph


def brute_force_edges(atoms: Atoms, cutoff: float, max_neighbors: int, tol: float = 1e-6):
    """Every (receiver, sender, shift) kept by the 'keep ties' rule, by enumeration."""
    cell = atoms.cell.array
    ranges = []
    for axis in range(3):
        if atoms.pbc[axis]:
            others = [cell[(axis + 1) % 3], cell[(axis + 2) % 3]]
            normal = np.cross(*others)
            spacing = abs(cell[axis] @ normal) / np.linalg.norm(normal)
            n = int(np.ceil(cutoff / spacing)) + 1
            ranges.append(range(-n, n + 1))
        else:
            ranges.append(range(0, 1))
    shifts = np.array(list(itertools.product(*ranges)))
    pos = atoms.positions
    edges = set()
    for i in range(len(atoms)):
        found = []
        for j in range(len(atoms)):
            vectors = pos[j] - pos[i] + shifts @ cell
            d = np.linalg.norm(vectors, axis=1)
            for s, dist in zip(shifts, d):
                if dist < cutoff and not (i == j and not s.any()):
                    found.append((dist, j, tuple(int(x) for x in s)))
        found.sort()
        threshold = found[min(max_neighbors, len(found)) - 1][0] + tol
        edges |= {(i, j, s) for dist, j, s in found if dist <= threshold}
    return edges


def graph_edges(graph):
    senders, receivers = graph.edge_index
    return {
        (int(i), int(j), tuple(int(x) for x in s))
        for i, j, s in zip(receivers, senders, graph.unit_shifts)
    }


def random_triclinic(rng, n_atoms: int, scale: float) -> Atoms:
    cell = np.eye(3) * scale + rng.uniform(-0.35, 0.35, (3, 3)) * scale
    frac = rng.random((n_atoms, 3))
    atoms = Atoms(numbers=rng.integers(1, 40, n_atoms), scaled_positions=frac, cell=cell, pbc=True)
    return atoms


@pytest.mark.parametrize("n_atoms,scale,cutoff", [(6, 5.0, 6.0), (3, 2.5, 5.0), (1, 2.2, 4.0)])
def test_edges_match_brute_force_on_triclinic_and_small_cells(rng, n_atoms, scale, cutoff):
    checked = 0
    for _ in range(8):
        atoms = random_triclinic(rng, n_atoms, scale)
        try:
            graph = build_graph(atoms, cutoff=cutoff, max_neighbors=12)
        except ValueError:
            continue  # a random draw with overlapping atoms
        assert graph_edges(graph) == brute_force_edges(atoms, cutoff, 12)
        vectors = graph.edge_vectors()
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), graph.distances, atol=1e-10)
        checked += 1
        if checked == 3:
            break
    assert checked == 3  # the comparison ran on three random cells, not on none


def test_edges_match_brute_force_on_a_slab():
    slab = fcc111("Cu", size=(2, 2, 3), vacuum=6.0)
    slab.pbc = (True, True, False)
    slab.rattle(0.05, seed=3)
    graph = build_graph(slab, cutoff=6.0, max_neighbors=12)
    assert graph_edges(graph) == brute_force_edges(slab, 6.0, 12)
    assert not graph.unit_shifts[:, 2].any()


def test_molecule_has_no_periodic_images():
    molecule = Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    graph = build_graph(molecule, cutoff=5.0, max_neighbors=12)
    assert graph.n_edges == 6 and not graph.unit_shifts.any()


def test_small_cell_makes_a_multigraph():
    graph = build_graph(bulk("Cu", "fcc", a=3.6), cutoff=8.0)
    # one atom: all 12 nearest neighbours are images of itself
    assert graph.n_atoms == 1 and graph.n_edges == 12
    assert set(graph.edge_index[0]) == {0}


def test_keep_ties_includes_every_tied_neighbour_and_truncate_does_not():
    rocksalt = bulk("NaCl", "rocksalt", a=5.64)
    kept = build_graph(rocksalt, max_neighbors=12)
    truncated = build_graph(rocksalt, max_neighbors=12, ties="truncate")
    # 6 first and 12 second neighbours, the 12th is tied with the 13th..18th
    assert np.bincount(kept.edge_index[1]).tolist() == [18, 18]
    assert np.bincount(truncated.edge_index[1]).tolist() == [12, 12]


@pytest.mark.parametrize("ties", ["keep", "truncate"])
def test_edges_are_sorted_by_distance_within_each_receiver(ties, rng):
    atoms = random_triclinic(rng, 8, 6.0)
    graph = build_graph(atoms, ties=ties)
    receivers = graph.edge_index[1]
    assert np.all(np.diff(receivers) >= 0)
    for i in range(graph.n_atoms):
        assert np.all(np.diff(graph.distances[receivers == i]) >= -1e-9)


@pytest.mark.parametrize(
    "atoms",
    [bulk("NaCl", "rocksalt", a=5.64), bulk("Al", "fcc", a=4.05), bulk("Fe", "bcc", a=2.87)],
    ids=["rocksalt", "fcc", "bcc"],
)
def test_keep_ties_graph_is_the_same_per_atom_in_supercells(atoms):
    cell_graph = build_graph(atoms)
    for reps in [(2, 2, 1), (2, 2, 2), (3, 1, 1)]:
        super_graph = build_graph(atoms.repeat(reps))
        per_atom = np.bincount(super_graph.edge_index[1])
        assert set(per_atom.tolist()) == set(np.bincount(cell_graph.edge_index[1]).tolist())
        np.testing.assert_allclose(
            np.sort(super_graph.distances),
            np.sort(np.tile(cell_graph.distances, np.prod(reps))),
            atol=1e-9,
        )


def _as_set(receivers, senders, shifts):
    return {
        (int(i), int(j), tuple(int(x) for x in s)) for i, j, s in zip(receivers, senders, shifts)
    }


@pytest.mark.parametrize("seed", range(5))
def test_dense_small_cell_search_equals_vesin(seed, monkeypatch):
    from asegraph.graph import neighbors

    rng = np.random.default_rng(seed)
    atoms = random_triclinic(rng, 5, 4.0)
    atoms.positions += rng.uniform(-9, 9, 3)  # unwrapped coordinates
    dense = neighbors.all_pairs(atoms.positions, atoms.cell.array, atoms.pbc, 6.0)
    monkeypatch.setattr(neighbors, "DENSE_MAX_ATOMS", 0)  # force vesin
    cell_list = neighbors.all_pairs(atoms.positions, atoms.cell.array, atoms.pbc, 6.0)
    assert _as_set(*dense[:3]) == _as_set(*cell_list[:3])
    order_d = np.lexsort((dense[1], dense[0]))
    assert len(dense[3]) == len(cell_list[3])
    np.testing.assert_allclose(np.sort(dense[3]), np.sort(cell_list[3]), atol=1e-10)
    assert order_d.size == len(dense[0])


@pytest.mark.parametrize("ties", ["keep", "truncate"])
@pytest.mark.parametrize("seed", range(4))
def test_adaptive_search_radius_gives_the_full_cutoff_result(seed, ties):
    from asegraph.graph import neighbors

    rng = np.random.default_rng(100 + seed)
    atoms = random_triclinic(rng, 7, 5.0).repeat((2, 1, 2))
    pos, cell, pbc = atoms.positions, atoms.cell.array, atoms.pbc
    fast = neighbors.nearest_pairs(pos, cell, pbc, 8.0, 12, ties)
    full = neighbors.select_nearest(*neighbors.all_pairs(pos, cell, pbc, 8.0), len(atoms), 12, ties)
    assert neighbors.search_radius(len(atoms), cell, pbc, 12) < 8.0  # the shortcut was taken
    assert _as_set(*fast[:3]) == _as_set(*full[:3])


def test_build_graphs_reports_bad_structures_in_place():
    from asegraph.exceptions import StructureError
    from asegraph.graph.crystal_graph import build_graphs

    good = bulk("Cu", "fcc", a=3.6)
    nan = good.copy()
    nan.positions[0, 0] = np.nan
    results = build_graphs([good, nan, good], names=["a", "b", "c"], errors="return")
    assert [type(r).__name__ for r in results] == ["CrystalGraph", "StructureError", "CrystalGraph"]
    assert "'b': atom 0 (Cu) has a NaN" in str(results[1])
    with pytest.raises(StructureError, match="'b': atom 0"):
        build_graphs([good, nan], names=["a", "b"])


@pytest.mark.parametrize("kth_by", ["sort", "partition"])
@pytest.mark.parametrize("ties", ["keep", "truncate"])
def test_single_small_cell_fast_path_equals_the_general_search(ties, kth_by, rng, monkeypatch):
    from asegraph.graph import neighbors

    # each atom's M-th distance comes from a whole-row sort on short rows and a
    # partition on long ones: force each way on every cell
    monkeypatch.setattr(neighbors, "SORT_MAX_ROW", 10**9 if kth_by == "sort" else 0)
    cells = []
    for n_atoms, scale in ((1, 2.2), (2, 3.0), (5, 4.0), (8, 5.0), (16, 6.5)):
        atoms = random_triclinic(rng, n_atoms, scale)
        atoms.positions += rng.uniform(-5, 5, 3)  # unwrapped coordinates
        cells.append(atoms)
    # high symmetry: many neighbours tied with the M-th
    perovskite = Atoms(
        "SrTiO3",
        scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
        cell=np.eye(3) * 3.905,
        pbc=True,
    )
    cells += [perovskite, bulk("NaCl", "rocksalt", a=5.64), bulk("Cu", "fcc", a=3.6, cubic=True)]
    checked = 0
    for atoms in cells:
        n_atoms = len(atoms)
        for cutoff, m in ((8.0, 12), (5.0, 30)):
            fast = neighbors.small_cell_nearest(atoms.positions, atoms.cell.array, cutoff, m, ties)
            if fast is None:
                continue
            full = neighbors.select_nearest(
                *neighbors.all_pairs(atoms.positions, atoms.cell.array, atoms.pbc, cutoff),
                n_atoms,
                m,
                ties,
            )
            assert _as_set(*fast[:3]) == _as_set(*full[:3])
            np.testing.assert_array_equal(fast[0], full[0])  # grouped by receiver
            np.testing.assert_allclose(np.sort(fast[3]), np.sort(full[3]), atol=1e-10)
            if ties == "truncate":  # the same order: distance, sender, shift
                np.testing.assert_array_equal(fast[1], full[1])
            else:  # sorted by distance within each receiver
                step = np.diff(fast[3])[np.diff(fast[0]) == 0]
                assert step.min(initial=0.0) >= 0.0
            checked += 1
    assert checked >= 12
