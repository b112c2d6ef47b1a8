"""Per-frame periodic neighbour graphs for GDyNet, stored compactly.

Each frame keeps, for every *row* atom, the node indices (int32) and
distances (float32, Å) of its ``M`` nearest allowed neighbours: ``8 R M``
bytes per frame. The rows are

* ``receptive_field="multi-shell"`` (the thesis' Eq. 4.4, default): every
  *node* — the targets plus the atoms allowed as neighbours — so that ``n``
  stacked convolutions carry information from the ``n``-th neighbour shell;
* ``receptive_field="first-shell"``: the targets only (faster, smaller; a
  target sees its neighbours' species and distances, nothing beyond).

Neighbours come from the project's one k-nearest search,
:func:`asegraph.graph.neighbors.nearest_table` (vesin cell lists; any
triclinic box, changing from frame to frame; ties at the ``M``-th distance
broken by atom index), so no separate preprocessing step is needed. The store
can live in memory or in a memory-mapped ``.npy`` pair for trajectories
longer than RAM.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asegraph.exceptions import ParameterError
from asegraph.graph.neighbors import nearest_table

RECEPTIVE_FIELDS = ("multi-shell", "first-shell")


class FrameGraphs:
    """Builds one frame's neighbour table; keeps the node layout of the graph.

    Parameters
    ----------
    n_atoms : int
        Atoms in the system.
    targets : ndarray of int, shape (T,)
        Atom indices of the targets.
    environment : ndarray of bool, shape (N,), optional
        Atoms allowed as neighbours (default: all).
    max_neighbors : int
        ``M``.
    cutoff : float, Å
    receptive_field : {"multi-shell", "first-shell"}

    Attributes
    ----------
    nodes : ndarray of int64, shape (Nn,)
        Atom index of every graph node (targets and allowed neighbours), sorted.
    row_nodes : ndarray of int64, shape (R,)
        Node index of every stored row (all nodes, or the targets).
    target_rows : ndarray of int64, shape (T,)
        Row of each target.
    """

    def __init__(
        self,
        n_atoms: int,
        targets: np.ndarray,
        environment: np.ndarray | None,
        max_neighbors: int,
        cutoff: float,
        receptive_field: str = "multi-shell",
    ) -> None:
        if receptive_field not in RECEPTIVE_FIELDS:
            raise ParameterError(
                f"receptive_field must be one of {RECEPTIVE_FIELDS}, got {receptive_field!r}"
            )
        self.targets = np.asarray(targets, dtype=np.int64)
        self.environment = environment
        self.max_neighbors, self.cutoff = int(max_neighbors), float(cutoff)
        self.receptive_field = receptive_field
        in_graph = np.ones(n_atoms, dtype=bool) if environment is None else environment.copy()
        in_graph[self.targets] = True
        self.nodes = np.flatnonzero(in_graph)
        self.node_of_atom = np.full(n_atoms, -1, dtype=np.int32)
        self.node_of_atom[self.nodes] = np.arange(len(self.nodes), dtype=np.int32)
        target_nodes = self.node_of_atom[self.targets].astype(np.int64)
        if receptive_field == "multi-shell":
            self.row_atoms = self.nodes
            self.row_nodes = np.arange(len(self.nodes), dtype=np.int64)
            self.target_rows = target_nodes
        else:
            self.row_atoms = self.targets
            self.row_nodes = target_nodes
            self.target_rows = np.arange(len(self.targets), dtype=np.int64)
        self.radius: float | None = None  # adapted from frame to frame

    @property
    def n_rows(self) -> int:
        return len(self.row_atoms)

    def __call__(
        self, positions: np.ndarray, cell: np.ndarray, frame: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour node indices (int32, [R, M]) and distances (float32, [R, M], Å)."""
        neighbors, distances = nearest_table(
            positions,
            cell,
            self.max_neighbors,
            self.cutoff,
            receivers=self.row_atoms,
            senders=self.environment,
            frame=frame,
            radius=self.radius,
        )
        # next frame: start from this frame's farthest M-th neighbour plus a margin
        self.radius = float(distances[:, -1].max()) + 0.3
        return self.node_of_atom[neighbors], distances


class GraphStore:
    """Neighbour tables of ``n_frames`` frames.

    Parameters
    ----------
    n_frames : int
    n_rows : int
        Rows per frame (see :class:`FrameGraphs`).
    max_neighbors : int
    path : path, optional
        If given, the arrays are memory-mapped ``.npy`` files
        ``<path>.neighbors.npy`` and ``<path>.distances.npy`` (bounded RAM for
        long trajectories); otherwise they are held in memory.

    Attributes
    ----------
    neighbors : ndarray of int32, shape (n_frames, R, M)
        Node indices.
    distances : ndarray of float32, shape (n_frames, R, M), Å
    times : ndarray of float64, shape (n_frames,), ps
    """

    def __init__(
        self, n_frames: int, n_rows: int, max_neighbors: int, path: str | Path | None = None
    ) -> None:
        shape = (n_frames, n_rows, max_neighbors)
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
