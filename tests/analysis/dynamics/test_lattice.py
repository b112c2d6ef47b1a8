"""Issue 11 item 6: global transition matrix from the local one (thesis Eqs. 4.8-4.9)."""

from __future__ import annotations

import numpy as np
import pytest

from asegraph.analysis.dynamics.lattice import (
    fcc_interstitial_sites,
    global_transition_matrix,
    sampled_slowest_timescales,
    slowest_timescale,
)
from asegraph.exceptions import ParameterError

LOCAL = np.array([[0.7, 0.3], [0.05, 0.95]])  # octahedral, tetrahedral; per lag


def test_fcc_sites_connect_each_octahedral_site_to_eight_tetrahedral_ones():
    _, types, adjacency = fcc_interstitial_sites()
    assert (adjacency == adjacency.T).all()
    np.testing.assert_array_equal(adjacency[types == 0].sum(axis=1), 8)
    np.testing.assert_array_equal(adjacency[types == 1].sum(axis=1), 4)


def test_global_matrix_lumps_back_to_the_local_one():
    """Eq. 4.9 is exactly lumpable: summing the columns of each type gives K_local, so the
    local eigenvalues are among the global ones."""
    _, types, adjacency = fcc_interstitial_sites()
    big = global_transition_matrix(LOCAL, types, adjacency)
    np.testing.assert_allclose(big.sum(axis=1), 1.0)
    lumped = np.stack([big[:, types == b].sum(axis=1) for b in (0, 1)], axis=1)
    np.testing.assert_allclose(lumped, LOCAL[types])
    global_values = np.linalg.eigvals(big)
    for value in np.linalg.eigvals(LOCAL):
        assert np.min(np.abs(global_values - value)) < 1e-10
    # the slowest global process is slower than the local one (site-to-site wandering)
    assert slowest_timescale(big, 1.0) > slowest_timescale(LOCAL, 1.0)


def test_simulated_hops_on_the_lattice_recover_the_built_global_timescale():
    """A walker hopping by Eq. 4.9's rules: its observed 12-site MSM has the timescale
    of the matrix built from its observed 2-type matrix."""
    from deeptime.markov import TransitionCountEstimator
    from deeptime.markov.msm import MaximumLikelihoodMSM

    _, types, adjacency = fcc_interstitial_sites()
    truth = global_transition_matrix(LOCAL, types, adjacency)
    rng = np.random.default_rng(0)
    cumulative = np.cumsum(truth, axis=1)
    walks = np.zeros((20000, 8), dtype=np.int32)
    walks[0] = rng.integers(0, 12, 8)
    for t in range(1, len(walks)):
        walks[t] = np.minimum((rng.random(8)[:, None] > cumulative[walks[t - 1]]).sum(1), 11)
    dtrajs = [walks[:, j] for j in range(8)]

    def msm(trajs):
        counts = TransitionCountEstimator(1, "sliding").fit(trajs).fetch_model()
        return MaximumLikelihoodMSM(reversible=True).fit(counts).fetch_model()

    observed_global = msm(dtrajs).transition_matrix
    observed_local = msm([types[d].astype(np.int32) for d in dtrajs]).transition_matrix
    built = global_transition_matrix(observed_local, types, adjacency)
    assert slowest_timescale(built, 1.0) == pytest.approx(
        slowest_timescale(observed_global, 1.0), rel=0.05
    )
    assert slowest_timescale(built, 1.0) == pytest.approx(slowest_timescale(truth, 1.0), rel=0.05)


def test_sampled_timescales_show_the_finite_data_bias_of_the_degenerate_slowest_mode():
    """The toy lattice's slowest built process is 7-fold degenerate: from little data the
    largest estimated timescale lies well above the exact one, from much data it is close."""
    _, types, adjacency = fcc_interstitial_sites()
    truth = global_transition_matrix(LOCAL, types, adjacency)
    exact = slowest_timescale(truth, 1.0)
    little = sampled_slowest_timescales(truth, 1.0, n_walkers=16, n_steps=75, n_samples=20)
    much = sampled_slowest_timescales(truth, 1.0, n_walkers=16, n_steps=5000, n_samples=4)
    assert np.median(little) > 1.15 * exact
    assert np.median(much) == pytest.approx(exact, rel=0.1)
    with pytest.raises(ParameterError, match="n_steps >= 2"):
        sampled_slowest_timescales(truth, 1.0, n_walkers=16, n_steps=1)


def test_messages():
    _, types, adjacency = fcc_interstitial_sites()
    with pytest.raises(ParameterError, match="site_types must lie in 0..1"):
        global_transition_matrix(LOCAL, types + 1, adjacency)
    with pytest.raises(ParameterError, match="local_matrix must be \\(K, K\\) and adjacency"):
        global_transition_matrix(LOCAL, types, adjacency[:5])
    lonely = adjacency.copy()
    lonely[0] = lonely[:, 0] = False
    with pytest.raises(ParameterError, match="site 0 \\(type 0\\) has no neighbour of type 1"):
        global_transition_matrix(LOCAL, types, lonely)
