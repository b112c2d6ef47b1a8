"""Acquisition functions and batch proposals (maximisation, unit cube).

Strategies (:data:`STRATEGIES`):

``"lp-logei"``
    Local penalization (González, Dai, Hennig & Lawrence, AISTATS 2016) on
    log expected improvement: points are chosen one at a time, each maximising
    ``log EI(x) + Σ_j log φ(x; x_j)`` over the pending points ``x_j``.
``"lp-ucb"``
    The same with UCB, made positive by a softplus of the standardised UCB.
``"qlognei"``
    BoTorch's q-log-noisy-expected-improvement (Ament et al. 2023), optimised
    sequentially-greedily (point k maximises the joint qLogNEI with points
    1..k-1 fixed), so that each proposed point gets the same optimiser effort
    (``num_restarts`` starts from ``raw_samples`` candidates) as a local
    penalisation point; a joint q x d optimisation with the same budget would
    give the q points together the effort LP gives each one.
``"random"``, ``"sobol"``
    Baselines: i.i.d. uniform or scrambled Sobol points.

Local penalization, written from the paper: with M = max_x μ(x), a pending point
x_j, the GP posterior mean μ_j and standard deviation σ_j of f at x_j, and the
Lipschitz constant L = max_x ‖∇μ(x)‖ of the posterior mean, the penaliser is
the probability that x lies outside the ball around x_j that cannot contain
the maximum::

    φ(x; x_j) = Φ((L ‖x - x_j‖ - M + μ_j) / σ_j)

(Eq. 4 of the paper, written for maximisation.)  The penalised acquisition is
g(α(x)) Π_j φ(x; x_j) with g positive; in log space
``log g(α(x)) + Σ_j log Φ(z_j)`` with ``torch.special.log_ndtr``.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction

from asegraph.exceptions import ParameterError
from asegraph.optimize.surrogate import DTYPE, GPSurrogate, as_tensor

__all__ = [
    "INITIAL_DESIGNS",
    "STRATEGIES",
    "LocalPenalization",
    "initial_point",
    "lipschitz_constant",
    "propose",
]

STRATEGIES = ("lp-logei", "lp-ucb", "qlognei", "random", "sobol")


def lipschitz_constant(
    surrogate: GPSurrogate, *, seed: int, n_samples: int = 1024, n_refine: int = 8, steps: int = 20
) -> float:
    """Estimate L = max_x ‖∇_x μ(x)‖ over the unit cube.

    Gradient norms of the posterior mean (autograd) at scrambled-Sobol points
    and the training points, then a shrinking random local search around the
    best ``n_refine`` of them (gpytorch's Matérn kernel has no double backward,
    so no gradient ascent on ‖∇μ‖).  Returns 10 (the paper's fallback) if ‖∇μ‖
    vanishes.

    Returns
    -------
    float
        L in units of y per unit-cube length.
    """
    from scipy.stats import qmc

    model = surrogate.model
    d = surrogate.train_x.shape[1]
    rng = np.random.default_rng(seed)

    def grad_norm(pts: np.ndarray) -> np.ndarray:
        x = as_tensor(pts).requires_grad_(True)
        (g,) = torch.autograd.grad(model.posterior(x).mean.sum(), x)
        return g.norm(dim=-1).numpy()

    pts = np.vstack([qmc.Sobol(d, scramble=True, seed=seed).random(n_samples), surrogate.train_x])
    norms = grad_norm(pts)
    order = np.argsort(-norms)[:n_refine]
    top, top_n = pts[order], norms[order]
    scale = 0.1
    for _ in range(steps):
        trial = np.clip(top + scale * rng.standard_normal(top.shape), 0.0, 1.0)
        tn = grad_norm(trial)
        better = tn > top_n
        top[better], top_n[better] = trial[better], tn[better]
        scale *= 0.8
    best = float(max(norms.max(), top_n.max()))
    return best if best > 1e-7 else 10.0


def max_posterior_mean(surrogate: GPSurrogate, *, seed: int, n_samples: int = 1024) -> float:
    """M ≈ max_x μ(x): the largest posterior mean over Sobol points and the training inputs.

    Using the posterior maximum (not the best noisy observation) keeps every ball
    radius (M - μ_j)/L non-negative.
    """
    from scipy.stats import qmc

    d = surrogate.train_x.shape[1]
    pts = np.vstack(
        [qmc.Sobol(d, scramble=True, seed=seed + 1).random(n_samples), surrogate.train_x]
    )
    return float(surrogate.predict(pts)[0].max())


class LocalPenalization(AcquisitionFunction):
    """log g(α(x)) + Σ_j log φ(x; x_j): a locally penalised acquisition (log space).

    Parameters
    ----------
    surrogate : GPSurrogate
        Fitted GP.
    base : botorch AcquisitionFunction
        Analytic acquisition α evaluated on ``[b, 1, d]``.
    pending : array ``[p, d]``
        Points already chosen or running (unit cube).
    lipschitz : float
        L (units of y per unit length).
    best : float
        M, the maximum of the posterior mean (:func:`max_posterior_mean`).
    transform : {"log", "softplus"}
        ``"log"``: α already is log EI (g = EI); ``"softplus"``:
        log softplus((α - ȳ) / s_y) for UCB.
    """

    def __init__(
        self,
        surrogate: GPSurrogate,
        base,
        pending: np.ndarray,
        lipschitz: float,
        best: float,
        transform: str = "log",
    ):
        super().__init__(surrogate.model)
        self.base = base
        self.transform = transform
        self.lipschitz = float(lipschitz)
        self.best = float(best)
        self.y_mean = float(np.mean(surrogate.train_y))
        self.y_std = float(np.std(surrogate.train_y) or 1.0)
        pending = np.asarray(pending, dtype=np.float64).reshape(-1, surrogate.train_x.shape[1])
        self.pending = as_tensor(pending)
        if len(pending):
            mean, std = surrogate.predict(pending)
            self.p_mean, self.p_std = as_tensor(mean), as_tensor(np.maximum(std, 1e-9))

    def log_penalty(self, x: torch.Tensor) -> torch.Tensor:
        """Σ_j log φ(x; x_j) for ``x [b, d]`` -> ``[b]`` (0 when nothing is pending)."""
        if len(self.pending) == 0:
            return torch.zeros(x.shape[:-1], dtype=x.dtype)
        dist = torch.cdist(x, self.pending)  # [b, p]
        z = (self.lipschitz * dist - self.best + self.p_mean) / self.p_std
        return torch.special.log_ndtr(z).sum(-1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        val = self.base(X)  # [b]
        if self.transform == "softplus":
            val = torch.log(
                torch.nn.functional.softplus((val - self.y_mean) / self.y_std).clamp_min(1e-300)
            )
        return val + self.log_penalty(X[..., 0, :])


def _optimize(
    acqf, d: int, q: int, seed: int, restarts: int, raw: int, sequential: bool = False
) -> np.ndarray:
    from botorch.optim import optimize_acqf

    bounds = torch.stack([torch.zeros(d, dtype=DTYPE), torch.ones(d, dtype=DTYPE)])
    # options["seed"] seeds only the raw Sobol samples; botorch then picks the restarts
    # among them by Boltzmann sampling from torch's global generator, so seed that too
    # (in a forked RNG, leaving the caller's stream alone) or the same seed proposes
    # different points
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        cand, _ = optimize_acqf(
            acqf,
            bounds=bounds,
            q=q,
            num_restarts=restarts,
            raw_samples=raw,
            options={"seed": seed},
            sequential=sequential,
        )
    return cand.detach().numpy().reshape(q, d)


def propose(
    surrogate: GPSurrogate | None,
    q: int,
    *,
    strategy: str,
    seed: int,
    dim: int,
    pending: np.ndarray | None = None,
    n_done: int = 0,
    beta: float = 2.0,
    num_restarts: int = 8,
    raw_samples: int = 256,
) -> np.ndarray:
    """Propose ``q`` new unit-cube points.

    Parameters
    ----------
    surrogate : GPSurrogate or None
        Fitted GP (ignored by ``"random"``/``"sobol"``).
    q : int
        Batch size.
    strategy : str
        One of :data:`STRATEGIES`.
    seed : int
        Seed of raw samples, QMC samplers and baselines.
    dim : int
        Dimension d.
    pending : array ``[p, d]``, optional
        Points under evaluation (penalised / fantasised, never re-proposed).
    n_done : int
        Points already drawn: ``"sobol"`` continues its sequence, ``"random"``
        draws point ``n_done + r`` from its own generator seeded by
        ``(seed, n_done + r)``.
    beta : float
        UCB exploration weight (α = μ + √β σ).

    Returns
    -------
    numpy.ndarray, float64, shape ``[q, d]``
    """
    if strategy not in STRATEGIES:
        raise ParameterError(f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
    if q < 1:
        raise ParameterError(f"batch size q must be >= 1, got {q}")
    pending = np.zeros((0, dim)) if pending is None else np.asarray(pending, float).reshape(-1, dim)
    if strategy == "random":
        # one generator per point id (n_done + r): successive proposals of a campaign
        # differ, and a resumed campaign draws exactly the points of an uninterrupted one
        return np.stack([np.random.default_rng([seed, n_done + r]).random(dim) for r in range(q)])
    if strategy == "sobol":
        from scipy.stats import qmc

        eng = qmc.Sobol(dim, scramble=True, seed=seed)
        with warnings.catch_warnings():  # balance warning for non-powers of 2
            warnings.simplefilter("ignore", UserWarning)
            if n_done:
                eng.fast_forward(n_done)
            return eng.random(q)
    if surrogate is None or surrogate.model is None:
        raise ParameterError(f"strategy {strategy!r} needs a fitted GPSurrogate")
    model = surrogate.model
    if strategy == "qlognei":
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.sampling import SobolQMCNormalSampler

        acqf = qLogNoisyExpectedImprovement(
            model,
            X_baseline=as_tensor(surrogate.train_x),
            sampler=SobolQMCNormalSampler(sample_shape=torch.Size([128]), seed=seed),
            X_pending=as_tensor(pending) if len(pending) else None,
            prune_baseline=True,
        )
        # sequential greedy: the same optimiser effort per point as local penalisation
        return _optimize(acqf, dim, q, seed, num_restarts, raw_samples, sequential=True)
    from botorch.acquisition.analytic import LogExpectedImprovement, UpperConfidenceBound

    best = max_posterior_mean(surrogate, seed=seed)
    if strategy == "lp-logei":
        mean_train, _ = surrogate.predict(surrogate.train_x)
        base, transform = LogExpectedImprovement(model, best_f=float(mean_train.max())), "log"
    else:
        base, transform = UpperConfidenceBound(model, beta=beta), "softplus"
    lip = lipschitz_constant(surrogate, seed=seed)
    chosen: list[np.ndarray] = []
    for k in range(q):
        pend = np.vstack([pending, *chosen]) if chosen else pending
        acqf = LocalPenalization(surrogate, base, pend, lip, best, transform)
        chosen.append(_optimize(acqf, dim, 1, seed + 7919 * k, num_restarts, raw_samples))
    return np.vstack(chosen)


#: Initial designs (``campaign.initial_design``): scrambled Sobol (default) or i.i.d. uniform.
INITIAL_DESIGNS = ("sobol", "random")


def initial_point(
    i: int, *, method: str, seed: int, dim: int, reference: np.ndarray | None = None
) -> np.ndarray:
    """Point ``i`` of a campaign's initial design (unit cube, ``[dim]``).

    Point 0 is ``reference`` when given (the PEO-LiTFSI reference with
    ``include_reference``); the others are point ``i`` of the scrambled Sobol
    sequence or the ``i``-th uniform draw, both seeded by ``seed``.  Each point
    depends only on ``i``, so a resumed campaign proposes exactly the points of
    an uninterrupted one.

    The thesis started BO from 50 random points (``initial_design =
    "random"``, ``n_initial = 50``).  The default is 10 points, the reference
    then Sobol: on an emulator of the CG problem (a GP fitted to real CG-MD
    evaluations, ``benchmarks/initial_design.py``) BO from it reached a median
    0.99 of the best σ_Li after 50 evaluations, the thesis' design 0.78
    (0.998 and 0.98 after 100).

    Parameters
    ----------
    i : int
        Index of the point in the design (= evaluation id).
    method : {"sobol", "random"}
        Scrambled Sobol or i.i.d. uniform.
    seed : int
        Seed of the design (the campaign seed).
    dim : int
        Dimension d of the design space.
    reference : array ``[d]``, optional
        Unit-cube point used as point 0.

    Returns
    -------
    numpy.ndarray, float64, shape ``[d]``
    """
    if method not in INITIAL_DESIGNS:
        raise ParameterError(
            f"initial design must be one of {list(INITIAL_DESIGNS)}, got {method!r}"
        )
    if i == 0 and reference is not None:
        return np.asarray(reference, dtype=np.float64).reshape(dim)
    return propose(None, 1, strategy=method, seed=seed, dim=dim, n_done=i)[0]
