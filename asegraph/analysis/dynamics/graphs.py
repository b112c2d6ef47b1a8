"""Per-frame periodic neighbour graphs around the target atoms, stored compactly.

For each frame only what training needs is kept: the indices (int32) and
distances (float32, Å) of the ``M`` nearest neighbours of each of the ``T``
target atoms, i.e. ``8 T M`` bytes per frame. Neighbours come from vesin's
cell lists (any triclinic box, changing from frame to frame), so no separate
preprocessing step is needed. The store can live in memory or in a
memory-mapped ``.npy`` pair for trajectories longer than RAM.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from vesin import NeighborList

from asegraph.exceptions import ParameterError


def search_radius(n_atoms: int, volume: float, max_neighbors: int, cutoff: float) -> float:
    """A first search radius, Å: holds ~3x ``max_neighbors`` atoms at the mean density.

    :func:`target_neighbors` falls back to ``cutoff`` in the frames where some
    target has fewer than ``max_neighbors`` atoms within it, so the radius only
    changes the speed, never the result.
    """
    density = n_atoms / volume  # atoms / Å³
    return float(min(cutoff, (3 * 3 * max_neighbors / (4 * np.pi * density)) ** (1 / 3)))


def target_neighbors(
    positions: np.ndarray,
    cell: np.ndarray,
    targets: np.ndarray,
    max_neighbors: int,
    cutoff: float,
    frame: int = 0,
    environment: np.ndarray | None = None,
    radius: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``max_neighbors`` nearest periodic neighbours of each target atom.

    Parameters
    ----------
    positions : ndarray, shape (N, 3), Å
    cell : ndarray, shape (3, 3), Å
        Lattice vectors as rows (periodic in all three directions).
    targets : ndarray of int, shape (T,)
        Atom indices of the targets.
    max_neighbors : int
        ``M``.
    cutoff : float, Å
        Search radius; every target needs at least ``M`` neighbours within it.
    frame : int
        Frame number, for error messages.
    environment : ndarray of bool, shape (N,), optional
        Atoms allowed as neighbours (default: all).
    radius : float, Å, optional
        Try this smaller radius first (see :func:`search_radius`).

    Returns
    -------
    neighbors : ndarray of int32, shape (T, M)
        Atom indices sorted by distance (ties by atom index). Which of several
        neighbours tied at the M-th distance is kept follows vesin's pair order
        (deterministic for a given input, but not geometry-only).
    distances : ndarray of float32, shape (T, M), Å
    """
    if radius is not None and radius < cutoff:
        found = _nearest_within(positions, cell, targets, max_neighbors, radius, environment)
        if isinstance(found, tuple):
            return found
    found = _nearest_within(positions, cell, targets, max_neighbors, cutoff, environment)
    if isinstance(found, tuple):
        return found
    raise ParameterError(
        f"frame {frame}: target atom {int(targets[found[0]])} has {found[1]} "
        f"neighbours within cutoff={cutoff} Å but max_neighbors={max_neighbors}; raise "
        f"cutoff or lower max_neighbors"
    )


def _nearest_within(positions, cell, targets, max_neighbors, radius, environment):
    """(neighbors, distances), or [index of a short target, its count] if one has < M."""
    calculator = NeighborList(cutoff=float(radius), full_list=False)
    first, second, distances = calculator.compute(
        np.ascontiguousarray(positions, dtype=np.float64),
        np.ascontiguousarray(cell, dtype=np.float64),
        True,
        quantities="ijd",
    )
    receivers = np.concatenate([first, second])  # half list -> both directions
    senders = np.concatenate([second, first])
    distances = np.concatenate([distances, distances])
    n_targets = len(targets)
    all_targets = (
        n_targets == len(positions)
        and environment is None
        and bool(np.all(targets == np.arange(n_targets)))
    )
    if not all_targets:  # keep the pairs whose receiver is a target (and sender allowed)
        rank = np.full(len(positions), -1, dtype=np.int64)
        rank[targets] = np.arange(n_targets)
        receivers = rank[receivers]
        keep = receivers >= 0
        if environment is not None:
            keep &= environment[senders]
        receivers, senders, distances = receivers[keep], senders[keep], distances[keep]
    key = receivers.astype(np.uint16) if n_targets < 2**16 else receivers
    order = np.argsort(key, kind="stable")  # radix sort for uint16: group pairs by target
    counts = np.bincount(receivers, minlength=n_targets)
    if counts.min() < max_neighbors:
        worst = int(np.argmin(counts))
        return [worst, int(counts[worst])]
    starts = np.zeros(n_targets, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    column = np.empty(len(order), dtype=np.int64)
    column[order] = np.arange(len(order)) - starts[receivers[order]]  # slot within its target
    padded = np.full((n_targets, int(counts.max())), np.inf)  # [T, max count], Å
    padded[receivers, column] = distances
    index = np.zeros(padded.shape, dtype=np.int64)
    index[receivers, column] = senders
    if padded.shape[1] > max_neighbors:
        nearest = np.argpartition(padded, max_neighbors - 1, axis=1)[:, :max_neighbors]
        chosen = np.take_along_axis(padded, nearest, axis=1)  # [T, M]
        chosen_index = np.take_along_axis(index, nearest, axis=1)
    else:
        chosen, chosen_index = padded, index
    order = np.lexsort((chosen_index, chosen), axis=1)  # by distance, ties by atom index
    return (
        np.take_along_axis(chosen_index, order, axis=1).astype(np.int32),
        np.take_along_axis(chosen, order, axis=1).astype(np.float32),
    )


class GraphStore:
    """Neighbour lists of the targets for ``n_frames`` frames.

    Parameters
    ----------
    n_frames : int
    n_targets : int
    max_neighbors : int
    path : path, optional
        If given, the arrays are memory-mapped ``.npy`` files
        ``<path>.neighbors.npy`` and ``<path>.distances.npy`` (bounded RAM for
        long trajectories); otherwise they are held in memory.

    Attributes
    ----------
    neighbors : ndarray of int32, shape (n_frames, T, M)
    distances : ndarray of float32, shape (n_frames, T, M), Å
    times : ndarray of float64, shape (n_frames,), ps
    """

    def __init__(
        self, n_frames: int, n_targets: int, max_neighbors: int, path: str | Path | None = None
    ) -> None:
        shape = (n_frames, n_targets, max_neighbors)
        if path is None:
            self.neighbors = np.zeros(shape, dtype=np.int32)
            self.distances = np.zeros(shape, dtype=np.float32)
        else:
            from numpy.lib.format import open_memmap

            self.neighbors = open_memmap(f"{path}.neighbors.npy", "w+", np.int32, shape)
            self.distances = open_memmap(f"{path}.distances.npy", "w+", np.float32, shape)
        self.times = np.zeros(n_frames, dtype=np.float64)

    @property
    def n_frames(self) -> int:
        return int(self.neighbors.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the neighbour arrays."""
        return int(self.neighbors.nbytes + self.distances.nbytes + self.times.nbytes)

    def set_frame(
        self, index: int, neighbors: np.ndarray, distances: np.ndarray, time_ps: float
    ) -> None:
        self.neighbors[index] = neighbors
        self.distances[index] = distances
        self.times[index] = time_ps


def build_store(
    universe,
    targets: np.ndarray,
    max_neighbors: int = 12,
    cutoff: float = 6.0,
    start: int | None = None,
    stop: int | None = None,
    step: int | None = None,
    path: str | Path | None = None,
    progress: bool = False,
    environment: np.ndarray | None = None,
) -> GraphStore:
    """Stream ``universe.trajectory[start:stop:step]`` into a :class:`GraphStore`.

    Only the current frame's coordinates are in memory at any time.
    """
    from asegraph.analysis.dynamics.trajectory import check_box, frame_cell

    frames = universe.trajectory[start:stop:step]
    store = GraphStore(len(frames), len(targets), max_neighbors, path)
    iterator = frames
    if progress:
        from tqdm import tqdm

        iterator = tqdm(frames, desc="graphs", unit="frame")
    n_environment = len(universe.atoms) if environment is None else int(environment.sum())
    for index, ts in enumerate(iterator):
        check_box(ts.dimensions, ts.frame)
        cell = frame_cell(ts.dimensions)
        radius = search_radius(n_environment, abs(np.linalg.det(cell)), max_neighbors, cutoff)
        neighbors, distances = target_neighbors(
            ts.positions, cell, targets, max_neighbors, cutoff, ts.frame, environment, radius
        )
        store.set_frame(index, neighbors, distances, ts.time)
    return store
