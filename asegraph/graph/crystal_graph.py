"""The crystal multigraph of a periodic solid (thesis ch. 1.3, 2.3.1)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from asegraph.exceptions import ParameterError, StructureError
from asegraph.graph.neighbors import (
    TIE_RULES,
    TieRule,
    all_pairs,
    nearest_pairs,
    small_cell_nearest,
)
from asegraph.graph.structures import structure_name, to_atoms

#: Atoms closer than this (Å) are reported as overlapping.
MIN_DISTANCE = 0.1


@dataclass(frozen=True)
class CrystalGraph:
    """A periodic multigraph: one node per atom, one edge per (neighbour, image).

    Attributes
    ----------
    numbers : ndarray of int64, shape (N,)
        Atomic numbers.
    positions : ndarray of float64, shape (N, 3), Å
    cell : ndarray of float64, shape (3, 3), Å
        Lattice vectors as rows (zeros along non-periodic axes are allowed).
    pbc : ndarray of bool, shape (3,)
    edge_index : ndarray of int64, shape (2, E)
        Row 0 is the sender ``j``, row 1 the receiver ``i``; edges are grouped
        by receiver and sorted by distance within each receiver.
    unit_shifts : ndarray of int64, shape (E, 3)
        Image of the sender: the edge vector is
        ``positions[j] - positions[i] + unit_shifts @ cell``.
    distances : ndarray of float64, shape (E,), Å
    cutoff : float, Å
    max_neighbors : int
    ties : {"keep", "truncate"}
    name : str
        Label used in messages.
    """

    numbers: np.ndarray
    positions: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    edge_index: np.ndarray
    unit_shifts: np.ndarray
    distances: np.ndarray
    cutoff: float
    max_neighbors: int
    ties: str
    name: str = ""

    @property
    def n_atoms(self) -> int:
        return int(len(self.numbers))

    @property
    def n_edges(self) -> int:
        return int(self.edge_index.shape[1])

    def edge_vectors(self) -> np.ndarray:
        """Edge vectors from receiver to the sender's image, shape (E, 3), Å."""
        senders, receivers = self.edge_index
        return self.positions[senders] - self.positions[receivers] + self.unit_shifts @ self.cell


def check_graph_settings(cutoff: float, max_neighbors: int, ties: str) -> None:
    """Validate the graph parameters shared by every builder."""
    if not math.isfinite(cutoff) or cutoff <= 0:
        raise ParameterError(f"cutoff must be a positive distance in Å, got {cutoff!r}")
    if int(max_neighbors) != max_neighbors or max_neighbors < 1:
        raise ParameterError(f"max_neighbors must be a positive integer, got {max_neighbors!r}")
    if ties not in TIE_RULES:
        raise ParameterError(
            f"ties must be one of {TIE_RULES} ('keep' for new models, 'truncate' for models "
            f"imported from the original CGCNN code), got {ties!r}"
        )


def build_graph(
    structure: Any,
    cutoff: float = 8.0,
    max_neighbors: int = 12,
    ties: TieRule = "keep",
    name: str | None = None,
) -> CrystalGraph:
    """Build the crystal multigraph of a structure.

    Each atom receives edges from its ``max_neighbors`` nearest neighbours
    within ``cutoff`` (through any periodic image, so a pair of atoms may be
    joined several times and an atom may neighbour its own images).

    Parameters
    ----------
    structure : ase.Atoms | pymatgen.core.Structure | pymatgen.core.Molecule
        Periodic, partly periodic (slab) or non-periodic (molecule) input.
    cutoff : float, default 8.0
        Search radius, Å.
    max_neighbors : int, default 12
        Neighbours kept per atom (the ``M`` of the thesis).
    ties : {"keep", "truncate"}, default "keep"
        What to do with neighbours tied with the ``M``-th; see
        :mod:`asegraph.graph.neighbors`.
    name : str, optional
        Label for error messages, e.g. the file name.

    Returns
    -------
    CrystalGraph

    Raises
    ------
    StructureError
        Invalid structure, an atom with no neighbour within ``cutoff``, or two
        atoms closer than 0.1 Å.

    Examples
    --------
    >>> from ase.build import bulk
    >>> graph = build_graph(bulk("NaCl", "rocksalt", a=5.64))
    >>> graph.n_atoms, graph.edge_index.shape[0]
    (2, 2)
    """
    check_graph_settings(cutoff, max_neighbors, ties)
    atoms = to_atoms(structure, name)
    # copies (the graph owns them); astype is the cheapest copy numpy offers
    positions = atoms.positions.astype(np.float64)
    cell = atoms.cell.array.astype(np.float64)
    pbc = atoms.pbc.astype(bool)
    numbers = atoms.numbers.astype(np.int64)

    found = None
    if all(pbc.tolist()):  # one small cell (the calculator, MD): the low-overhead search, which
        # also sees atoms at one position (distance 0) and atoms without neighbours (inf)
        found = small_cell_nearest(positions, cell, float(cutoff), int(max_neighbors), ties)
    if found is not None:
        receivers, senders, shifts, distances, min_distance = found
        valid = MIN_DISTANCE <= min_distance < math.inf
    else:
        coincident = _coincident_pair(positions, cell, pbc)
        if coincident is not None:
            _raise_overlap(atoms, structure_name(structure, name), positions, cell, pbc, coincident)
        receivers, senders, shifts, distances, min_distance = nearest_pairs(
            positions, cell, pbc, cutoff, int(max_neighbors), ties
        )
        # receivers come grouped (ascending): an atom without neighbours is a missing value
        valid = min_distance >= MIN_DISTANCE and (
            len(receivers) > 0 and np.count_nonzero(np.diff(receivers)) + 1 == len(numbers)
        )
    if not valid:  # say what is wrong: overlapping atoms first, then an isolated atom
        label = structure_name(structure, name)
        pair = _coincident_pair(positions, cell, pbc)  # distance 0 is not in a neighbour list
        if pair is not None or len(all_pairs(positions, cell, pbc, MIN_DISTANCE)[0]):
            _raise_overlap(atoms, label, positions, cell, pbc, pair)
        _raise_isolated(atoms, label, receivers, cutoff)
    return CrystalGraph(
        numbers=numbers,
        positions=positions,
        cell=cell,
        pbc=pbc,
        edge_index=np.concatenate((senders, receivers)).reshape(2, -1),
        unit_shifts=shifts,
        distances=distances,
        cutoff=float(cutoff),
        max_neighbors=int(max_neighbors),
        ties=ties,
        name=name if name is not None else "",
    )


def _coincident_pair(positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray):
    """Two atoms at exactly the same (periodically wrapped) position, or None.

    Neighbour lists drop pairs at distance zero, so the minimum-distance check
    alone never sees them.
    """
    if len(positions) < 2:
        return None
    key = positions
    if abs(np.linalg.det(cell)) > 1e-12:
        key = np.linalg.solve(cell.T, positions.T).T  # fractional coordinates [N, 3]
        key[:, pbc] = np.round(key[:, pbc], 12) % 1.0
    key = np.round(key, 12)
    order = np.lexsort(key.T[::-1])
    same = np.all(key[order[1:]] == key[order[:-1]], axis=1)
    if not same.any():
        return None
    k = int(np.argmax(same))
    return tuple(sorted((int(order[k]), int(order[k + 1]))))


def _raise_overlap(atoms, label, positions, cell, pbc, pair=None) -> None:
    """Name the closest pair (or ``pair``, at distance 0) closer than MIN_DISTANCE."""
    if pair is None:
        receivers, senders, _, distances = all_pairs(positions, cell, pbc, MIN_DISTANCE)
        k = int(np.argmin(distances))
        i, j, distance = int(receivers[k]), int(senders[k]), distances[k]
    else:
        (i, j), distance = pair, 0.0
    what = (
        f"atom {i} ({atoms[i].symbol}) is {distance:.3g} Å from its own periodic image"
        if i == j
        else f"atoms {i} ({atoms[i].symbol}) and {j} ({atoms[j].symbol}) are {distance:.3g} Å apart"
    )
    raise StructureError(
        f"structure {label!r}: {what} (closer than {MIN_DISTANCE} Å); remove duplicated "
        "atoms or fix the cell"
    )


def _raise_isolated(atoms, label, receivers, cutoff) -> None:
    counts = np.bincount(receivers, minlength=len(atoms))
    i = int(np.flatnonzero(counts == 0)[0])
    raise StructureError(
        f"structure {label!r}: atom {i} ({atoms[i].symbol}) has no neighbour within "
        f"cutoff={cutoff:g} Å; raise cutoff"
    )


def build_graphs(
    structures: Sequence[Any],
    cutoff: float = 8.0,
    max_neighbors: int = 12,
    ties: TieRule = "keep",
    names: Sequence[str | None] | None = None,
    errors: Literal["raise", "return"] = "raise",
) -> list[CrystalGraph | StructureError]:
    """Crystal graphs of many structures: :func:`build_graph` on each.

    One call per structure is the fastest path: the single-cell search of a
    small cell (:func:`~asegraph.graph.neighbors.small_cell_nearest`) beats a
    search batched over many cells, which this function ran before (1.4x slower
    per structure on ``carbon_24``, 6–24 atoms; ``benchmarks/graph_construction.py``).

    Parameters
    ----------
    structures : sequence of ase.Atoms | pymatgen Structure | Molecule
    cutoff, max_neighbors, ties
        As :func:`build_graph`.
    names : sequence of str, optional
        Labels for error messages, one per structure.
    errors : {"raise", "return"}
        On an invalid structure, raise its :class:`StructureError`, or put the
        error in its place in the returned list and go on.

    Returns
    -------
    list of CrystalGraph (or StructureError with ``errors="return"``)
    """
    check_graph_settings(cutoff, max_neighbors, ties)
    if errors not in ("raise", "return"):
        raise ParameterError(f"errors must be 'raise' or 'return', got {errors!r}")
    structures = list(structures)
    names = list(names) if names is not None else [None] * len(structures)
    if len(names) != len(structures):
        raise ParameterError(f"got {len(names)} names for {len(structures)} structures")
    results: list[CrystalGraph | StructureError] = []
    for structure, name in zip(structures, names):
        try:
            results.append(build_graph(structure, cutoff, max_neighbors, ties, name))
        except StructureError as exc:
            if errors == "raise":
                raise
            results.append(exc)
    return results
