"""Negative stationary "populations" of a Koopman model are flagged (issue 9)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from asegraph.analysis.dynamics.koopman import KoopmanModel, stationary_population


def _koopman_with_stationary_vector(pi: np.ndarray) -> KoopmanModel:
    # rows sum to 1 and pi K = pi; the other eigenvalues are 0.5
    k = len(pi)
    return KoopmanModel(0.5 * np.eye(k) + 0.5 * np.outer(np.ones(k), pi), lagtime=1)


def test_negative_populations_warn_and_suggest_fewer_states():
    model = _koopman_with_stationary_vector(np.array([0.7, 0.4, -0.1]))
    with pytest.warns(RuntimeWarning, match=r"3 states has negative stationary populations \(down"):
        population = stationary_population(model)
    np.testing.assert_allclose(population, [0.7, 0.4, -0.1], atol=1e-12)  # still reported
    with pytest.warns(
        RuntimeWarning, match=r"not a valid transition matrix.*fewer states \(e.g. 2"
    ):
        stationary_population(model)


def test_a_valid_model_does_not_warn():
    model = _koopman_with_stationary_vector(np.array([0.5, 0.3, 0.2]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(stationary_population(model), [0.5, 0.3, 0.2], atol=1e-12)
