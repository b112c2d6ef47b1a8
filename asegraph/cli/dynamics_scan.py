"""``asegraph-dynamics scan``: choose the number of states K and the lag time (thesis §4.2.3).

    asegraph-dynamics scan TRAJ... --select "name Li" --states 2,3,4 --lag 0.5ps,1ps,2ps -o scan/

Trains a GDyNet per (K, lag) — resumable, with a progress bar — and writes
``scan/scan.csv``, ``scan/scan_*.png`` and each combination's netCDF/model;
see :mod:`asegraph.analysis.dynamics.scan`.
"""

from __future__ import annotations

from pathlib import Path

import click

from asegraph.cli.dynamics import _FriendlyCommand, load_and_configure, shared_options
from asegraph.cli.options import HiddenAliases


@click.command("scan", cls=_FriendlyCommand, context_settings={"show_default": True})
@shared_options
@click.option("--states", "-k", default="2,3,4", help="Numbers of states K to try, e.g. 2,3,4.")
@click.option("--lag", required=True, help="Lag times to try, e.g. 0.5ps,1ps,2ps.")
@click.option(
    "-o",
    "--output-dir",
    "output",
    cls=HiddenAliases,
    aliases=["--output"],
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder (created; resumed if it holds an interrupted scan).",
)
@click.option("--figures/--no-figures", default=True)
def scan(trajectory, states, lag, output, figures, **options) -> None:
    """Train GDyNet for every K and lag of TRAJECTORY; recommend the smallest that pass."""
    from asegraph.analysis.dynamics.scan import scan_states_and_lags
    from asegraph.exceptions import ParameterError

    output = Path(output)
    if not output.parent.exists():
        raise FileNotFoundError(f"output folder '{output.parent}' does not exist")
    try:
        ks = [int(k) for k in states.split(",")]
    except ValueError:
        raise ParameterError(f"--states: expected integers such as 2,3,4, got {states!r}") from None
    universe, kwargs, frames = load_and_configure(trajectory, options)
    rows = scan_states_and_lags(
        universe,
        ks,
        [t.strip() for t in lag.split(",") if t.strip()],
        output,
        figures=figures,
        progress=options["progress"] and not options["quiet"],
        **kwargs,
        **frames,
    )
    click.echo(f"{'K':>3}{'lag ps':>8}{'val VAMP-2':>12}{'t1 ps':>9}{'CK':>6}{'converged':>11}")
    for r in rows:
        mark = "  <- recommended" if r["recommended"] else ""
        click.echo(
            f"{r['states']:>3}{r['lag_ps']:>8g}{r['validation_vamp2']:>12.4f}"
            f"{r['slowest_timescale_ps']:>9.3g}{'pass' if r['ck_passed'] else 'FAIL':>6}"
            f"{'yes' if r['converged'] else 'no':>11}{mark}"
        )
    if not any(r["recommended"] for r in rows):
        click.echo(
            "no combination both passed the CK test and had a converged timescale: try "
            "longer lags or more states"
        )
    click.echo(f"wrote {output / 'scan.csv'}")
