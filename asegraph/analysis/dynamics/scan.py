"""Choosing the number of states K and the lag time tau (thesis §4.2.3).

For every combination of ``states`` and ``lags``, :func:`scan_states_and_lags`
trains a GDyNet (same data, same seed) and records its validation VAMP-2,
slowest implied timescale (95 % interval) and CK test. Each combination's
dataset and model are written to ``OUTPUT/K{K}_lag{tau}ps.nc``/``.pt`` as it
finishes (a training checkpoint beside them while it trains), so an
interrupted scan resumes where it stopped; ``OUTPUT/scan.json`` records the
settings (trajectory, selection, training, frames), and a rerun with others
is refused rather than served the old results. ``OUTPUT/scan.csv`` gets one
row per combination::

    states, lag_ps, validation_vamp2, slowest_timescale_ps, ck_passed, recommended,
    timescale_lower_ps, timescale_upper_ps, converged, fallback

Recommendation (the thesis: "the smallest feature space dimension and tau
that fulfils the CK equation within statistical uncertainty"): among rows
whose CK test passed and whose slowest timescale has *converged* — it agrees
with the next larger scanned lag (same K) within 10 % or that lag's 95 %
interval; the largest lag counts as converged when it agrees with the one
before — the smallest K, then the smallest tau, gets ``recommended = true``.
No row is recommended when none qualifies.

Figures: ``scan_vamp2.png`` (validation VAMP-2 vs tau per K),
``scan_timescales.png`` (slowest implied timescale vs tau with 95 % bands)
and ``scan_ck.png`` (CK pass/fail grid, the recommendation circled).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asegraph.exceptions import ParameterError

COLUMNS = (
    "states",
    "lag_ps",
    "validation_vamp2",
    "slowest_timescale_ps",
    "ck_passed",
    "recommended",
    "timescale_lower_ps",
    "timescale_upper_ps",
    "converged",
    "fallback",
)
#: Relative change of the slowest timescale between consecutive lags counted as converged.
CONVERGENCE = 0.1


def _row(dataset, n_states: int, lag_ps: float) -> dict:
    """One scan row from a GDyNet dataset."""
    eigenvalue = abs(float(dataset["eigenvalue"].values[1]))
    timescale = -lag_ps / np.log(eigenvalue) if 0 < eigenvalue < 1 else np.inf
    lags = dataset["lag"].values
    index = int(np.argmin(np.abs(lags - lag_ps)))
    return {
        "states": n_states,
        "lag_ps": lag_ps,
        "validation_vamp2": float(dataset.attrs["best_validation_vamp2"]),
        "slowest_timescale_ps": float(timescale),
        "ck_passed": bool(dataset.attrs["ck_passed"]),
        "timescale_lower_ps": float(dataset["implied_timescale_lower"].values[index, 0]),
        "timescale_upper_ps": float(dataset["implied_timescale_upper"].values[index, 0]),
        "fallback": str(dataset.attrs.get("fallback", "")),
    }


def recommend(rows: list[dict]) -> list[dict]:
    """Add ``converged`` and ``recommended`` to the scan rows (see the module docstring)."""
    for row in rows:
        row["converged"], row["recommended"] = False, False
    for k in sorted({r["states"] for r in rows}):
        same = sorted((r for r in rows if r["states"] == k), key=lambda r: r["lag_ps"])
        agree = []
        for a, b in zip(same[:-1], same[1:]):
            ta, tb = a["slowest_timescale_ps"], b["slowest_timescale_ps"]
            half = (b["timescale_upper_ps"] - b["timescale_lower_ps"]) / 2
            tolerance = max(CONVERGENCE * tb, half if np.isfinite(half) else 0.0)
            agree.append(bool(np.isfinite(ta) and np.isfinite(tb) and abs(ta - tb) <= tolerance))
        for i, row in enumerate(same):
            row["converged"] = agree[i] if i < len(agree) else bool(agree and agree[-1])
    qualified = [r for r in rows if r["converged"] and r["ck_passed"]]
    if qualified:
        min(qualified, key=lambda r: (r["states"], r["lag_ps"]))["recommended"] = True
    return rows


def scan_states_and_lags(
    universe,
    states: list[int],
    lags: list[float | str],
    output: str | Path,
    figures: bool = True,
    progress: bool = False,
    **analysis_kwargs,
) -> list[dict]:
    """Train GDyNet for every (K, tau); write ``scan.csv``, per-run files and figures.

    Parameters
    ----------
    universe : MDAnalysis.Universe
    states : list of int
        Numbers of states ``K`` (each >= 2).
    lags : list of float (ps) or str (``"1ps"``)
    output : path
        Folder (created if missing; its parent must exist).
    figures : bool
    progress : bool
        A progress bar over the combinations (and the frames, epochs).
    **analysis_kwargs
        Passed to :class:`~asegraph.analysis.dynamics.analysis.GDyNetAnalysis`
        (``select``, ``environment``, ``max_epochs``, ``seed``, ...), and
        ``start``/``stop``/``step`` to its ``run``.

    Returns
    -------
    list of dict
        The rows of ``scan.csv``.
    """
    import xarray as xr

    from asegraph._utils.files import atomic_write_text
    from asegraph.analysis.dynamics.analysis import GDyNetAnalysis
    from asegraph.analysis.dynamics.trajectory import parse_time

    output = Path(output)
    if not output.parent.exists():
        raise FileNotFoundError(f"output folder '{output.parent}' does not exist")
    bad = [k for k in states if int(k) != k or k < 2]
    if not states or bad:
        raise ParameterError(f"states: expected integers >= 2 such as 2,3,4, got {list(states)}")
    if not lags:
        raise ParameterError("lags: expected at least one lag time such as 0.5ps,1ps,2ps")
    lags_ps = sorted({parse_time(t, "lag") for t in lags})
    frames = {key: analysis_kwargs.pop(key, None) for key in ("start", "stop", "step")}
    for key in ("n_states", "lag", "checkpoint", "model_file"):
        analysis_kwargs.pop(key, None)
    _check_settings(output, _settings(universe, analysis_kwargs, frames))
    # the neighbour tables do not depend on K or tau: build them once
    first = GDyNetAnalysis(universe, lag=lags_ps[0], verbose=progress, **analysis_kwargs)
    graphs = None
    combos = [(int(k), lag) for k in sorted(set(states)) for lag in lags_ps]
    iterator = combos
    if progress:
        from tqdm import tqdm

        iterator = tqdm(combos, desc="scan K x lag", unit="model")
    rows = []
    for k, lag in iterator:
        stem = f"K{k}_lag{lag:g}ps"
        path = output / f"{stem}.nc"
        if not path.exists():  # resumable: finished combinations are read back
            if graphs is None:
                graphs = first.build_graphs(**frames)
            analysis = GDyNetAnalysis(
                universe,
                n_states=k,
                lag=lag,
                checkpoint=output / f"{stem}.ckpt",
                graphs=graphs,
                verbose=False,
                **analysis_kwargs,
            ).run(**frames)
            analysis.save(path, figures=False)
            (output / f"{stem}.ckpt").unlink(missing_ok=True)  # finished: the .nc marks it
        with xr.open_dataset(path) as dataset:
            rows.append(_row(dataset, k, lag))
        _write_csv(recommend([dict(r) for r in rows]), output / "scan.csv", atomic_write_text)
    rows = recommend(rows)
    _write_csv(rows, output / "scan.csv", atomic_write_text)
    if figures:
        plot_scan(rows, output)
    return rows


#: Keyword arguments that do not change a combination's result.
_NOT_RESULTS = ("graph_cache", "verbose")


def _settings(universe, analysis_kwargs: dict, frames: dict) -> dict:
    """What every combination's result depends on besides K and tau, as JSON reads it back."""
    import json

    from asegraph._utils.jsonsafe import jsonsafe

    reader = universe.trajectory
    files = [getattr(r, "filename", None) for r in getattr(reader, "readers", [reader])]
    settings = {
        "trajectory": [Path(f).name if f else None for f in files],
        "n_atoms": int(universe.atoms.n_atoms),
        "n_frames": int(reader.n_frames),
        **{k: v for k, v in sorted(analysis_kwargs.items()) if k not in _NOT_RESULTS},
        **frames,
    }
    return json.loads(json.dumps(jsonsafe(settings), default=str))  # AtomGroups as text


def _check_settings(output: Path, settings: dict) -> None:
    """Refuse to resume a scan made with other settings; record them for a new scan.

    A finished combination is read back by its file name alone, so without this
    a rerun with, e.g., more epochs or another trajectory reported the old results.
    """
    import json

    from asegraph._utils.jsonsafe import write_json

    record = output / "scan.json"
    if record.is_file():
        stored = json.loads(record.read_text()).get("settings", {})
        changed = [
            f"{k} {stored.get(k)!r} -> {settings.get(k)!r}"
            for k in sorted(set(stored) | set(settings))
            if stored.get(k) != settings.get(k)
        ]
        if changed:
            raise ParameterError(
                f"output folder '{output}' holds a scan made with other settings "
                f"({'; '.join(changed)}); rerun with those settings to resume it, or write to "
                "another output folder (or delete this one) to scan afresh"
            )
        return
    output.mkdir(exist_ok=True)
    write_json(record, {"settings": settings})


def _write_csv(rows: list[dict], path: Path, write) -> None:
    def text(value):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return f"{value:.6g}"
        if isinstance(value, str):
            return '"' + value.replace('"', "'") + '"' if value else ""
        return str(value)

    lines = [",".join(COLUMNS)] + [",".join(text(r[c]) for c in COLUMNS) for r in rows]
    write(path, "\n".join(lines) + "\n")


def plot_scan(rows: list[dict], output: str | Path) -> list[Path]:
    """``scan_vamp2.png``, ``scan_timescales.png``, ``scan_ck.png`` in ``output``."""
    from asegraph._utils.figures import new_figure, save_figure

    output = Path(output)
    ks = sorted({r["states"] for r in rows})
    lags = sorted({r["lag_ps"] for r in rows})
    written = []
    figure, axis = new_figure(figsize=(4.5, 3.5))
    for k in ks:
        same = sorted((r for r in rows if r["states"] == k), key=lambda r: r["lag_ps"])
        axis.plot([r["lag_ps"] for r in same], [r["validation_vamp2"] for r in same], "o-")
        axis.lines[-1].set_label(f"K = {k}")
    axis.set_xlabel("lag time τ (ps)")
    axis.set_ylabel("validation VAMP-2")
    axis.legend(fontsize=7)
    figure.tight_layout()
    written.append(save_figure(figure, output / "scan_vamp2.png", dpi=120))

    figure, axis = new_figure(figsize=(4.5, 3.5))
    for k in ks:
        same = sorted((r for r in rows if r["states"] == k), key=lambda r: r["lag_ps"])
        x = [r["lag_ps"] for r in same]
        axis.plot(x, [r["slowest_timescale_ps"] for r in same], "o-", label=f"K = {k}")
        axis.fill_between(
            x,
            [r["timescale_lower_ps"] for r in same],
            [r["timescale_upper_ps"] for r in same],
            alpha=0.25,
        )
    axis.fill_between(lags, 0, lags, color="grey", alpha=0.4)  # timescales below tau: unresolved
    axis.set_xlabel("lag time τ (ps)")
    axis.set_ylabel("slowest implied timescale (ps)")
    axis.set_yscale("log")
    axis.legend(fontsize=7)
    figure.tight_layout()
    written.append(save_figure(figure, output / "scan_timescales.png", dpi=120))

    figure, axis = new_figure(figsize=(1.2 + 0.9 * len(lags), 1.0 + 0.7 * len(ks)))
    grid = np.full((len(ks), len(lags)), np.nan)
    for r in rows:
        grid[ks.index(r["states"]), lags.index(r["lag_ps"])] = float(r["ck_passed"])
    axis.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for r in rows:
        i, j = ks.index(r["states"]), lags.index(r["lag_ps"])
        text = ("pass" if r["ck_passed"] else "fail") + ("\n★" if r["recommended"] else "")
        axis.text(j, i, text, ha="center", va="center", fontsize=8)
    axis.set_xticks(range(len(lags)), [f"{t:g}" for t in lags])
    axis.set_yticks(range(len(ks)), [str(k) for k in ks])
    axis.set_xlabel("lag time τ (ps)")
    axis.set_ylabel("states K")
    axis.set_title("CK test (★ recommended)", fontsize=9)
    figure.tight_layout()
    written.append(save_figure(figure, output / "scan_ck.png", dpi=120))
    return written
