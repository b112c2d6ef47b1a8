"""Gaussian-process surrogate: exact GP, Matérn-5/2 ARD kernel, priors, learned noise.

A thin, float64 wrapper around BoTorch's :class:`~botorch.models.SingleTaskGP`:

* inputs in the unit cube ``[0, 1]^d`` (see :mod:`asegraph.optimize.space`);
* outputs standardised (:class:`~botorch.models.transforms.outcome.Standardize`);
* kernel Matérn-5/2 with one length scale per dimension (ARD) and the
  dimension-scaled log-normal length-scale prior of Hvarfner et al. (2024);
* Gaussian likelihood with a learned homoscedastic noise and a log-normal noise
  prior (CG-MD conductivities are noisy);
* hyper-parameters by maximum a posteriori (``fit_gpytorch_mll``).

The inverse length scales 1/ℓ_k rank parameter importance (thesis Fig. 5-2b).
"""

from __future__ import annotations

import numpy as np
import torch

from asegraph.exceptions import ParameterError

__all__ = ["GPSurrogate", "as_tensor"]

DTYPE = torch.float64


def as_tensor(x) -> torch.Tensor:
    """float64 CPU tensor from an array-like."""
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=DTYPE)


class GPSurrogate:
    """Exact GP with Matérn-5/2 ARD kernel and learned noise (float64).

    Parameters
    ----------
    seed : int
        Seed for the (rarely needed) random restarts of the hyper-parameter fit;
        the global torch generator is restored afterwards.

    Attributes
    ----------
    model : botorch.models.SingleTaskGP
        The fitted model (after :meth:`fit`).
    """

    def __init__(self, *, seed: int = 0):
        self.seed = int(seed)
        self.model = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> GPSurrogate:
        """Fit to unit-cube inputs ``x [n, d]`` and observations ``y [n]``.

        Returns
        -------
        GPSurrogate
            ``self``.
        """
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from botorch.models.utils.gpytorch_modules import (
            get_covar_module_with_dim_scaled_prior,
            get_gaussian_likelihood_with_lognormal_prior,
        )
        from gpytorch.mlls import ExactMarginalLogLikelihood

        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if x.ndim != 2 or len(x) != len(y):
            raise ParameterError(
                f"GPSurrogate.fit: expected x [n, d] and y [n], got {x.shape} and {y.shape}"
            )
        if len(y) < 2:
            raise ParameterError(f"GPSurrogate.fit: need at least 2 observations, got {len(y)}")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ParameterError("GPSurrogate.fit: x and y must be finite; drop failed points")
        if (x < -1e-9).any() or (x > 1 + 1e-9).any():
            raise ParameterError("GPSurrogate.fit: x must lie in the unit cube; use space.to_unit")
        d = x.shape[1]
        tx, ty = as_tensor(x), as_tensor(y).unsqueeze(-1)
        model = SingleTaskGP(
            tx,
            ty,
            covar_module=get_covar_module_with_dim_scaled_prior(
                ard_num_dims=d, use_rbf_kernel=False
            ),
            likelihood=get_gaussian_likelihood_with_lognormal_prior(),
            outcome_transform=Standardize(m=1),
        )
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            fit_gpytorch_mll(mll)
        model.eval()
        self.model = model
        self.train_x, self.train_y = x, y
        return self

    def _check(self) -> None:
        if self.model is None:
            raise ParameterError("GPSurrogate: call fit() before predicting")

    def predict(
        self, x: np.ndarray, *, observation_noise: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation at unit-cube points ``x [m, d]``.

        Returns
        -------
        mean, std : numpy.ndarray, shape ``[m]``, units of ``y``
        """
        self._check()
        with torch.no_grad():
            post = self.model.posterior(
                as_tensor(np.atleast_2d(x)), observation_noise=observation_noise
            )
            mean = post.mean.squeeze(-1).numpy()
            std = post.variance.clamp_min(0).sqrt().squeeze(-1).numpy()
        return mean, std

    @property
    def lengthscales(self) -> np.ndarray:
        """ARD length scales ``[d]`` in unit-cube coordinates."""
        self._check()
        return self.model.covar_module.lengthscale.detach().reshape(-1).numpy().copy()

    @property
    def inverse_lengthscales(self) -> np.ndarray:
        """1/ℓ ``[d]``: parameter importance (larger = more influential)."""
        return 1.0 / self.lengthscales

    @property
    def noise_std(self) -> float:
        """Learned observation-noise standard deviation, in units of ``y``."""
        self._check()
        noise = float(self.model.likelihood.noise.detach().reshape(-1)[0])
        scale = float(self.model.outcome_transform.stdvs.reshape(-1)[0])
        return float(np.sqrt(noise) * scale)
