"""Periodic images of small cells, enumerated densely (no cell lists).

For cells of a few atoms a cell-list search (vesin) costs more in fixed
overhead than computing every (atom, atom, image) distance; these are the
pieces of that enumeration that :mod:`asegraph.graph.neighbors` (one cell at
a time) and :func:`asegraph.graph.crystal_graph.build_graphs` (same-size
cells in batches) share. The searches themselves, their tie rules and the
selection of the nearest neighbours live in :mod:`asegraph.graph.neighbors`.
"""

from __future__ import annotations

import numpy as np

#: Cells with at most this many atoms use the dense image enumeration.
DENSE_MAX_ATOMS = 16
#: ... as long as it computes at most this many pair vectors.
DENSE_MAX_VECTORS = 60_000


def image_ranges(cells: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Periodic images needed per axis to find every pair within ``radii``.

    Valid for minimum-image fractional differences (each component in
    [-0.5, 0.5]), as used by :func:`dense_pairs_batched`.

    Parameters
    ----------
    cells : ndarray, shape (B, 3, 3), Å
    radii : ndarray, shape (B,), Å

    Returns
    -------
    ndarray of int64, shape (B, 3)
    """
    normals = np.cross(cells[:, [1, 2, 0]], cells[:, [2, 0, 1]])  # [B, 3, 3]
    volumes = np.abs(np.einsum("bk,bk->b", cells[:, 0], normals[:, 0]))  # [B]
    spacing = volumes[:, None] / np.linalg.norm(normals, axis=2)  # plane spacings [B, 3]
    return np.ceil(radii[:, None] / spacing + 0.5).astype(np.int64)


_SHIFT_GRIDS: dict[tuple[int, int, int], np.ndarray] = {}


def _shift_grid(images) -> np.ndarray:
    key = tuple(int(n) for n in images)
    if key not in _SHIFT_GRIDS:
        axes = [np.arange(-n, n + 1) for n in key]
        _SHIFT_GRIDS[key] = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    return _SHIFT_GRIDS[key]


def _dense_pairs(positions, cell, cutoff, images):
    """Pairs of a small fully periodic cell by enumerating every image (no cell list)."""
    return dense_pairs_batched(positions[None], cell[None], np.array([cutoff]), images)


def dense_pairs_batched(
    positions: np.ndarray, cells: np.ndarray, radii: np.ndarray, images
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of B periodic cells of N atoms each, by enumerating images.

    Squared distances of every (i, j, image) come from one batched matrix
    product, ``|d_ij + t_s|² = |d_ij|² + 2 d_ij·t_s + |t_s|²``, with ``d_ij``
    the minimum-image difference; the distances of the pairs found are then
    recomputed from their vectors, so they carry no cancellation error.

    Parameters
    ----------
    positions : ndarray, shape (B, N, 3), Å
    cells : ndarray, shape (B, 3, 3), Å
    radii : ndarray, shape (B,), Å
    images : sequence of 3 int
        Images per axis, enough for every cell (see :func:`image_ranges`).

    Returns
    -------
    receivers, senders : ndarray of int64, shape (P,)
        Global indices ``b * N + i``.
    unit_shifts : ndarray of int64, shape (P, 3)
    distances : ndarray of float64, shape (P,), Å
    """
    n_atoms = positions.shape[1]
    fractional = np.linalg.solve(cells.transpose(0, 2, 1), positions.transpose(0, 2, 1))
    fractional = fractional.transpose(0, 2, 1)  # [B, N, 3]
    difference = fractional[:, None, :, :] - fractional[:, :, None, :]  # f_j - f_i, [B, N, N, 3]
    wrap = np.round(difference)
    minimum_image = np.einsum("bijk,bkl->bijl", difference - wrap, cells)  # [B, N, N, 3]
    shifts = _shift_grid(images)  # [S, 3]
    translations = np.einsum("sk,bkl->bsl", shifts.astype(np.float64), cells)  # [B, S, 3]
    # |d + t| >= |t| - max|d|, and a minimum-image d lies in the parallelepiped of
    # ±cell/2: drop images that are out of reach for every cell of the chunk.
    corners = np.array([[1, 1, 1], [1, 1, -1], [1, -1, 1], [-1, 1, 1]], dtype=np.float64) / 2
    longest = np.linalg.norm(np.einsum("ck,bkl->bcl", corners, cells), axis=2).max(axis=1)  # [B]
    reach = np.linalg.norm(translations, axis=2) - longest[:, None] <= radii[:, None] * 1.001
    useful = reach.any(axis=0)
    shifts, translations = shifts[useful], translations[:, useful]
    n_structures = len(cells)
    cross = np.matmul(  # batched BLAS: [B, N*N, 3] @ [B, 3, S]
        minimum_image.reshape(n_structures, -1, 3), translations.transpose(0, 2, 1)
    ).reshape(n_structures, n_atoms, n_atoms, -1)
    squared = cross  # built in place: these arrays dominate the cost
    squared *= 2.0
    squared += np.einsum("bijk,bijk->bij", minimum_image, minimum_image)[..., None]
    squared += np.einsum("bsk,bsk->bs", translations, translations)[:, None, None, :]
    limit = (radii * radii)[:, None, None, None] * (1.0 + 1e-9)
    b, i, j, image = np.nonzero(squared < limit)  # candidates; exact distances below
    vectors = minimum_image[b, i, j] + translations[b, image]
    distances = np.sqrt(np.einsum("pk,pk->p", vectors, vectors))
    keep = (distances < radii[b]) & (distances > 0.0)
    b, i, j, image, distances = b[keep], i[keep], j[keep], image[keep], distances[keep]
    # vector = (f_j - f_i - wrap + s) @ cell, so the shift of the image is s - wrap
    unit_shifts = shifts[image] - wrap[b, i, j].astype(np.int64)
    return b * n_atoms + i, b * n_atoms + j, unit_shifts, distances


_PAIR_DIFFERENCES: dict[int, np.ndarray] = {}
_DOUBLED_GRIDS: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}


def _pair_differences(n_atoms: int) -> np.ndarray:
    """The [N*N, N] matrix with +1 at column j and -1 at column i in row i * N + j.

    One product with it gives every pair difference ``x_j - x_i``, exactly (the
    other terms are zeros), for less than broadcasting costs on a few atoms.
    """
    if n_atoms not in _PAIR_DIFFERENCES:
        eye = np.eye(n_atoms)
        _PAIR_DIFFERENCES[n_atoms] = (eye[None, :, :] - eye[:, None, :]).reshape(-1, n_atoms)
    return _PAIR_DIFFERENCES[n_atoms]


def _doubled_grid(images: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The image shifts of :func:`_shift_grid`: (int64 [S, 3], twice them as float64 [S, 3])."""
    if images not in _DOUBLED_GRIDS:
        grid = _shift_grid(images)
        _DOUBLED_GRIDS[images] = (grid, 2.0 * grid)
    return _DOUBLED_GRIDS[images]
