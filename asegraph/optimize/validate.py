"""Check a campaign's surrogate against new simulations, and its 3-D isosurface.

* :func:`validate_campaign` (``asegraph optimize validate``, thesis Fig. 5-2d):
  runs the campaign's evaluator (CG MD with the campaign's simulation
  settings) at user-given design points — e.g. a sweep of the anion radius
  with everything else at PEO-LiTFSI — and plots the simulated objective
  (± its block standard error) against the GP's posterior mean ± 2σ.  The
  simulations are not added to the campaign.  Results are written to
  ``validation.json`` after every finished simulation (checkpoint); a rerun
  skips the points already simulated at the same values with the same
  simulation settings (an edited point is simulated anew).
* :func:`isosurface_figure` (thesis Fig. 5-3a, drawn by ``report``): the
  surface where the GP's predicted objective equals its value at the
  reference point, over the three most important parameters (largest 1/ℓ),
  the others at the reference.

Points file (TOML/YAML), either named points or one sweep::

    [points.PEO-LiTFSI]       # unlisted parameters take reference values
    r_ani = 3.3
    [points.small-anion]
    r_ani = 2.0

    [sweep]                   # or: one parameter, several values
    r_ani = [2.0, 2.5, 3.0, 3.5, 4.0, 4.5]
"""

from __future__ import annotations

import math
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path

import numpy as np

from asegraph._utils.figures import new_figure, save_figure
from asegraph._utils.jsonsafe import write_json
from asegraph.exceptions import InputFileError
from asegraph.optimize.campaign import Campaign, evaluate, load_campaign, make_executor
from asegraph.optimize.space import DesignSpace, read_config_file

__all__ = ["validate_campaign", "isosurface_figure", "load_validation_points"]


def load_validation_points(path: str | Path, space: DesignSpace) -> tuple[dict, str | None]:
    """Named unit-cube points ``{name: [d]}`` from ``[points.*]`` or a one-parameter ``[sweep]``.

    Returns
    -------
    (dict, str or None)
        The points, and the swept parameter's name (None for named points).
    """
    from asegraph.optimize.report import _load_points

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"points file {str(path)!r} does not exist; check the path")
    data = read_config_file(path)
    if "sweep" not in data:
        if not data.get("points", data):
            raise InputFileError(f"{str(path)!r}: no [points.NAME] tables and no [sweep] table")
        return _load_points(path, space), None
    sweep = data["sweep"]
    if not isinstance(sweep, dict) or len(sweep) != 1:
        raise InputFileError(
            f"{str(path)!r}: [sweep] must name exactly one parameter with a list of values, "
            f"got {sweep!r}"
        )
    ((name, values),) = sweep.items()
    if name not in space.names:
        raise InputFileError(
            f"{str(path)!r}: [sweep] parameter {name!r} is not in the design space {space.names}"
        )
    if not isinstance(values, list) or len(values) < 2:
        raise InputFileError(f"{str(path)!r}: [sweep] {name} must be a list of >= 2 values")
    ref = space.to_params(space.reference_unit())
    return {f"{name}={v:g}": space.from_params({**ref, name: float(v)}) for v in values}, name


def _fit_gp(camp: Campaign, results: dict, seed: int):
    from asegraph.optimize.surrogate import GPSurrogate

    x, y = camp.training_data(results)
    if len(np.unique(y)) < 2:
        raise InputFileError(
            f"campaign {str(camp.store.directory)!r}: needs at least two distinct finished "
            "evaluations to fit the surrogate; run more of the campaign first"
        )
    return GPSurrogate(seed=seed).fit(x, y)


def validate_campaign(
    directory: str | Path,
    points: str | Path,
    out: str | Path | None = None,
    *,
    workers: int = 2,
    executor: str = "processes",
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Simulate the campaign's objective at ``points`` and compare with its GP (Fig. 5-2d).

    Parameters
    ----------
    directory : path
        Campaign directory (``campaign.jsonl``).
    points : path
        TOML/YAML with ``[points.NAME]`` tables or a one-parameter ``[sweep]``.
    out : path, optional
        Output directory (default ``<directory>/validation``).
    workers : int
        Simulations run at once.
    executor : {"processes", "threads"}
        Local executor (see :func:`~asegraph.optimize.campaign.make_executor`).
    seed : int
        Seed of the simulations (one per point, derived from it) and of the GP fit.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    dict
        ``points`` (per point: params, simulated value/uncertainty/status,
        predicted mean/std, ``within_2sigma``), ``rmse``, ``coverage_2sigma``,
        ``figure``.
    """
    from tqdm.auto import tqdm

    config, results, _ = load_campaign(directory)
    space = config.space
    pts, swept = load_validation_points(points, space)
    out = Path(out) if out else Path(directory) / "validation"
    store = out / "validation.json"
    settings = _settings(config)
    done: dict = {}
    if store.is_file():
        import json

        stored = json.loads(store.read_text())
        if stored.get("settings", settings) == settings:  # else another campaign's runs
            done = stored.get("simulations", {})
    # a name is reused only for the same point: an edited [points.NAME] is simulated anew
    todo = [k for k in pts if not _reusable(done.get(k), space.to_params(pts[k]))]
    seeds = {
        k: int(np.random.SeedSequence([seed, 7, i]).generate_state(1)[0]) for i, k in enumerate(pts)
    }
    if todo:
        pool = make_executor(executor, workers)
        bar = tqdm(total=len(todo), disable=not progress, desc="validate", unit="sim")
        try:
            running = {
                pool.submit(
                    evaluate,
                    config.evaluator,
                    space.to_params(pts[k]),
                    config.simulation,
                    seeds[k],
                    config.objective,
                ): k
                for k in todo
            }
            while running:
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    k = running.pop(fut)
                    r = fut.result()
                    done[k] = {
                        "params": space.to_params(pts[k]),
                        "seed": seeds[k],
                        "status": r["status"],
                        "value": r["value"],
                        "uncertainty": r["uncertainty"],
                        "error": r["error"],
                        "diffusive": r["result"].get("diffusive"),
                        "wall_s": r["wall_s"],
                    }
                    write_json(store, {"settings": settings, "simulations": done})
                    bar.update(1)
        finally:
            bar.close()
            pool.shutdown(wait=False, cancel_futures=True)

    camp = Campaign(config, directory)
    gp = _fit_gp(camp, results, seed)
    names = list(pts)
    mean, std = gp.predict(np.array([pts[k] for k in names]))
    rows, errs, inside = {}, [], []
    for k, m, s in zip(names, mean, std, strict=True):
        sim = done[k]
        ok = sim["status"] == "ok"
        val = camp._transform(sim["value"]) if ok else math.nan
        unc = sim["uncertainty"] if ok else math.nan
        if ok and config.transform == "log10" and sim["value"] > 0:
            unc = unc / (sim["value"] * math.log(10))  # error of log10
        within = bool(ok and abs(val - m) <= 2 * math.hypot(s, unc if math.isfinite(unc) else 0))
        rows[k] = {
            **sim,
            "transformed_value": val,
            "transformed_uncertainty": unc,
            "predicted_mean": float(m),
            "predicted_std": float(s),
            "within_2sigma": within,
        }
        if ok:
            errs.append(val - m)
            inside.append(within)
    summary = {
        "campaign": str(directory),
        "objective": config.objective + (" (log10)" if config.transform == "log10" else ""),
        "swept": swept,
        "points": rows,
        "rmse": float(np.sqrt(np.mean(np.square(errs)))) if errs else math.nan,
        "coverage_2sigma": float(np.mean(inside)) if inside else math.nan,
        "n_failed": sum(1 for r in rows.values() if r["status"] != "ok"),
    }
    summary["figure"] = str(_validation_figure(rows, swept, summary["objective"], out))
    write_json(out / "summary.json", summary)
    write_json(store, {"settings": settings, "simulations": done})
    return summary


def _settings(config) -> dict:
    """What a simulation's result depends on besides its point, as JSON reads it back."""
    import json

    from asegraph._utils.jsonsafe import jsonsafe

    raw = {"evaluator": config.evaluator, "simulation": config.simulation}
    return json.loads(json.dumps(jsonsafe(raw)))


def _reusable(sim: dict | None, params: dict) -> bool:
    """Whether a stored simulation ran successfully at exactly ``params``."""
    if not sim or sim.get("status") != "ok":
        return False
    stored = sim.get("params", {})
    return set(stored) == set(params) and all(
        math.isclose(float(stored[n]), float(v), rel_tol=1e-9, abs_tol=1e-12)
        for n, v in params.items()
    )


def _validation_figure(rows: dict, swept: str | None, ylabel: str, out: Path) -> Path:
    names = list(rows)
    if swept:
        x = np.array([rows[k]["params"][swept] for k in names])
    else:
        x = np.arange(len(names), dtype=float)
    order = np.argsort(x)
    x = x[order]
    r = [rows[names[i]] for i in order]
    m = np.array([v["predicted_mean"] for v in r])
    s = np.array([v["predicted_std"] for v in r])
    val = np.array([v["transformed_value"] for v in r])
    unc = np.array([v["transformed_uncertainty"] for v in r])
    fig, ax = new_figure(figsize=(5.5, 3.8))
    if swept:
        ax.plot(x, m, color="C0", label="GP mean")
        ax.fill_between(x, m - 2 * s, m + 2 * s, color="C0", alpha=0.25, label="GP ± 2σ")
        ax.set_xlabel(swept)
    else:
        ax.errorbar(x, m, yerr=2 * s, fmt="s", color="C0", capsize=4, label="GP mean ± 2σ")
        ax.set_xticks(x, [names[i] for i in order], rotation=30, ha="right")
    ok = np.isfinite(val)
    ax.errorbar(
        x[ok],
        val[ok],
        yerr=np.where(np.isfinite(unc[ok]), unc[ok], 0.0),
        fmt="o",
        color="C3",
        capsize=4,
        label="CG MD (± block s.e.)",
    )
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "validation.png"
    save_figure(fig, path, dpi=120)
    return path


def isosurface_figure(gp, space: DesignSpace, order: np.ndarray, path: Path, n: int = 24):
    """Isosurface of the GP mean at its reference-point value over the top-3 parameters.

    Parameters
    ----------
    gp : GPSurrogate
        Fitted surrogate (unit-cube inputs).
    space : DesignSpace
    order : array ``[d]``
        Parameter indices by decreasing importance (1/ℓ).
    path : Path
        PNG to write.
    n : int
        Grid points per axis.

    Returns
    -------
    dict or None
        ``level`` and the three parameter names, or None when the level is not
        crossed inside the box (no surface to draw) or the space has < 3 dims.
    """
    from skimage.measure import marching_cubes

    if space.dim < 3:
        return None
    ref = space.reference_unit()
    sel = [int(i) for i in order[:3]]
    g = np.linspace(0.0, 1.0, n)
    grid = np.tile(ref, (n**3, 1))
    mesh = np.meshgrid(g, g, g, indexing="ij")
    for k, a in enumerate(sel):
        grid[:, a] = mesh[k].ravel()
    mean = gp.predict(grid)[0].reshape(n, n, n)
    level = float(gp.predict(ref[None, :])[0][0])
    if not mean.min() < level < mean.max():
        return None
    verts, faces, _, _ = marching_cubes(mean, level=level, spacing=(1 / (n - 1),) * 3)
    unit = np.tile(ref, (len(verts), 1))
    unit[:, sel] = verts
    phys = space.from_unit(unit)[:, sel]  # unit cube -> physical values
    fig, ax = new_figure(figsize=(5.5, 5), subplot_kw={"projection": "3d"})
    ax.plot_trisurf(phys[:, 0], phys[:, 1], faces, phys[:, 2], cmap="viridis", alpha=0.8, lw=0)
    rp = space.from_unit(ref)
    ax.scatter([rp[sel[0]]], [rp[sel[1]]], [rp[sel[2]]], color="red", s=30, label="reference")
    labels, bounds = space.labels(), space.bounds
    ax.set_xlabel(labels[sel[0]])
    ax.set_ylabel(labels[sel[1]])
    ax.set_zlabel(labels[sel[2]])
    # the whole design range on each axis (autoscaling zoomed onto the surface)
    ax.set_xlim(*bounds[:, sel[0]])
    ax.set_ylim(*bounds[:, sel[1]])
    ax.set_zlim(*bounds[:, sel[2]])
    ax.set_title(f"predicted objective = {level:.3g} (reference)", fontsize=9)
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=120)
    return {"level": level, "parameters": [space.names[a] for a in sel]}
