"""Campaign report: summary and the figures of thesis ch. 5.

* ``best_so_far.png`` — normalised best-so-far vs evaluations, against random
  search (a stored random campaign, or the expectation of random search under
  the surrogate: E[max of n draws] of μ(x) over uniform x) (Fig. 5-2c);
* ``inverse_lengthscales.png`` — 1/ℓ per parameter (Fig. 5-2b);
* ``slices_2d.png`` — posterior mean over pairs of the most important
  parameters, the others at the anchor point; reference marked (Fig. 5-3b/5-4);
* ``cross_sections_1d.png`` — mean ± 2σ and log EI along single parameters
  (Fig. 5-3c);
* ``predictions.png`` — posterior mean ± 2σ at user-given points (Fig. 5-5);
* ``isosurface_3d.png`` — surface of predicted objective = its value at the
  reference point over the three most important parameters (Fig. 5-3a;
  :func:`~asegraph.optimize.validate.isosurface_figure`);
* ``summary.json``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from asegraph._utils.figures import new_figure, save_figure
from asegraph._utils.jsonsafe import write_json
from asegraph.exceptions import InputFileError
from asegraph.optimize.campaign import Campaign, load_campaign
from asegraph.optimize.space import DesignSpace, read_config_file

__all__ = ["make_report", "best_so_far", "expected_random_best"]


def best_so_far(values: np.ndarray) -> np.ndarray:
    """Running maximum ``[n]`` ignoring NaN (failed) entries."""
    v = np.where(np.isfinite(values), values, -np.inf)
    out = np.maximum.accumulate(v)
    out[np.isneginf(out)] = np.nan
    return out


def expected_random_best(samples: np.ndarray, n: int) -> np.ndarray:
    """E[max of k i.i.d. draws] for k = 1..n from the empirical distribution ``samples``."""
    v = np.sort(np.asarray(samples, dtype=np.float64))
    m = len(v)
    k = np.arange(1, m + 1) / m
    out = []
    for j in range(1, n + 1):
        w = k**j - (k - 1.0 / m) ** j
        out.append(float(np.sum(w * v)))
    return np.array(out)


def _load_points(path: Path, space: DesignSpace) -> dict[str, np.ndarray]:
    data = read_config_file(path)
    table = data.get("points", data)
    ref = space.to_params(space.reference_unit())
    out = {}
    for name, vals in table.items():
        if not isinstance(vals, dict):
            raise InputFileError(f"{str(path)!r}: point {name!r} must be a table of values")
        unknown = sorted(set(vals) - set(space.names))
        if unknown:
            raise InputFileError(
                f"{str(path)!r}: point {name!r} names unknown parameters {unknown}; "
                f"expected some of {space.names}"
            )
        for key, value in vals.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputFileError(
                    f"{str(path)!r}: point {name!r}: {key} = {value!r} is not a number; "
                    f"give a value such as {key} = {ref[key]:g}"
                )
        unit = space.from_params({**ref, **vals})
        outside = [
            f"{n} = {vals[n]:g} (range {p.lower:g}..{p.upper:g})"
            for n, p, u in zip(space.names, space.parameters, unit, strict=True)
            if not -1e-9 <= u <= 1 + 1e-9
        ]
        if outside:  # the GP is only informed inside the design space
            warnings.warn(
                f"{str(path)!r}: point {name!r} lies outside the design space "
                f"({', '.join(outside)}); its prediction extrapolates and reverts to the "
                "GP's prior",
                stacklevel=2,
            )
        out[name] = unit
    return out


def make_report(
    directory: str | Path,
    out: str | Path | None = None,
    *,
    points: str | Path | None = None,
    baseline: str | Path | None = None,
    top: int = 3,
    seed: int = 0,
) -> dict:
    """Write the figures and ``summary.json`` of a campaign; return the summary.

    Parameters
    ----------
    directory : path
        Campaign directory.
    out : path, optional
        Output directory (default ``<directory>/report``).
    points : path, optional
        TOML/YAML with ``[points.NAME]`` tables of parameter values to predict;
        unspecified parameters take their reference values.
    baseline : path, optional
        A random-search campaign directory to compare with.
    top : int
        Number of most important parameters in the slice and cross-section plots.
    seed : int
        Seed of the Sobol points used for expectations.
    """
    from asegraph.optimize.surrogate import GPSurrogate

    config, results, header = load_campaign(directory)
    space = config.space
    # read the points first: a mistake in them should not cost the whole report
    user_points = _load_points(Path(points), space) if points is not None else {}
    out = Path(out) if out else Path(directory) / "report"
    out.mkdir(parents=True, exist_ok=True)
    camp = Campaign(config, directory)
    ids = sorted(results)
    raw = np.array(
        [results[i]["value"] if results[i]["status"] == "ok" else np.nan for i in ids],
        dtype=np.float64,
    )
    vals = np.array([camp._transform(v) if np.isfinite(v) else np.nan for v in raw])
    ylabel = config.objective + (" (log10)" if config.transform == "log10" else "")
    n_ok = int(np.isfinite(vals).sum())
    summary = {
        "directory": str(directory),
        "n_results": len(ids),
        "n_ok": n_ok,
        "n_failed": len(ids) - n_ok,
        "objective": config.objective,
        "strategy": config.strategy,
        "figures": [],
    }
    if n_ok:
        b = ids[int(np.nanargmax(vals))]
        summary.update(best_value=results[b]["value"], best_id=b, best_params=results[b]["params"])
    times = [r.get("finished") for r in results.values() if r.get("finished")]
    if times:
        summary["campaign_wall_s"] = float(max(times) - header.get("created", min(times)))
        summary["evaluation_wall_s_total"] = float(
            np.nansum([r.get("wall_s") or np.nan for r in results.values()])
        )
    x, y = camp.training_data(results)
    gp = None
    if len(np.unique(y)) >= 2:
        gp = GPSurrogate(seed=seed).fit(x, y)
        inv = gp.inverse_lengthscales
        summary["inverse_lengthscales"] = dict(zip(space.names, map(float, inv), strict=True))
        summary["noise_std"] = gp.noise_std
    sobol = space.sample(2048, seed=seed)

    # 1. best so far vs random
    fig, ax = new_figure(figsize=(5, 3.5))
    bsf = best_so_far(vals)
    curves = {"this campaign": bsf}
    if baseline is not None:
        bconf, bres, _ = load_campaign(baseline)
        bv = np.array(
            [bres[i]["value"] if bres[i]["status"] == "ok" else np.nan for i in sorted(bres)],
            dtype=np.float64,
        )
        curves["random search"] = best_so_far(bv)
    elif gp is not None:
        curves["random search (expected under GP)"] = expected_random_best(
            gp.predict(sobol)[0], len(vals)
        )
    finite = np.concatenate([c[np.isfinite(c)] for c in curves.values()])
    lo, hi = (finite.min(), finite.max()) if len(finite) else (0.0, 1.0)
    for label, c in curves.items():
        ax.plot(np.arange(1, len(c) + 1), (c - lo) / (hi - lo or 1.0), label=label)
    ax.set_xlabel("evaluations")
    ax.set_ylabel(f"normalised best-so-far {ylabel}")
    ax.legend(fontsize=8)
    _save(fig, out / "best_so_far.png", summary)

    if gp is not None:
        labels = space.labels()
        order = np.argsort(-inv)
        fig, ax = new_figure(figsize=(max(4, 0.5 * space.dim + 2), 3.5))
        ax.bar(range(space.dim), inv[order])
        ax.set_xticks(
            range(space.dim), [labels[i] for i in order], rotation=60, ha="right", fontsize=8
        )
        ax.set_ylabel("1/ℓ (unit cube)")
        _save(fig, out / "inverse_lengthscales.png", summary)

        from asegraph.optimize.validate import isosurface_figure

        iso = isosurface_figure(gp, space, order, out / "isosurface_3d.png")
        if iso is not None:  # Fig. 5-3a: predicted objective = its reference value
            summary["isosurface"] = iso
            summary["figures"].append("isosurface_3d.png")

        anchor = x[int(np.argmax(y))]
        ref = space.reference_unit()
        sel = list(order[: max(2, min(top, space.dim))])
        pairs = [(a, b) for k, a in enumerate(sel) for b in sel[k + 1 :]]
        if pairs:
            fig, axes = new_figure(1, len(pairs), figsize=(4 * len(pairs), 3.5), squeeze=False)
            g = np.linspace(0, 1, 40)
            for ax, (a, b) in zip(axes[0], pairs, strict=True):
                grid = np.tile(anchor, (len(g) ** 2, 1))
                ga, gb = np.meshgrid(g, g)
                grid[:, a], grid[:, b] = ga.ravel(), gb.ravel()
                mean = gp.predict(grid)[0].reshape(ga.shape)
                phys = space.from_unit(grid)
                cs = ax.contourf(
                    phys[:, a].reshape(ga.shape), phys[:, b].reshape(ga.shape), mean, 20
                )
                fig.colorbar(cs, ax=ax, label=ylabel)
                rp, ap = space.from_unit(ref), space.from_unit(anchor)
                ax.plot(rp[a], rp[b], "o", color="red", label="reference")
                ax.plot(ap[a], ap[b], "*", color="white", mec="k", ms=10, label="best")
                ax.set_xlabel(labels[a])
                ax.set_ylabel(labels[b])
            axes[0][0].legend(fontsize=7)
            _save(fig, out / "slices_2d.png", summary)

        from botorch.acquisition.analytic import LogExpectedImprovement

        from asegraph.optimize.surrogate import as_tensor

        logei = LogExpectedImprovement(gp.model, best_f=float(gp.predict(x)[0].max()))
        fig, axes = new_figure(1, len(sel), figsize=(4 * len(sel), 3.2), squeeze=False)
        g = np.linspace(0, 1, 100)
        for ax, a in zip(axes[0], sel, strict=True):
            grid = np.tile(anchor, (len(g), 1))
            grid[:, a] = g
            mean, std = gp.predict(grid)
            xa = space.from_unit(grid)[:, a]
            ax.plot(xa, mean, color="C0")
            ax.fill_between(xa, mean - 2 * std, mean + 2 * std, color="C0", alpha=0.25)
            ax.set_xlabel(labels[a])
            ax.set_ylabel(f"{ylabel} (mean ± 2σ)")
            import torch

            with torch.no_grad():
                acq = logei(as_tensor(grid)[:, None, :]).numpy()
            ax2 = ax.twinx()
            ax2.plot(xa, acq, color="C3", lw=1)
            ax2.set_ylabel("log EI", color="C3")
        _save(fig, out / "cross_sections_1d.png", summary)

        pts = {"reference": ref}
        pts.update(user_points)
        mean, std = gp.predict(np.array(list(pts.values())))
        summary["predictions"] = {
            k: {"mean": float(m), "std": float(s)} for k, m, s in zip(pts, mean, std, strict=True)
        }
        fig, ax = new_figure(figsize=(max(4, 0.8 * len(pts) + 2), 3.5))
        ax.errorbar(range(len(pts)), mean, yerr=2 * std, fmt="o", capsize=4)
        ax.set_xticks(range(len(pts)), list(pts), rotation=30, ha="right")
        ax.set_ylabel(f"predicted {ylabel} (± 2σ)")
        _save(fig, out / "predictions.png", summary)
    write_json(out / "summary.json", summary)
    return summary


def _save(fig, path: Path, summary: dict) -> None:
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    summary["figures"].append(path.name)
