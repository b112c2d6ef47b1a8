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


def sampled_slowest_timescales(
    transition_matrix: np.ndarray,
    lag: float,
    n_walkers: int,
    n_steps: int,
    n_samples: int = 40,
    seed: int = 0,
) -> np.ndarray:
    """Slowest timescale of the MSM estimated from walks of ``transition_matrix`` sized
    like the data: what an observed estimate would scatter over if the dynamics obeyed
    the matrix exactly.

    Why: on a symmetric lattice the slowest global process is degenerate (the toy's
    12 sites: seven tetrahedral modes of one eigenvalue), and the *largest* of several
    eigenvalues estimated from finite data lies above the true one. Compare an observed
    slowest timescale with this spread, not with the matrix's exact value.

    Parameters
    ----------
    transition_matrix : ndarray, shape (S, S)
        One step is ``lag``.
    lag : float
        Time of one step (the unit of the result).
    n_walkers, n_steps : int
        Independent walkers (targets) and steps of ``lag`` each (frames / lag frames).
    n_samples : int
        Simulated data sets.
    seed : int

    Returns
    -------
    ndarray, shape (n_samples,)
        Slowest implied timescale of the reversible maximum-likelihood MSM (deeptime) of
        each simulated data set.
    """
    from deeptime.markov import TransitionCountEstimator
    from deeptime.markov.msm import MaximumLikelihoodMSM

    matrix = np.asarray(transition_matrix, dtype=np.float64)
    n_sites = len(matrix)
    if n_walkers < 1 or n_steps < 2 or n_samples < 1:
        raise ParameterError(
            f"n_walkers >= 1, n_steps >= 2 and n_samples >= 1 are needed, got {n_walkers}, "
            f"{n_steps}, {n_samples}"
        )
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(matrix, axis=1)
    stationary = np.abs(np.real(np.linalg.eig(matrix.T)[1][:, 0]))
    result = np.empty(n_samples)
    for sample in range(n_samples):
        walks = np.empty((n_steps, n_walkers), dtype=np.int32)  # [steps, walkers]
        walks[0] = rng.choice(n_sites, n_walkers, p=stationary / stationary.sum())
        draws = rng.random((n_steps, n_walkers))
        for step in range(1, n_steps):
            walks[step] = (draws[step][:, None] > cumulative[walks[step - 1]]).sum(axis=1)
        np.minimum(walks, n_sites - 1, out=walks)  # rounding of the last cumulative sum
        counts = TransitionCountEstimator(1, "sliding").fit(list(walks.T)).fetch_model()
        msm = MaximumLikelihoodMSM(reversible=True).fit(counts).fetch_model()
        result[sample] = msm.timescales(1)[0] * lag if msm.n_states > 1 else np.inf
    return result


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
