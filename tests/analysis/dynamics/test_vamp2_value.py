"""The VAMP-2 loss has the value theory gives, not only a finite gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asegraph.analysis.dynamics.training import vamp2_loss


def two_state_chain(p: float, q: float, n: int, seed: int = 0) -> np.ndarray:
    """States of a Markov chain with T = [[1-p, p], [q, 1-q]] (eigenvalue 1 - p - q)."""
    rng = np.random.default_rng(seed)
    # alternating sojourns: geometric with leaving probabilities p (state 0) and q (state 1)
    n_visits = int(n * min(p, q)) + 10
    stays = np.empty(2 * n_visits, dtype=int)
    stays[0::2] = rng.geometric(p, n_visits)
    stays[1::2] = rng.geometric(q, n_visits)
    return np.repeat(np.arange(2 * n_visits) % 2, stays)[:n]


def test_vamp2_of_a_two_state_chain_is_one_plus_lambda_squared():
    p, q, lag = 0.1, 0.2, 1
    states = two_state_chain(p, q, 100_000)
    one_hot = torch.nn.functional.one_hot(torch.as_tensor(states), 2).double()
    loss = vamp2_loss(one_hot[:-lag], one_hot[lag:])
    lam = 1.0 - p - q
    assert float(loss) == pytest.approx(-(1.0 + lam**2), abs=0.01)
    # VAMP-2 is invariant to invertible affine maps: a squashed one-hot scores the same
    squashed = 0.1 + 0.8 * one_hot
    assert float(vamp2_loss(squashed[:-lag], squashed[lag:])) == pytest.approx(
        float(loss), abs=1e-4
    )
    # and a chain that forgets at once (lambda = 0) scores 1
    memoryless = torch.nn.functional.one_hot(
        torch.as_tensor(np.random.default_rng(1).integers(0, 2, 50_000)), 2
    ).double()
    assert float(vamp2_loss(memoryless[:-1], memoryless[1:])) == pytest.approx(-1.0, abs=0.01)
