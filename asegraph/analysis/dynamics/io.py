"""GDyNet outputs: an xarray Dataset (CF attributes, times in ps), netCDF, PNG figures.

Every file is written under a temporary name in the destination folder and
renamed, so an interrupted run never leaves a half-written output.

**Two state definitions.** The network ends in a softmax over ``K`` states
(thesis Eq. 4.6). VAMP-2 is invariant to invertible linear maps of its outputs, so nothing pins the
softmax to 0 and 1: on the toy system a state's output may range over only
0.14–0.84. Both readings are kept:

* **memberships** (``state_probability``, ``state_assignment``,
  ``population_time``, ``koopman_matrix``, ``population``,
  ``implied_timescale*``, ``ck_*``; attribute ``ck_passed``): the softmax
  mapped linearly so that its extreme outputs become the unit vectors (the
  inner-simplex step of PCCA+), clipped to [0, 1]. In this basis the Koopman
  matrix is a transition matrix whose entries read as hopping probabilities.
* **softmax** — the thesis' definition (``state_probability_softmax``,
  ``population_softmax`` = mean softmax over the test frames,
  ``koopman_matrix_softmax``, ``implied_timescale_softmax*``,
  ``ck_*_softmax``; attribute ``ck_passed_softmax``): compare these with the
  thesis' numbers.

The implied timescales of both are the same up to estimation noise (the map
is linear and invertible); populations and matrix entries differ when the
softmax does not span [0, 1] (the softmax ones are then pulled towards
``1/K``). State ``j`` is the same state in both (columns matched, see
:func:`~asegraph.analysis.dynamics.koopman.softmax_order`).

Per-frame variables ``frame_role`` (train/validation/test) and
``trajectory_file`` say which frames the Koopman analyses used.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from asegraph._utils.figures import new_figure, save_figure
from asegraph._utils.files import atomic_path
from asegraph.analysis.dynamics.koopman import KoopmanResult

STATE_DEFINITION = (
    "state_probability etc.: memberships (softmax mapped so its extreme outputs are the unit "
    "vectors, PCCA+ inner simplex); *_softmax: the raw softmax outputs (thesis ch. 4)"
)


def _var(dims, data, units: str, long_name: str, **attrs) -> xr.Variable:
    return xr.Variable(dims, np.asarray(data), {"units": units, "long_name": long_name, **attrs})


def _koopman_variables(result: KoopmanResult, frame_ps: float, suffix: str, basis: str) -> dict:
    """Koopman matrix, eigenpairs, stationary population, implied timescales and CK test."""
    one, ps = "1", "ps"
    data = {
        "koopman_matrix": _var(
            ("state", "state_to"),
            result.koopman_matrix,
            one,
            f"Koopman matrix between states at the lag time ({basis})",
        ),
        "eigenvalue": _var(
            ("mode",), np.real(result.eigenvalues), one, f"Koopman eigenvalues, real part ({basis})"
        ),
        "right_eigenvector": _var(
            ("state", "mode"),
            np.real(result.right_eigenvectors),
            one,
            f"right eigenvectors of the Koopman matrix, columns ({basis})",
        ),
        "left_eigenvector": _var(
            ("state", "mode"),
            np.real(result.left_eigenvectors),
            one,
            f"left eigenvectors of the Koopman matrix, columns ({basis})",
        ),
        "stationary_population": _var(
            ("state",),
            result.population,
            one,
            f"stationary distribution of the Koopman matrix ({basis})",
        ),
        "implied_timescale": _var(
            ("lag", "process"),
            result.implied_timescales * frame_ps,
            ps,
            f"implied relaxation timescale ({basis})",
        ),
    }
    for bound, values in (("lower", result.its_lower), ("upper", result.its_upper)):
        data[f"implied_timescale_{bound}"] = _var(
            ("lag", "process"),
            values * frame_ps,
            ps,
            f"implied timescale, {bound} 95% bound over interval subsets ({basis})",
        )
    for name, label in (
        ("ck_predicted", "predicted as K(lag)^n"),
        ("ck_estimated", "estimated at n*lag"),
    ):
        data[name] = _var(
            ("ck_lag", "state", "state_to"),
            getattr(result, name),
            one,
            f"Chapman-Kolmogorov transition probability {label} ({basis})",
        )
        for bound in ("lower", "upper"):
            data[f"{name}_{bound}"] = _var(
                ("ck_lag", "state", "state_to"),
                getattr(result, f"{name}_{bound}"),
                one,
                f"Chapman-Kolmogorov {label}, {bound} 95% bound over interval subsets ({basis})",
            )
    return {f"{name}{suffix}": variable for name, variable in data.items()}


def build_dataset(
    result: KoopmanResult,
    probability: np.ndarray,
    times_ps: np.ndarray,
    frame_ps: float,
    target_atoms: np.ndarray,
    group_index: np.ndarray,
    history: list[dict],
    attrs: dict,
    softmax: np.ndarray | None = None,
    softmax_result: KoopmanResult | None = None,
    test_frames: np.ndarray | None = None,
    frame_role: np.ndarray | None = None,
    frame_file: np.ndarray | None = None,
) -> xr.Dataset:
    """Collect the analysis into a labelled Dataset.

    Two state definitions sit side by side (see the module docstring): the
    memberships (``state_probability``, ``koopman_matrix``, ``population``,
    ...) and the thesis' raw softmax (the same names with ``_softmax``).

    Parameters
    ----------
    result : KoopmanResult
        Koopman analysis of the memberships; times in frames (converted here
        with ``frame_ps``).
    probability : ndarray, shape (F, n, K)
        State memberships of every analysed frame (clipped to [0, 1]).
    times_ps : ndarray, shape (F,), ps
    frame_ps : float, ps
        Time between analysed frames.
    target_atoms, group_index : ndarray, shape (T,)
        Atom index and group of each target atom.
    history : list of dict
        Training history (``epoch``, ``train_vamp2``, ``validation_vamp2``).
    attrs : dict
        Global attributes (selection, K, lag, seed, hyperparameters, ...).
    softmax : ndarray, shape (F, n, K), optional
        Raw softmax outputs, columns in the order of the membership states.
    softmax_result : KoopmanResult, optional
        Koopman analysis of ``softmax`` on the test frames.
    test_frames : ndarray of bool, shape (F,), optional
        Frames the Koopman analyses used (default: all).
    frame_role : ndarray of int8, shape (F,), optional
        0 train, 1 validation, 2 test, -1 unused.
    frame_file : ndarray of int, shape (F,), optional
        Trajectory file (0-based) of each frame.
    """
    from asegraph import __version__

    n_frames, n_groups, k = probability.shape
    one = "1"
    ps = "ps"
    test_frames = np.ones(n_frames, dtype=bool) if test_frames is None else test_frames
    states = np.argmax(probability, axis=2).astype(np.int8)
    data = {
        "state_probability": _var(
            ("time", "target", "state"),
            probability,
            one,
            "membership of each target group in each state (inner-simplex/PCCA+-style map of "
            "the softmax, clipped to [0, 1])",
        ),
        "state_assignment": _var(
            ("time", "target"),
            states,
            one,
            "most probable state (PCCA+-style membership argmax)",
            flag_values=np.arange(k, dtype=np.int8),
        ),
        "population_time": _var(
            ("time", "state"),
            probability.mean(axis=1),
            one,
            "fraction of target groups in each state (memberships)",
        ),
        **{
            name: variable
            for name, variable in _koopman_variables(result, frame_ps, "", "memberships").items()
            if name != "stationary_population"  # it is "population"
        },
        "population": _var(
            ("state",),
            result.population,
            one,
            "stationary state population of the Koopman model of the memberships",
        ),
        "target_atom": _var(("target_atom",), target_atoms, one, "atom index of a target atom"),
        "target_group": _var(("target_atom",), group_index, one, "target group of a target atom"),
        "train_vamp2": _var(
            ("epoch",),
            [h["train_vamp2"] for h in history],
            one,
            "VAMP-2 score on the training block",
        ),
        "validation_vamp2": _var(
            ("epoch",),
            [h["validation_vamp2"] for h in history],
            one,
            "VAMP-2 score on the validation block",
        ),
    }
    if softmax is not None:
        data["state_probability_softmax"] = _var(
            ("time", "target", "state"),
            softmax,
            one,
            "raw softmax output of the network for each state (the thesis' state "
            "probability; columns in the order of the membership states)",
        )
        data["population_softmax"] = _var(
            ("state",),
            softmax[test_frames].mean(axis=(0, 1)),
            one,
            "state population as the mean softmax output over the test frames (thesis)",
        )
    if softmax_result is not None:
        data.update(_koopman_variables(softmax_result, frame_ps, "_softmax", "softmax"))
    if frame_role is not None:
        data["frame_role"] = _var(
            ("time",),
            frame_role,
            one,
            "use of each frame",
            flag_values=np.array([-1, 0, 1, 2], dtype=np.int8),
            flag_meanings="unused train validation test",
        )
    if frame_file is not None:
        data["trajectory_file"] = _var(
            ("time",),
            np.asarray(frame_file, dtype=np.int32),
            one,
            "independent trajectory file of each frame (0-based, order given)",
        )
    coords = {
        "time": (
            "time",
            np.asarray(times_ps, dtype=np.float64),
            {"units": ps, "long_name": "simulation time", "standard_name": "time"},
        ),
        "target": ("target", np.arange(n_groups), {"long_name": "target group"}),
        "state": ("state", np.arange(k), {"long_name": "Koopman state"}),
        "state_to": ("state_to", np.arange(k), {"long_name": "Koopman state after the lag"}),
        "mode": ("mode", np.arange(k), {"long_name": "Koopman eigenmode"}),
        "process": ("process", np.arange(1, k), {"long_name": "relaxation process"}),
        "lag": ("lag", result.its_lags * frame_ps, {"units": ps, "long_name": "lag time"}),
        "ck_lag": (
            "ck_lag",
            result.ck_lags * frame_ps,
            {"units": ps, "long_name": "Chapman-Kolmogorov lag time"},
        ),
        "epoch": (
            "epoch",
            np.array([h["epoch"] for h in history], dtype=np.int64),
            {"long_name": "training epoch"},
        ),
    }
    global_attrs = {
        "Conventions": "CF-1.10",
        "title": "GDyNet Koopman analysis",
        "program": "asegraph-dynamics",
        "program_version": __version__,
        "ck_passed": int(result.ck_passed),
        "state_definition": STATE_DEFINITION,
    }
    if softmax_result is not None:
        global_attrs["ck_passed_softmax"] = int(softmax_result.ck_passed)
    for key, value in attrs.items():
        if isinstance(value, (dict, list, tuple)):
            value = json.dumps(value)
        elif value is None:
            value = "none"
        elif isinstance(value, bool):
            value = int(value)
        global_attrs[key] = value
    return xr.Dataset(data, coords=coords, attrs=global_attrs)


def write_netcdf(dataset: xr.Dataset, path: str | Path) -> Path:
    """Write ``dataset`` to netCDF-4 at ``path`` (temporary name, then rename)."""
    path = Path(path)
    with atomic_path(path, suffix=path.suffix) as tmp:
        dataset.to_netcdf(tmp, engine="netcdf4")
    return path


def _save_figure(figure, path: Path) -> Path:
    return save_figure(figure, path, dpi=120)


def plot_timescales(dataset: xr.Dataset, path: str | Path, reference: dict | None = None) -> Path:
    """Implied timescales vs lag with 95 % bands; ``reference``: {label: (lags_ps, ts_ps)}."""
    figure, axis = new_figure(figsize=(4.5, 3.5))
    lags = dataset["lag"].values
    for process in dataset["process"].values:
        its = dataset["implied_timescale"].sel(process=process)
        prefix = "GDyNet " if reference else ""
        axis.plot(lags, its, marker="o", label=f"{prefix}process {process}")
        axis.fill_between(
            lags,
            dataset["implied_timescale_lower"].sel(process=process),
            dataset["implied_timescale_upper"].sel(process=process),
            alpha=0.25,
        )
    styles = [("k", "--", "s"), ("C3", ":", "^"), ("C2", "-.", "v")]
    for (label, (ref_lags, ref_ts)), (color, line, marker) in zip(
        (reference or {}).items(), styles * 3
    ):
        axis.plot(
            ref_lags, ref_ts, color=color, linestyle=line, marker=marker, markersize=3, label=label
        )
    axis.fill_between(lags, 0, lags, color="grey", alpha=0.4)
    axis.set_xlabel("lag time (ps)")
    axis.set_ylabel("implied timescale (ps)")
    axis.set_yscale("log")
    axis.legend(fontsize=7)
    figure.tight_layout()
    return _save_figure(figure, Path(path))


def plot_ck(dataset: xr.Dataset, path: str | Path) -> Path:
    """K x K grid: CK-predicted (line, band) vs estimated (points, error bars)."""
    k = dataset.sizes["state"]
    lags = dataset["ck_lag"].values
    figure, axes = new_figure(
        k, k, figsize=(2.4 * k, 2.2 * k), sharex=True, sharey=True, squeeze=False
    )
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            sel = {"state": i, "state_to": j}
            ax.plot(lags, dataset["ck_predicted"].isel(sel), color="C0", label="predicted")
            ax.fill_between(
                lags,
                dataset["ck_predicted_lower"].isel(sel),
                dataset["ck_predicted_upper"].isel(sel),
                color="C0",
                alpha=0.25,
            )
            estimated = dataset["ck_estimated"].isel(sel).values
            error = np.abs(
                np.stack(
                    [
                        estimated - dataset["ck_estimated_lower"].isel(sel).values,
                        dataset["ck_estimated_upper"].isel(sel).values - estimated,
                    ]
                )
            )
            ax.errorbar(
                lags, estimated, yerr=error, fmt="o", color="C3", markersize=3, label="estimated"
            )
            ax.set_title(f"{i} → {j}", fontsize=8)
            ax.set_ylim(-0.05, 1.05)
    for ax in axes[-1]:
        ax.set_xlabel("lag (ps)")
    axes[0, 0].legend(fontsize=6)
    figure.tight_layout()
    return _save_figure(figure, Path(path))


def plot_populations(dataset: xr.Dataset, path: str | Path) -> Path:
    """Fraction of target groups in each state over time."""
    figure, axis = new_figure(figsize=(5, 3))
    for state in dataset["state"].values:
        axis.plot(
            dataset["time"],
            dataset["population_time"].sel(state=state),
            lw=0.8,
            label=f"state {state}",
        )
    axis.set_xlabel("time (ps)")
    axis.set_ylabel("population")
    axis.set_ylim(0, 1)
    axis.legend(fontsize=7)
    figure.tight_layout()
    return _save_figure(figure, Path(path))


def write_figures(dataset: xr.Dataset, stem: str | Path) -> list[Path]:
    """``<stem>_timescales.png``, ``<stem>_ck.png``, ``<stem>_populations.png``."""
    stem = str(stem)
    return [
        plot_timescales(dataset, f"{stem}_timescales.png"),
        plot_ck(dataset, f"{stem}_ck.png"),
        plot_populations(dataset, f"{stem}_populations.png"),
    ]
