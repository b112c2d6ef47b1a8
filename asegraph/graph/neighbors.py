"""Periodic k-nearest-neighbour edges for crystal graphs.

Pairs come from vesin's cell-list neighbour search; the per-atom selection of
the nearest ``max_neighbors`` is one vectorised sort, not a Python loop over
atoms. Two shortcuts make small cells fast without changing the result:

* the search first uses a radius from the atom density (about twice the
  volume holding ``max_neighbors`` atoms) and falls back to ``cutoff`` only
  for structures where some atom's ``max_neighbors``-th neighbour (plus the
  tie tolerance) is not safely inside it;
* for cells of a few atoms, where vesin's fixed per-call cost dominates
  (45 µs for 5 atoms, more than this module's whole small-cell search), a
  dense numpy enumeration of periodic images (``asegraph/graph/_dense.py``)
  is used instead; tests check it against vesin and a brute-force reference.

Convention: an edge ``(j -> i)`` joins a *sender* ``j`` to a *receiver* ``i``
through the periodic image ``unit_shifts`` of ``j``; its vector, from the
receiver to the sender's image, is::

    positions[j] - positions[i] + unit_shifts @ cell

This is vesin's (and ASE's ``neighbor_list``) sign convention, so shifts are
passed through unchanged.

Tie rules
---------
Convolutions *sum* over neighbours, so which atoms count as "the 12 nearest"
changes predictions when the 12th and 13th are at the same distance, which is
common in high-symmetry cells.

``ties="keep"`` (default)
    Keep every neighbour whose distance is within ``tie_tolerance`` of the
    ``max_neighbors``-th distance. The edge set then depends only on the
    geometry, never on atom order or on the choice of unit cell, so a
    supercell gives the same graph (per atom) as its cell.
``ties="truncate"``
    Exactly the ``max_neighbors`` nearest, sorted by distance: the rule of the
    original CGCNN code, needed to serve models imported from it. Ties at the
    boundary are broken by the sender's index (then the image shift), which is
    deterministic but, like the original, depends on the atom order; the
    original broke them by pymatgen's internal neighbour order instead, so on
    structures with such ties an imported model can differ from the original
    code (never where the 12-nearest set is unambiguous).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from vesin import NeighborList

from asegraph.exceptions import ParameterError
from asegraph.graph._dense import (
    DENSE_MAX_ATOMS,
    DENSE_MAX_VECTORS,
    _dense_pairs,
    _doubled_grid,
    _pair_differences,
    dense_pairs_batched,
    image_ranges,
)

__all__ = [
    "all_pairs",
    "dense_pairs_batched",
    "image_ranges",
    "nearest_pairs",
    "nearest_table",
    "search_radii",
    "search_radius",
    "select_nearest",
    "small_cell_nearest",
]

TieRule = Literal["keep", "truncate"]
TIE_RULES: tuple[str, ...] = ("keep", "truncate")


def all_pairs(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All ordered pairs closer than ``cutoff`` (both directions, periodic images).

    Parameters
    ----------
    positions : ndarray, shape (N, 3), Å
    cell : ndarray, shape (3, 3), Å
        Rows are the lattice vectors; ignored along non-periodic axes.
    pbc : ndarray of bool, shape (3,)
    cutoff : float, Å

    Returns
    -------
    receivers, senders : ndarray of int64, shape (P,)
    unit_shifts : ndarray of int64, shape (P, 3)
    distances : ndarray of float64, shape (P,), Å
    """
    if len(positions) <= DENSE_MAX_ATOMS and pbc.all() and _volume(cell) > 1e-12:
        images = image_ranges(cell[None], np.array([cutoff]))[0]
        if len(positions) ** 2 * np.prod(2 * images + 1) <= DENSE_MAX_VECTORS:
            return _dense_pairs(positions, cell, cutoff, images)
    calculator = NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, shifts, distances = calculator.compute(
        np.ascontiguousarray(positions, dtype=np.float64),
        np.ascontiguousarray(cell, dtype=np.float64),
        [bool(p) for p in pbc],
        quantities="ijSd",
        copy=False,
    )
    return (
        i.astype(np.int64),
        j.astype(np.int64),
        shifts.astype(np.int64),
        distances.copy(),
    )


def _volume(cell: np.ndarray) -> float:
    return abs(float(np.linalg.det(cell)))


def search_radii(n_atoms: np.ndarray, cells: np.ndarray, max_neighbors: int) -> np.ndarray:
    """Radii expected to hold about twice ``max_neighbors`` atoms, shape (B,), Å."""
    volumes = np.abs(np.linalg.det(cells))
    density = n_atoms / np.where(volumes > 0, volumes, np.nan)
    radii = (3.0 * (2.0 * max_neighbors + 4) / (4.0 * np.pi * density)) ** (1.0 / 3.0)
    return np.where(np.isfinite(radii), radii, np.inf)


def search_radius(n_atoms: int, cell: np.ndarray, pbc: np.ndarray, max_neighbors: int) -> float:
    """A radius expected to hold about twice ``max_neighbors`` atoms (inf if unknown), Å."""
    if not pbc.all():
        return np.inf
    return float(search_radii(np.array([n_atoms]), cell[None], max_neighbors)[0])


def nearest_pairs(
    positions: np.ndarray,
    cell: np.ndarray,
    pbc: np.ndarray,
    cutoff: float,
    max_neighbors: int,
    ties: TieRule = "keep",
    tie_tolerance: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Each atom's nearest ``max_neighbors`` pairs within ``cutoff``.

    Same result as ``select_nearest(*all_pairs(..., cutoff), ...)``, found
    with a smaller search radius where that provably gives the same set.

    Returns
    -------
    receivers, senders, unit_shifts, distances
        As :func:`select_nearest`.
    min_distance : float
        The shortest pair distance found (inf without pairs), Å.
    """
    n_atoms = len(positions)
    radius = search_radius(n_atoms, cell, pbc, max_neighbors)
    if radius < cutoff:
        pairs = all_pairs(positions, cell, pbc, radius)
        counts = np.bincount(pairs[0], minlength=n_atoms)
        if counts.min() >= max_neighbors:
            selected = select_nearest(*pairs, n_atoms, max_neighbors, ties, tie_tolerance)
            last = np.zeros(n_atoms)
            np.maximum.at(last, selected[0], selected[3])  # each atom's farthest kept neighbour
            if (last + 2 * tie_tolerance < radius).all():
                return (*selected, float(pairs[3].min()))
    pairs = all_pairs(positions, cell, pbc, cutoff)
    min_distance = float(pairs[3].min()) if len(pairs[3]) else np.inf
    return (*select_nearest(*pairs, n_atoms, max_neighbors, ties, tie_tolerance), min_distance)


def select_nearest(
    receivers: np.ndarray,
    senders: np.ndarray,
    unit_shifts: np.ndarray,
    distances: np.ndarray,
    n_atoms: int,
    max_neighbors: int,
    ties: TieRule = "keep",
    tie_tolerance: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keep each receiver's nearest ``max_neighbors`` pairs, sorted by distance.

    Parameters
    ----------
    receivers, senders : ndarray of int, shape (P,)
    unit_shifts : ndarray of int, shape (P, 3)
    distances : ndarray of float, shape (P,), Å
    n_atoms : int
    max_neighbors : int
    ties : {"keep", "truncate"}
        See the module docstring.
    tie_tolerance : float, Å
        Distances closer than this to the ``max_neighbors``-th count as tied.

    Returns
    -------
    The same four arrays restricted to the selected pairs, grouped by receiver
    (ascending) and sorted by distance within each receiver.
    """
    if ties not in TIE_RULES:
        raise ParameterError(f"ties must be one of {TIE_RULES}, got {ties!r}")
    if ties == "truncate":
        # Deterministic whatever the search's output order: distance quantised
        # to the tolerance, then sender index, then image shift.
        rounded = np.round(distances / tie_tolerance)
        shifts = unit_shifts.T
        order = np.lexsort((shifts[2], shifts[1], shifts[0], senders, rounded, receivers))
    else:  # the order inside a tie does not change the kept set
        order = np.argsort(receivers * (4.0 * distances.max(initial=1.0)) + distances)
    receivers, senders = receivers[order], senders[order]
    unit_shifts, distances = unit_shifts[order], distances[order]

    counts = np.bincount(receivers, minlength=n_atoms)
    starts = np.zeros(n_atoms, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    if ties == "truncate":
        rank = np.arange(len(receivers)) - starts[receivers]
        keep = rank < max_neighbors
    else:
        last = starts + np.minimum(counts, max_neighbors) - 1  # index of the M-th neighbour
        threshold = np.full(n_atoms, -np.inf)
        has = counts > 0
        threshold[has] = distances[last[has]] + tie_tolerance
        keep = distances <= threshold[receivers]
    return receivers[keep], senders[keep], unit_shifts[keep], distances[keep]


def nearest_table(
    positions: np.ndarray,
    cell: np.ndarray,
    max_neighbors: int,
    cutoff: float,
    receivers: np.ndarray | None = None,
    senders: np.ndarray | None = None,
    tie_tolerance: float = 1e-6,
    frame: int | None = None,
    radius: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exactly ``max_neighbors`` nearest periodic neighbours per receiver, as a dense table.

    The fixed-width form of :func:`nearest_pairs` with ``ties="truncate"``
    (same neighbours, same order: distance quantised to ``tie_tolerance``,
    then sender index), for a subset of receivers and of allowed senders.
    GDyNet stores these tables frame by frame (8 bytes per neighbour).

    Parameters
    ----------
    positions : ndarray, shape (N, 3), Å
        Wrapped or unwrapped; the cell is periodic in all three directions.
    cell : ndarray, shape (3, 3), Å
        Lattice vectors as rows.
    max_neighbors : int
        ``M``.
    cutoff : float, Å
        Every receiver needs ``M`` allowed neighbours within it.
    receivers : ndarray of int, shape (R,), optional
        Atoms that get a row (default: all, in order).
    senders : ndarray of bool, shape (N,), optional
        Atoms allowed as neighbours (default: all).
    tie_tolerance : float, Å
    frame : int, optional
        Frame number for the error message.
    radius : float, Å, optional
        Search this radius first (default: one holding ~``2 M + 4`` allowed
        senders at their mean density); the search falls back to ``cutoff``
        where it does not provably hold every receiver's ``M`` nearest, so
        it changes the speed, never the result. A trajectory reader passes the
        previous frame's largest ``M``-th distance plus a margin.

    Returns
    -------
    neighbors : ndarray of int32, shape (R, M)
        Atom indices, nearest first.
    distances : ndarray of float32, shape (R, M), Å

    Raises
    ------
    ParameterError
        A receiver has fewer than ``M`` allowed neighbours within ``cutoff``.
    """
    n_atoms = len(positions)
    pbc = np.ones(3, dtype=bool)
    rows = np.arange(n_atoms) if receivers is None else np.asarray(receivers, dtype=np.int64)
    n_senders = n_atoms if senders is None else int(np.count_nonzero(senders))
    # a first radius from the density of allowed senders, the cutoff where it is too short
    if radius is None:
        radius = search_radius(n_senders, cell, pbc, max_neighbors)
    radius = min(radius, cutoff)
    while True:
        final = radius >= cutoff
        table = _table_within(
            positions, cell, rows, senders, max_neighbors, radius, tie_tolerance, final
        )
        if not isinstance(table, int):
            return table
        if final:
            break
        radius = cutoff
    where = "" if frame is None else f"frame {frame}: "
    raise ParameterError(
        f"{where}atom {int(rows[table])} has fewer than max_neighbors={max_neighbors} "
        f"neighbours within cutoff={cutoff} Å; raise cutoff or lower max_neighbors"
    )


def _table_within(positions, cell, rows, senders, max_neighbors, radius, tie_tolerance, final):
    """The table from pairs within ``radius``, or the row index of a receiver short of
    neighbours (unless ``final``, also one whose M-th neighbour's ties might reach past
    ``radius``)."""
    n_atoms, n_rows = len(positions), len(rows)
    if n_atoms <= DENSE_MAX_ATOMS:
        first, second, _, distances = all_pairs(positions, cell, np.ones(3, dtype=bool), radius)
    else:  # vesin's half list, mirrored: ~25 % faster than its full list
        half = NeighborList(cutoff=float(radius), full_list=False)
        i, j, d = half.compute(
            np.ascontiguousarray(positions, dtype=np.float64),
            np.ascontiguousarray(cell, dtype=np.float64),
            True,
            quantities="ijd",
        )
        # int64: vesin's uint64 indices would turn the int64 sort keys below into float64
        i, j = i.astype(np.int64), j.astype(np.int64)
        first, second = np.concatenate([i, j]), np.concatenate([j, i])
        distances = np.concatenate([d, d])
    keep = None
    if n_rows != n_atoms or np.any(rows != np.arange(n_atoms)):
        rank = np.full(n_atoms, -1, dtype=np.int64)
        rank[rows] = np.arange(n_rows)
        first = rank[first]
        keep = first >= 0
    if senders is not None:
        keep = senders[second] if keep is None else keep & senders[second]
    if keep is not None:  # copying every pair when all are kept: ~1 ms of ~8 for 2,000 atoms
        first, second, distances = first[keep], second[keep], distances[keep]
    counts = np.bincount(first, minlength=n_rows)
    if n_rows and counts.min() < max_neighbors:
        return int(np.argmin(counts))
    # one integer key per pair: quantised distance, then sender (the "truncate" rule)
    key = np.round(distances / tie_tolerance).astype(np.int64) * n_atoms + second
    span = int(key.max(initial=0)) + 1
    if n_rows * span < 2**62:  # one sort by (row, key)
        order = np.argsort(first * span + key)
    else:
        order = np.lexsort((key, first))
    starts = np.zeros(n_rows, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    chosen = order[starts[:, None] + np.arange(max_neighbors)]  # [R, M] pair indices
    nearest_distance = distances[chosen]
    if not final and n_rows and nearest_distance[:, -1].max() + 2 * tie_tolerance >= radius:
        return int(np.argmax(nearest_distance[:, -1]))  # ties could lie beyond the radius
    return second[chosen].astype(np.int32), nearest_distance.astype(np.float32)


_ONES = np.ones(3)
_QUARTERS = np.full(3, 0.25)
#: Rows of at most this many (sender, image) entries are sorted whole to find each
#: atom's M-th distance: numpy's vectorised sort is faster there than a partition
#: (1.9 vs 2.4 µs CPU for 5 rows of 135), slower on longer rows.
SORT_MAX_ROW = 256


def small_cell_nearest(
    positions: np.ndarray,
    cell: np.ndarray,
    cutoff: float,
    max_neighbors: int,
    ties: TieRule = "keep",
    tie_tolerance: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float] | None:
    """:func:`nearest_pairs` for one small fully periodic cell, with little per-call overhead.

    The calculator and MD build one graph of a few atoms per step, where the
    fixed cost of a general search (cell lists, an adaptive radius tried
    first, numpy's 3x3 linear algebra) dominates, and so does the count of
    numpy calls (about 1 µs each whatever their size). Here the cell geometry
    is done in plain Python; every image within reach is enumerated once and
    the ``N² S`` squared distances come from one matrix product,
    ``|d + t|² = |d|² + 2 d·t + |t|²`` (as :func:`dense_pairs_batched`); each
    atom's ``max_neighbors``-th distance is found by sorting its row of
    squared distances (a partition on long rows, see :data:`SORT_MAX_ROW`),
    and only the pairs up to it (plus the tie tolerance) are ordered: the same
    edges as :func:`nearest_pairs`, grouped by receiver and sorted by
    distance, with distances equal to within ~1e-14 Å. Small arrays are
    indexed with ``take`` and products, not fancy indexing or broadcasting,
    which cost several times more per call at this size.

    Parameters
    ----------
    positions : ndarray, shape (N, 3), Å
    cell : ndarray, shape (3, 3), Å
        Every axis periodic.
    cutoff, max_neighbors, ties, tie_tolerance
        As :func:`nearest_pairs`.

    Returns
    -------
    (receivers, senders, unit_shifts, distances, min_distance), or None when
    the cell is singular or too large for the dense enumeration (then use
    :func:`nearest_pairs`). ``min_distance`` is the shortest pair distance,
    or inf when some atom has no neighbour within ``cutoff`` (the caller
    reports it).
    """
    n_atoms = len(positions)
    if n_atoms > DENSE_MAX_ATOMS:
        return None
    (a1, a2, a3), (b1, b2, b3), (c1, c2, c3) = cell.tolist()
    # numpy's cross/det/solve cost more than this whole search on a 3x3 cell
    n00, n01, n02 = b2 * c3 - b3 * c2, b3 * c1 - b1 * c3, b1 * c2 - b2 * c1  # b x c
    n10, n11, n12 = c2 * a3 - c3 * a2, c3 * a1 - c1 * a3, c1 * a2 - c2 * a1  # c x a
    n20, n21, n22 = a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1  # a x b
    det = a1 * n00 + a2 * n01 + a3 * n02
    volume = abs(det)
    if volume <= 1e-12:
        return None
    # the longest half-diagonal bounds every minimum-image vector
    x, y, z, u, v, w = a1 + b1, a2 + b2, a3 + b3, a1 - b1, a2 - b2, a3 - b3
    longest = 0.5 * math.sqrt(max(
        (x + c1) ** 2 + (y + c2) ** 2 + (z + c3) ** 2,
        (x - c1) ** 2 + (y - c2) ** 2 + (z - c3) ** 2,
        (u + c1) ** 2 + (v + c2) ** 2 + (w + c3) ** 2,
        (u - c1) ** 2 + (v - c2) ** 2 + (w - c3) ** 2,
    ))  # fmt: skip
    inverse = np.array((
        (n00 / det, n10 / det, n20 / det),
        (n01 / det, n11 / det, n21 / det),
        (n02 / det, n12 / det, n22 / det),
    ))  # fmt: skip
    fractional = positions @ inverse  # [N, 3]
    difference = _pair_differences(n_atoms) @ fractional  # f_j - f_i [N*N, 3], exact
    wrap = difference.round()
    difference -= wrap
    minimum_image = difference @ cell  # [N*N, 3], Å
    # squared lengths as products with ones: half the cost of einsum on such small arrays
    lengths = ((minimum_image * minimum_image) @ _ONES)[:, None]  # [N*N, 1]
    # plane spacing along each axis is volume / |normal|
    x, y, z = (
        math.sqrt(n00 * n00 + n01 * n01 + n02 * n02) / volume,
        math.sqrt(n10 * n10 + n11 * n11 + n12 * n12) / volume,
        math.sqrt(n20 * n20 + n21 * n21 + n22 * n22) / volume,
    )
    # first a sphere expected to hold about 2M + 4 atoms (as search_radii); if some
    # atom's M-th neighbour is not safely inside it, the whole cutoff
    expected = (3.0 * (2.0 * max_neighbors + 4) * volume / (4.0 * math.pi * n_atoms)) ** (1 / 3)
    for radius in (expected, cutoff) if expected < cutoff else (cutoff,):
        images = (
            math.ceil(radius * x + 0.5),
            math.ceil(radius * y + 0.5),
            math.ceil(radius * z + 0.5),
        )
        shifts, doubled_shifts = _doubled_grid(images)
        if n_atoms * n_atoms * len(shifts) > DENSE_MAX_VECTORS:
            return None
        # translations t kept doubled, so that 2 d.t comes out of the product below
        # (scaling by 2 or 1/4 is exact: the same numbers as with t)
        doubled = doubled_shifts @ cell  # 2 t [S, 3]
        translation_lengths = (doubled * doubled) @ _QUARTERS  # |t|²
        reach = radius * 1.001 + longest
        useful = (translation_lengths <= reach * reach).nonzero()[0]
        zero = int(useful.searchsorted(len(shifts) // 2))  # the grid's centre: no shift
        n_images = len(useful)
        squared = minimum_image @ doubled.take(useful, axis=0).T  # [N*N, S]; sums in place
        squared += lengths
        squared += translation_lengths.take(useful)
        squared = squared.reshape(n_atoms, -1)  # [N, N*S]: row i, column j*S + s
        squared.reshape(-1)[zero :: (n_atoms + 1) * n_images].fill(np.inf)  # not its own
        k = min(max_neighbors, squared.shape[1]) - 1
        ordered = squared.copy()  # ndarray methods: np.sort/np.partition add a Python wrapper
        if ordered.shape[1] <= SORT_MAX_ROW:
            ordered.sort(axis=1)
        else:
            ordered.partition(k, axis=1)
        kth = np.sqrt(ordered[:, k])  # each atom's M-th distance (>= radius: too few)
        farthest = max(kth.tolist())  # plain Python: faster on a few rows
        if radius == cutoff or farthest + 2 * tie_tolerance < radius:
            break
    # "keep": the pairs up to the M-th distance plus the tie tolerance are the edges;
    # "truncate": twice the tolerance, the candidates of select_nearest's rounded order
    bound = kth + (tie_tolerance if ties == "keep" else 2 * tie_tolerance)
    bound *= bound
    inside = math.nextafter(radius * radius, 0.0)  # pairs closer than the radius
    isolated = False
    if farthest + 2 * tie_tolerance >= radius:  # some atom has fewer than M neighbours
        np.minimum(bound, inside, out=bound)
        isolated = ordered[:, : k + 1].min(axis=1).max() > inside
    flat = (squared <= bound[:, None]).ravel().nonzero()[0]  # i * N*S + j * S + s, ascending
    found = squared.take(flat)
    # distance 0 (coincident atoms) is kept: the caller names the pair
    min_distance = math.inf if isolated else math.sqrt(found.min())
    receivers = flat // (n_atoms * n_images)
    if ties == "keep":  # grouped by receiver (already: receivers stay), then by distance
        order = np.lexsort((found, receivers))
        flat, found = flat.take(order), found.take(order)
    pair = flat // n_images  # i * N + j
    unit_shifts = shifts.take(useful.take(flat % n_images), axis=0)
    unit_shifts -= wrap.astype(np.int64).take(pair, axis=0)
    selected = (receivers, pair % n_atoms, unit_shifts, np.sqrt(found))
    if ties != "keep":
        selected = select_nearest(*selected, n_atoms, max_neighbors, ties, tie_tolerance)
    return (*selected, min_distance)
