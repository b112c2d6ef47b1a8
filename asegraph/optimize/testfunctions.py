"""Synthetic evaluators with the CG-MD evaluator's signature, for tests and benchmarks.

An evaluator is ``f(params: dict, settings: dict, seed: int) -> dict`` returning
at least ``value`` (to be maximised) and optionally ``uncertainty``; it raises
or returns a non-finite value on failure.  Select one in a campaign config with
``evaluator = "asegraph.optimize.testfunctions:synthetic"``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
import torch

__all__ = ["hartmann6", "embedded_hartmann", "synthetic"]


def hartmann6(x: np.ndarray) -> np.ndarray:
    """Negated Hartmann-6 (maximum 3.32237 at a known point) on ``x [n, 6]`` in [0, 1]^6."""
    from botorch.test_functions import Hartmann

    fn = Hartmann(dim=6, negate=True)
    with torch.no_grad():
        return fn(torch.as_tensor(np.atleast_2d(x), dtype=torch.float64)).numpy()


def embedded_hartmann(x: np.ndarray, active: Sequence[int] = (0, 3, 5, 7, 10, 12)) -> np.ndarray:
    """Hartmann-6 on the ``active`` columns of ``x [n, D]``; the other columns are inert."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    return hartmann6(x[:, list(active)])


HARTMANN6_MAX = 3.32237


def synthetic(params: Mapping[str, float], settings: Mapping, seed: int) -> dict:
    """Evaluate a synthetic function of the varied parameters (in config order).

    Parameters
    ----------
    params : mapping of str to float
        The design point, one value per varied parameter.
    settings : mapping
        The campaign's ``[simulation]`` table; every key is optional:

        - ``function``: ``"hartmann6"`` (default), ``"embedded14"`` or ``"sum"``
          (Σ x, for fast tests). Parameters are read in sorted-name order from
          ``params`` (or in the order of ``settings["names"]`` if given).
        - ``noise_sd``: Gaussian noise added to the value (seeded by ``seed``).
        - ``sleep_s``: seconds to sleep (simulates a long simulation).
        - ``nan_above``: return NaN when the first parameter exceeds this
          (simulates a crash).
        - ``raise_above``: raise ``RuntimeError`` when the first parameter exceeds
          this.
        - ``log_file``: append the seed and a newline to this file when an
          evaluation starts (tests count re-runs).
    seed : int
        Seeds the noise.

    Returns
    -------
    dict
        ``{"value": float, "uncertainty": noise_sd}``.
    """
    names = list(settings.get("names") or sorted(params))
    x = np.array([float(params[n]) for n in names])
    if settings.get("log_file"):
        with open(settings["log_file"], "a") as fh:
            fh.write(f"{seed}\n")
            fh.flush()
    if "raise_above" in settings and x[0] > float(settings["raise_above"]):
        raise RuntimeError(f"synthetic: simulated crash at {names[0]} = {x[0]:.3f}")
    if settings.get("sleep_s"):
        time.sleep(float(settings["sleep_s"]))
    if "nan_above" in settings and x[0] > float(settings["nan_above"]):
        return {"value": float("nan")}
    kind = settings.get("function", "hartmann6")
    if kind == "hartmann6":
        value = float(hartmann6(x[None, :6])[0])
    elif kind == "embedded14":
        value = float(embedded_hartmann(x[None, :])[0])
    elif kind == "sum":
        value = float(x.sum())
    else:
        raise ValueError(f"synthetic: unknown function {kind!r}")
    noise = float(settings.get("noise_sd", 0.0))
    value += noise * float(np.random.default_rng(seed).standard_normal())
    return {"value": value, "uncertainty": noise}


#: The result keys of :func:`synthetic` (campaigns check their objective against them).
synthetic.outputs = ("value", "uncertainty")
