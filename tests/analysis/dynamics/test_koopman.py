"""Koopman analysis on synthetic Markov chains with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from asegraph.analysis.dynamics.koopman import (
    crisp_memberships,
    estimate_koopman,
    koopman_analysis,
    membership_map,
)
from asegraph.exceptions import ParameterError

T = np.array([[0.96, 0.04], [0.08, 0.92]])  # per frame


def _chain(matrix, n_frames, n_walkers, seed):
    rng = np.random.default_rng(seed)
    states = np.zeros((n_frames, n_walkers), dtype=int)
    states[0] = rng.integers(0, len(matrix), n_walkers)
    cumulative = np.cumsum(matrix, axis=1)
    for t in range(1, n_frames):
        u = rng.random(n_walkers)
        states[t] = (u[:, None] > cumulative[states[t - 1]]).sum(axis=1)
    return states


def _squashed(states, k=2):  # noqa: D401
    """One-hot states squashed like an unpinned softmax: columns span 0.16..0.84."""
    return 0.16 + 0.68 * np.eye(k)[states]


def test_membership_map_undoes_a_squashed_softmax():
    states = _chain(T, 500, 4, seed=0)
    chi = _squashed(states)
    memberships = chi @ membership_map(chi.reshape(-1, 2))
    np.testing.assert_allclose(memberships.sum(axis=2), 1.0)
    population0 = np.mean(states == 0)
    assert population0 > 0.5  # state 0 is the larger one: it must be listed first
    np.testing.assert_allclose(memberships, np.eye(2)[states], atol=1e-9)
    assert crisp_memberships(memberships - 0.1).min() >= 0


def test_koopman_matrix_and_timescale_of_a_known_chain():
    states = _chain(T, 4000, 8, seed=1)
    trajectories = [np.eye(2)[states[:, j]] for j in range(8)]
    model = estimate_koopman(trajectories, 1)
    np.testing.assert_allclose(model.koopman_matrix, T, atol=0.01)
    exact = -1 / np.log(np.linalg.eigvals(T).min())
    assert model.timescales()[0] == pytest.approx(exact, rel=0.1)
    np.testing.assert_allclose(model.stationary_distribution(), [2 / 3, 1 / 3], atol=0.03)


def test_ck_test_passes_for_markov_data_and_fails_for_a_lumped_three_state_chain():
    markov = np.eye(2)[_chain(T, 3000, 8, seed=2)]
    result = koopman_analysis(markov, lag=2, n_blocks=4)
    assert result.ck_passed
    assert result.implied_timescales.shape == (len(result.its_lags), 1)
    assert np.all(result.its_lower <= result.its_upper)
    exact = -1 / np.log(np.linalg.eigvals(T).min())
    assert result.slowest_timescale == pytest.approx(exact, rel=0.15)
    # Two hidden states with fast and slow exits, lumped into one: not Markovian.
    hidden = np.array([[0.8, 0.0, 0.2], [0.0, 0.995, 0.005], [0.05, 0.05, 0.9]])
    lumped = _chain(hidden, 10000, 8, seed=3)
    observed = np.eye(2)[(lumped == 2).astype(int)]
    assert not koopman_analysis(observed, lag=1, ck_steps=8, n_blocks=4).ck_passed


def test_target_subsets_as_interval_source():
    data = np.eye(2)[_chain(T, 600, 10, seed=4)]
    result = koopman_analysis(data, lag=2, n_blocks=5, interval_source="targets")
    assert np.isfinite(result.its_upper).all()


def test_validation_messages():
    data = np.eye(2)[_chain(T, 100, 3, seed=5)]
    with pytest.raises(ParameterError, match="interval_source must be one of"):
        koopman_analysis(data, 2, interval_source="chunks")
    with pytest.raises(ParameterError, match="n_blocks=1: need at least 2 independent subsets"):
        koopman_analysis(data, 2, n_blocks=1)
    with pytest.raises(ParameterError, match="and at most n_groups=3"):
        koopman_analysis(data, 2, n_blocks=4, interval_source="targets")
    with pytest.raises(ParameterError, match="too short for lag=60 frames and a CK test"):
        koopman_analysis(data, 60, n_blocks=5)
    with pytest.raises(ParameterError, match="'trajectories' needs at least 2 independent"):
        koopman_analysis(data, 2, interval_source="trajectories")
    with pytest.raises(ParameterError, match="is not shorter than any trajectory block"):
        estimate_koopman([data[:5, 0]], 5)
    with pytest.raises(ParameterError, match="outputs are degenerate"):
        membership_map(np.full((50, 2), 0.5))


def test_short_blocks_fall_back_and_say_so():
    """100 frames, lag 10: 5 time blocks of 20 frames cannot hold a CK test to 50 frames;
    target subsets (full length) can."""
    data = np.eye(2)[_chain(T, 100, 6, seed=6)]
    result = koopman_analysis(data, 10, n_blocks=5)
    assert result.interval_source == "targets" and result.n_blocks == 5
    assert result.fallback.startswith("time intervals from 5 subsets of 20 frames cannot hold")
    assert "used targets intervals from 5 subsets" in result.fallback
    # one walker: no target subsets; fewer CK steps in 3 time blocks (33 frames > 3x10)
    one = koopman_analysis(data[:, :1], 10, n_blocks=5)
    assert (one.interval_source, one.n_blocks, len(one.ck_lags)) == ("time", 3, 3)
    assert one.fallback.endswith("and a CK test to 3×lag")
    untouched = koopman_analysis(data, 2, n_blocks=5)
    assert untouched.fallback == "" and untouched.interval_source == "time"


def test_independent_trajectories_give_the_intervals_and_no_pair_crosses_them():
    runs = [np.eye(2)[_chain(T, 400, 4, seed=s)] for s in (7, 8, 9)]
    result = koopman_analysis(runs, 2)
    assert result.interval_source == "trajectories" and result.n_blocks == 3
    assert np.isfinite(result.its_upper).all()
    # joining the runs end to end would add pairs across the joins: a different estimate
    joined = estimate_koopman([np.concatenate(runs)[:, j] for j in range(4)], 2)
    separate = estimate_koopman([r[:, j] for r in runs for j in range(4)], 2)
    np.testing.assert_allclose(result.koopman_matrix, separate.koopman_matrix)
    assert not np.allclose(joined.koopman_matrix, separate.koopman_matrix)


def test_target_subsets_are_random_and_seeded():
    data = np.eye(2)[_chain(T, 300, 10, seed=10)]
    a = koopman_analysis(data, 2, interval_source="targets", seed=1)
    b = koopman_analysis(data, 2, interval_source="targets", seed=1)
    c = koopman_analysis(data, 2, interval_source="targets", seed=2)
    np.testing.assert_array_equal(a.its_lower, b.its_lower)
    assert not np.array_equal(a.its_lower, c.its_lower)


def test_softmax_order_matches_the_states_when_the_softmax_is_squashed():
    """A squashed softmax whose column 1 is above column 0 at both vertices: state 0 (the
    larger) must still be matched with the column that is relatively high in it."""
    from asegraph.analysis.dynamics.koopman import softmax_order

    states = _chain(T, 500, 4, seed=11)  # state 0 is the larger
    for low, high in ((0.45, 0.1), (0.1, 0.45)):
        # column 0 is `low` in state 0 and `high` in state 1
        column0 = np.where(states == 0, low, high)
        chi = np.stack([column0, 1 - column0], axis=-1)
        mapping = membership_map(chi.reshape(-1, 2))
        memberships = chi @ mapping
        ordered = chi[..., softmax_order(mapping)]
        for j in range(2):
            r = np.corrcoef(memberships[..., j].ravel(), ordered[..., j].ravel())[0, 1]
            assert r > 0.99
