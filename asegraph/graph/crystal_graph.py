"""The crystal multigraph of a periodic solid (thesis ch. 1.3, 2.3.1)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from ase import Atoms

from asegraph.exceptions import ParameterError, StructureError
from asegraph.graph.neighbors import (
    DENSE_MAX_ATOMS,
    DENSE_MAX_VECTORS,
    TIE_RULES,
    TieRule,
    all_pairs,
    dense_pairs_batched,
    image_ranges,
    nearest_pairs,
    search_radii,
    select_nearest,
    small_cell_nearest,
)
from asegraph.graph.structures import MAX_ATOMIC_NUMBER, structure_name, to_atoms

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
    chunk_size: int = 64,
) -> list[CrystalGraph | StructureError]:
    """Crystal graphs of many structures; the same result as :func:`build_graph` on each.

    Small fully periodic cells (up to 16 atoms) are grouped by size and
    searched together in one vectorised pass, which removes the per-call
    overhead that dominates for a few atoms; other structures, and any whose
    shortcut cannot prove its result, go through :func:`build_graph`.

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
    chunk_size : int
        Structures searched together (bounds the memory of the dense pass).

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
    results: list[CrystalGraph | StructureError | None] = [None] * len(structures)

    def single(k: int) -> None:
        try:
            results[k] = build_graph(structures[k], cutoff, max_neighbors, ties, names[k])
        except StructureError as exc:
            if errors == "raise":
                raise
            results[k] = exc

    small: list[tuple[int, Atoms]] = []
    for k, structure in enumerate(structures):
        # Small periodic Atoms are validated together below; the rest one by one.
        if isinstance(structure, Atoms) and 0 < len(structure) <= DENSE_MAX_ATOMS:
            if structure.pbc.all():
                small.append((k, structure))
                continue
        single(k)
    groups: dict[tuple, list[tuple[int, Atoms, float]]] = defaultdict(list)
    if small:
        n_atoms = np.array([len(atoms) for _, atoms in small])
        cells = np.stack([atoms.cell.array for _, atoms in small])
        suspect = ~_look_valid(small, cells)
        for index in np.flatnonzero(~suspect):  # the dense search drops distance-0 pairs too
            atoms = small[index][1]
            suspect[index] = _coincident_pair(atoms.positions, cells[index], atoms.pbc) is not None
        for index in np.flatnonzero(suspect)[::-1]:  # full checks, proper messages
            single(small.pop(index)[0])
        n_atoms, cells = n_atoms[~suspect], cells[~suspect]
    if small:
        radii = search_radii(n_atoms, cells, max_neighbors)
        images = image_ranges(cells, np.where(np.isfinite(radii), radii, 0.0))
        work = n_atoms**2 * np.prod(2 * images + 1, axis=1)
        for (k, atoms), n, radius, image, cost in zip(small, n_atoms, radii, images, work):
            if radius < cutoff and cost <= DENSE_MAX_VECTORS:
                groups[(int(n), tuple(image))].append((k, atoms, float(radius)))
            else:
                single(k)
    for (n_atoms, images), members in groups.items():
        for start in range(0, len(members), chunk_size):
            chunk = members[start : start + chunk_size]
            for k, graph in _dense_chunk(
                chunk, n_atoms, images, cutoff, max_neighbors, ties, names
            ):
                if graph is None:
                    single(k)  # the shortcut could not prove its result
                else:
                    results[k] = graph
    return results  # type: ignore[return-value]


def _look_valid(small: list[tuple[int, Atoms]], cells: np.ndarray) -> np.ndarray:
    """Vectorised version of the cheap structure checks, one bool per structure."""
    positions = [atoms.positions for _, atoms in small]
    numbers = [atoms.numbers for _, atoms in small]
    sizes = np.array([len(n) for n in numbers])
    owner = np.repeat(np.arange(len(small)), sizes)
    flat_numbers = np.concatenate(numbers)
    bad_atom = ~np.isfinite(np.concatenate(positions)).all(axis=1)
    bad_atom |= (flat_numbers < 1) | (flat_numbers > MAX_ATOMIC_NUMBER)
    bad = np.bincount(owner, weights=bad_atom, minlength=len(small)) > 0
    finite = np.isfinite(cells).all(axis=(1, 2))
    scale = np.where(finite, np.abs(np.where(finite[:, None, None], cells, 0)).max(axis=(1, 2)), 0)
    volume = np.abs(np.linalg.det(np.where(finite[:, None, None], cells, 0)))
    return ~bad & finite & (scale > 0) & (volume > 1e-6 * scale**3)


def _dense_chunk(chunk, n_atoms, images, cutoff, max_neighbors, ties, names):
    """Graphs of same-size small cells from one batched dense search (None: fall back)."""
    tolerance = 1e-6
    positions = np.stack([atoms.positions for _, atoms, _ in chunk]).astype(np.float64)
    cells = np.stack([atoms.cell.array for _, atoms, _ in chunk]).astype(np.float64)
    radii = np.array([radius for _, _, radius in chunk])
    n_total = len(chunk) * n_atoms
    pairs = dense_pairs_batched(positions, cells, radii, images)
    receivers, senders, shifts, distances = select_nearest(
        *pairs, n_total, max_neighbors, ties, tolerance
    )
    counts = np.bincount(pairs[0], minlength=n_total)
    farthest = np.zeros(n_total)
    np.maximum.at(farthest, receivers, distances)
    closest = np.full(len(chunk), np.inf)
    np.minimum.at(closest, pairs[0] // n_atoms, pairs[3])
    atom_ok = (counts >= max_neighbors) & (farthest + 2 * tolerance < np.repeat(radii, n_atoms))
    ok = atom_ok.reshape(len(chunk), n_atoms).all(axis=1) & (closest >= MIN_DISTANCE)
    bounds = np.searchsorted(receivers, np.arange(len(chunk) + 1) * n_atoms)
    for b, (k, atoms, _) in enumerate(chunk):
        if not ok[b]:
            yield k, None
            continue
        lo, hi = bounds[b], bounds[b + 1]
        offset = b * n_atoms
        yield (
            k,
            CrystalGraph(
                numbers=np.asarray(atoms.numbers, dtype=np.int64),
                positions=positions[b],
                cell=cells[b],
                pbc=np.ones(3, dtype=bool),
                edge_index=np.stack([senders[lo:hi] - offset, receivers[lo:hi] - offset]),
                unit_shifts=shifts[lo:hi],
                distances=distances[lo:hi],
                cutoff=float(cutoff),
                max_neighbors=int(max_neighbors),
                ties=ties,
                name=names[k] if names[k] is not None else "",
            ),
        )
