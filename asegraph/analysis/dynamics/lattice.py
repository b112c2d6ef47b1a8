"""Global dynamics of a lattice from the local Koopman model (thesis §4.6.1, Eqs. 4.8–4.9).

A local model says how a target moves between site *types* (e.g. octahedral
and tetrahedral interstitials): ``K_local[a, b]`` is the probability of being
in a type-``b`` site one lag after a type-``a`` site. On a lattice with known
site connectivity the *global* transition matrix between individual sites
follows by sharing each type-changing probability equally among the
neighbouring sites of that type and keeping the staying probability on the
diagonal::

    K_global[i, i] = K_local[a_i, a_i]
    K_global[i, j] = K_local[a_i, a_j] / n_i(a_j)    for neighbours j of i, a_j != a_i
    K_global[i, j] = 0                               otherwise

with ``n_i(b)`` the number of type-``b`` neighbours of site ``i``. Two
approximations (the thesis' reasons for its 531 vs 528 ps): hops between
same-type sites within one lag are neglected, and so are hops to sites that
are not neighbours (several hops within one lag).

:func:`fcc_interstitial_sites` gives the sites of the thesis' toy system: the
4 octahedral and 8 tetrahedral sites of one conventional FCC cell, periodic,
each octahedral site joined to its 8 tetrahedral neighbours.
"""

from __future__ import annotations

import numpy as np

from asegraph.exceptions import ParameterError


def global_transition_matrix(
    local_matrix: np.ndarray, site_types: np.ndarray, adjacency: np.ndarray
) -> np.ndarray:
    """Site-to-site transition matrix from the type-to-type one (Eq. 4.9).

    Parameters
    ----------
    local_matrix : ndarray, shape (K, K)
        Local Koopman (transition) matrix between site types at the lag; rows sum to 1.
    site_types : ndarray of int, shape (S,)
        Type (row of ``local_matrix``) of every site.
    adjacency : ndarray of bool, shape (S, S)
        Symmetric: ``adjacency[i, j]`` when a target can hop from site ``i`` to ``j``.

    Returns
    -------
    ndarray, shape (S, S)
        Rows sum to one.
    """
    local_matrix = np.asarray(local_matrix, dtype=np.float64)
    site_types = np.asarray(site_types, dtype=np.int64)
    adjacency = np.asarray(adjacency, dtype=bool)
    k, n_sites = len(local_matrix), len(site_types)
    if local_matrix.shape != (k, k) or adjacency.shape != (n_sites, n_sites):
        raise ParameterError(
            f"local_matrix must be (K, K) and adjacency (S, S) for S={n_sites} sites, got "
            f"{local_matrix.shape} and {adjacency.shape}"
        )
    if site_types.min() < 0 or site_types.max() >= k:
        raise ParameterError(f"site_types must lie in 0..{k - 1} (rows of local_matrix)")
    result = np.zeros((n_sites, n_sites))
    for i in range(n_sites):
        a = site_types[i]
        result[i, i] = local_matrix[a, a]
        for b in range(k):
            if b == a:
                continue
            targets = np.flatnonzero(adjacency[i] & (site_types == b))
            if len(targets) == 0:
                if local_matrix[a, b] > 1e-12:
                    raise ParameterError(
                        f"site {i} (type {a}) has no neighbour of type {b}, but the local model "
                        f"moves type {a} to type {b} with probability {local_matrix[a, b]:.3g}"
                    )
                continue
            result[i, targets] = local_matrix[a, b] / len(targets)
    return result


def slowest_timescale(transition_matrix: np.ndarray, lag: float) -> float:
    """``-lag / ln|λ₂|`` of a transition matrix (same unit as ``lag``)."""
    values = np.sort(np.abs(np.linalg.eigvals(transition_matrix)))[::-1]
    return float(-lag / np.log(values[1])) if 0 < values[1] < 1 else float("inf")


def fcc_interstitial_sites() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 12 interstitial sites of one conventional FCC cell, periodic.

    Returns
    -------
    fractional : ndarray, shape (12, 3)
        Fractional coordinates: 4 octahedral, then 8 tetrahedral (the order of
        :data:`asegraph.examples.li_fcc.OCTAHEDRAL_SITES` / ``TETRAHEDRAL_SITES``).
    site_types : ndarray of int, shape (12,)
        0 octahedral, 1 tetrahedral.
    adjacency : ndarray of bool, shape (12, 12)
        Sites sharing a face (octahedral–tetrahedral at ``a √3 / 4``).
    """
    octahedral = np.array([[0.5, 0.5, 0.5], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]])
    tetrahedral = np.array(
        [[x, y, z] for x in (0.25, 0.75) for y in (0.25, 0.75) for z in (0.25, 0.75)]
    )
    fractional = np.vstack([octahedral, tetrahedral])
    types = np.array([0] * 4 + [1] * 8)
    delta = fractional[:, None] - fractional[None]
    delta -= np.round(delta)  # periodic cell: minimum image
    distance = np.linalg.norm(delta, axis=2)
    adjacency = np.isclose(distance, np.sqrt(3) / 4) & (types[:, None] != types[None])
    return fractional, types, adjacency
