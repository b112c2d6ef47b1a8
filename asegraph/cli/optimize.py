"""``asegraph optimize``: Bayesian optimisation over CG-MD (or any evaluator).

::

    asegraph optimize run CONFIG [--batch 4] [--budget 100] [--scheduler ADDR]
    asegraph optimize report CAMPAIGN [--out DIR] [--points FILE] [--baseline DIR]
    asegraph optimize validate CAMPAIGN --points FILE [--out DIR] [--workers 2]
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from asegraph.cli.options import HiddenAliases


@click.group("optimize")
def optimize() -> None:
    """Bayesian optimisation of polymer electrolytes with coarse-grained MD (thesis ch. 5)."""


@optimize.command("run")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--batch", type=int, default=None, help="Evaluations run at once (q).")
@click.option("--budget", type=int, default=None, help="Total evaluations.")
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDR",
    help="dask.distributed scheduler address (default: local processes).",
)
@click.option(
    "--campaign",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Campaign directory (default: <config dir>/<name>.campaign).",
)
@click.option(
    "--executor",
    type=click.Choice(["processes", "threads"]),
    default="processes",
    show_default=True,
    help="Local executor when no --scheduler is given.",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def run(config: Path, batch, budget, scheduler, directory, executor, progress) -> None:
    """Start or resume the campaign described by CONFIG (TOML/YAML)."""
    import time

    from asegraph.optimize.campaign import Campaign, CampaignConfig, default_directory

    cfg = CampaignConfig.from_file(config, batch=batch, budget=budget)
    directory = directory or default_directory(config, cfg)
    t0 = time.perf_counter()
    results = Campaign(cfg, directory).run(
        executor=executor, scheduler=scheduler, progress=progress
    )
    ok = [r for r in results.values() if r["status"] == "ok"]
    click.echo(
        f"campaign {directory}: {len(results)} evaluations, {len(ok)} ok, "
        f"{len(results) - len(ok)} failed ({time.perf_counter() - t0:.0f} s this run)"
    )
    longer = [r for r in ok if r["result"].get("n_extensions", 0) > 0]
    if longer:  # non_diffusive = "extend" (the default): these ran 2x, 4x, ... n_prod
        click.echo(f"{len(longer)} of {len(ok)} ok evaluations extended (see n_extensions)")
    slow = [r for r in ok if r["result"].get("diffusive") is False]
    if slow:  # say it: such transport ranks designs by sub-diffusive (caged) motion
        click.echo(
            f"{len(slow)} of {len(ok)} ok evaluations not diffusive (Li or anion MSD log-log "
            "slope outside diffusive_range over the fit window; see their msd_slope_*): "
            "lengthen n_prod or, with non_diffusive = 'extend', raise max_extensions"
        )
    if ok:
        best = max(ok, key=lambda r: r["value"])
        click.echo(f"best {cfg.objective} = {best['value']:.6g} (evaluation {best['id']})")
        click.echo(json.dumps(best["params"], indent=1))


@optimize.command("report")
@click.argument("campaign", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output-dir",
    "out",
    cls=HiddenAliases,
    aliases=["--out"],
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output directory (default: CAMPAIGN/report).",
)
@click.option(
    "--points",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML/YAML with [points.NAME] tables to predict with error bars.",
)
@click.option(
    "--baseline",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A random-search campaign to compare the best-so-far curve with.",
)
@click.option(
    "--top",
    type=int,
    default=3,
    show_default=True,
    help="Most important parameters shown in slices and cross sections.",
)
def report(campaign: Path, out, points, baseline, top) -> None:
    """Figures and summary.json for a campaign directory."""
    from asegraph.optimize.report import make_report

    summary = make_report(campaign, out, points=points, baseline=baseline, top=top)
    out = out or campaign / "report"
    click.echo(
        f"{summary['n_results']} evaluations ({summary['n_failed']} failed); "
        f"figures in {out}: {', '.join(summary['figures'])}"
    )
    if "best_value" in summary:
        click.echo(f"best {summary['objective']} = {summary['best_value']:.6g}")


@optimize.command("validate")
@click.argument("campaign", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--points",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="TOML/YAML with [points.NAME] tables or a one-parameter [sweep] to simulate.",
)
@click.option(
    "-o",
    "--output-dir",
    "out",
    cls=HiddenAliases,
    aliases=["--out"],
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output directory (default: CAMPAIGN/validation).",
)
@click.option("--workers", type=int, default=2, show_default=True, help="Simulations at once.")
@click.option(
    "--executor",
    type=click.Choice(["processes", "threads"]),
    default="processes",
    show_default=True,
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def validate(campaign: Path, points, out, workers, executor, progress) -> None:
    """Simulate chosen design points and compare with the campaign's GP (thesis Fig. 5-2d)."""
    from asegraph.optimize.validate import validate_campaign

    s = validate_campaign(
        campaign, points, out, workers=workers, executor=executor, progress=progress
    )
    click.echo(
        f"{len(s['points'])} points ({s['n_failed']} failed): RMSE {s['rmse']:.4g} "
        f"{s['objective']}, {100 * s['coverage_2sigma']:.0f}% within 2σ; figure {s['figure']}"
    )


if __name__ == "__main__":  # python -m asegraph.cli.optimize run CONFIG ...
    optimize()
