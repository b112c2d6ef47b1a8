"""The crystal multigraph of a periodic solid (thesis ch. 1.3, 2.3.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from asegraph.exceptions import ParameterError, StructureError
from asegraph.graph.neighbors import TIE_RULES, TieRule, all_pairs, select_nearest
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
    if not np.isfinite(cutoff) or cutoff <= 0:
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
    label = structure_name(structure, name)
    atoms = to_atoms(structure, label)
    positions = np.asarray(atoms.positions, dtype=np.float64)
    cell = np.asarray(atoms.cell.array, dtype=np.float64)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    numbers = np.asarray(atoms.numbers, dtype=np.int64)

    receivers, senders, shifts, distances = all_pairs(positions, cell, pbc, cutoff)
    _check_overlaps(atoms, label, receivers, senders, distances)
    receivers, senders, shifts, distances = select_nearest(
        receivers, senders, shifts, distances, len(numbers), int(max_neighbors), ties
    )
    _check_isolated(atoms, label, receivers, cutoff)
    return CrystalGraph(
        numbers=numbers,
        positions=positions.copy(),
        cell=cell.copy(),
        pbc=pbc.copy(),
        edge_index=np.stack([senders, receivers]),
        unit_shifts=shifts,
        distances=distances,
        cutoff=float(cutoff),
        max_neighbors=int(max_neighbors),
        ties=ties,
        name=label,
    )


def _check_overlaps(atoms, label, receivers, senders, distances) -> None:
    if len(distances) == 0:
        return
    k = int(np.argmin(distances))
    if distances[k] < MIN_DISTANCE:
        i, j = int(receivers[k]), int(senders[k])
        what = (
            f"atom {i} ({atoms[i].symbol}) is {distances[k]:.3g} Å from its own periodic image"
            if i == j
            else f"atoms {i} ({atoms[i].symbol}) and {j} ({atoms[j].symbol}) are "
            f"{distances[k]:.3g} Å apart"
        )
        raise StructureError(
            f"structure {label!r}: {what} (closer than {MIN_DISTANCE} Å); remove duplicated "
            "atoms or fix the cell"
        )


def _check_isolated(atoms, label, receivers, cutoff) -> None:
    counts = np.bincount(receivers, minlength=len(atoms))
    if (counts == 0).any():
        i = int(np.flatnonzero(counts == 0)[0])
        raise StructureError(
            f"structure {label!r}: atom {i} ({atoms[i].symbol}) has no neighbour within "
            f"cutoff={cutoff:g} Å; raise cutoff"
        )
