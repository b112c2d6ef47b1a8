"""``asegraph demo``: a tour of the three uses of asegraph on bundled data, offline.

Parses options and calls :func:`asegraph.tour.run_tour`, which trains a CGCNN on
the bundled EMT alloys and uses it as an ASE calculator, runs GDyNet on the bundled
toy trajectory into netCDF, and runs a short Bayesian-optimisation campaign on a
synthetic evaluator; one result line per step is printed as it finishes.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "-o",
    "--output-dir",
    default="asegraph-demo",
    show_default=True,
    type=click.Path(file_okay=False),
)
@click.option(
    "--max-time",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Training budget of the CGCNN, seconds (the other steps take about a minute).",
)
@click.option(
    "--epochs",
    default=400,
    show_default=True,
    type=click.IntRange(min=1),
    help="At most this many CGCNN epochs (--max-time may stop training first).",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--threads",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="torch threads; small graphs train fastest on one.",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def demo(
    output_dir: str, max_time: float, epochs: int, seed: int, threads: int, progress: bool
) -> None:
    """A three-minute tour on bundled data: CGCNN + ASE, GDyNet, Bayesian optimisation."""
    import torch

    from asegraph.tour import run_tour

    torch.set_num_threads(threads)
    out = Path(output_dir)

    def show(step) -> None:
        names = ", ".join(p.name for p in step.outputs)
        click.echo(f"{step.summary}\n    {step.seconds:.0f} s; wrote {names} in {out}/")

    click.echo("asegraph demo: three uses on bundled data (about three minutes on two cores)")
    steps = run_tour(
        out, seed=seed, max_time_s=max_time, progress=progress, on_step=show, epochs=epochs
    )
    total = sum(step.seconds for step in steps)
    click.echo(
        f"done in {total:.0f} s. Next: asegraph predict {out}/best_model.pt YOUR_STRUCTURES "
        f"-o predictions.csv; xarray.open_dataset('{out}/li.nc'); "
        f"asegraph optimize report {out}/bo.campaign/lp-logei"
    )
