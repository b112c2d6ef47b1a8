"""``asegraph-dynamics analyze``: what the learned states are (thesis ch. 4.4).

    asegraph-dynamics analyze RESULT.nc TRAJ... --topology TOP [--charges Li=1,TFSI=-1]
        [--axis z] [--temperature 363] -o states.nc

Reads a GDyNet result and the trajectory it was made from, runs the per-state
analyses of :func:`asegraph.analysis.dynamics.state_report.analyze_states` and
writes ``states.nc``, ``states_rdf.png``, ``states_charge.png``,
``states_transport.png``, ``states_order.png`` and ``states_state<k>.extxyz``.
"""

from __future__ import annotations

from pathlib import Path

import click

from asegraph.cli.dynamics import _FriendlyCommand


def _pairs(text: str | None, name: str, value=float) -> dict | None:
    """``"Li=1,S=-0.5"`` -> ``{"Li": 1.0, "S": -0.5}``."""
    from asegraph.exceptions import ParameterError

    if not text:
        return None
    out = {}
    for item in text.split(","):
        key, sep, raw = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            out[key.strip()] = value(raw.strip())
        except ValueError:
            raise ParameterError(
                f"--{name}: cannot read {item!r}; write NAME=VALUE pairs, e.g. 'Li=1,S=-0.5'"
            ) from None
    return out


@click.command("analyze", cls=_FriendlyCommand, context_settings={"show_default": True})
@click.argument("result", type=click.Path(dir_okay=False))
@click.argument("trajectory", nargs=-1, required=True)
@click.option("--topology", "-t", help="Topology (PDB, PSF, GRO, LAMMPS data, TPR, ...).")
@click.option("--types", help="Species per atom when there is no topology, e.g. 'S*32,Li*16'.")
@click.option("--format", "traj_format", help="MDAnalysis trajectory format, e.g. LAMMPSDUMP.")
@click.option("--timestep", help="Time between trajectory frames (as given to 'run'), e.g. 10fs.")
@click.option(
    "--membership",
    type=click.Choice(["refined", "softmax", "assignment"]),
    default="refined",
    help="Refined memberships, the network's raw softmax outputs (the thesis' definition), "
    "or crisp states (each target-frame in its most probable state only).",
)
@click.option("--charges", help="Charges per species (e), e.g. 'Li=1,S=-1' (default: topology).")
@click.option(
    "--partner",
    "partners",
    help="RDF partners NAME=SELECTION;... (default: every species), e.g. 'O=name OW;Na=name NA'.",
)
@click.option("--range", "rdf_range", default=8.0, type=float, help="RDF range, Å.")
@click.option("--bins", default=80, type=int, help="RDF bins.")
@click.option("--shell", type=float, help="First-shell radius, Å (default: first RDF minimum).")
@click.option("--temperature", type=float, help="Temperature (K) for conductivities, S/cm.")
@click.option("--lag", help="Transport lag (default: the result's lag), e.g. 1ps.")
@click.option("--unwrap/--no-unwrap", default=True, help="Unwrap positions for transport.")
@click.option("--order/--no-order", default=True, help="Steinhardt q_l and the axis profile.")
@click.option("--l", "l_values", default="3,4,6", help="Steinhardt orders.")
@click.option("--q-neighbors", default=4, type=int, help="Nearest neighbours for q_l.")
@click.option("--axis", type=click.Choice(["x", "y", "z"]), default="z", help="Profile axis.")
@click.option("--snapshots", default=3, type=int, help="Representative configurations per state.")
@click.option("--snapshot-radius", default=6.0, type=float, help="Environment radius, Å.")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output netCDF; figures and snapshots go beside it.",
)
@click.option("--figures/--no-figures", default=True)
@click.option("--progress/--no-progress", default=True, help="Progress bars.")
@click.option("--quiet", is_flag=True, hidden=True, help="Same as --no-progress.")
def analyze(
    result,
    trajectory,
    topology,
    types,
    traj_format,
    timestep,
    membership,
    charges,
    partners,
    rdf_range,
    bins,
    shell,
    temperature,
    lag,
    unwrap,
    order,
    l_values,
    q_neighbors,
    axis,
    snapshots,
    snapshot_radius,
    output,
    figures,
    progress,
    quiet,
) -> None:
    """What the states in RESULT (a GDyNet .nc) are, on the TRAJECTORY it was made from."""
    from asegraph.analysis.dynamics.state_report import analyze_states, save_states, summary_table
    from asegraph.analysis.dynamics.trajectory import load_universe, parse_time
    from asegraph.cli.dynamics import _floats

    output = Path(output)
    if not output.parent.exists():
        raise FileNotFoundError(f"output folder '{output.parent}' does not exist")
    if not Path(result).is_file():
        raise FileNotFoundError(f"GDyNet result '{result}' does not exist; check the path")
    timestep_ps = parse_time(timestep, "timestep") if timestep else None
    paths = list(trajectory) if len(trajectory) > 1 else trajectory[0]
    universe = load_universe(paths, topology, types, timestep_ps, traj_format)
    partner_map = None
    if partners:
        from asegraph.exceptions import ParameterError

        partner_map = {}
        for item in partners.split(";"):
            key, sep, selection = item.partition("=")
            if not sep or not key.strip() or not selection.strip():
                raise ParameterError(
                    f"--partner: cannot read {item!r}; write NAME=SELECTION;..., "
                    f"e.g. 'O=name OW;Na=name NA'"
                )
            partner_map[key.strip()] = selection.strip()
        for key, selection in partner_map.items():  # name the option, not the class argument
            try:
                n_atoms = universe.select_atoms(selection).n_atoms
            except Exception as exc:  # noqa: BLE001 - SelectionError and friends
                raise ParameterError(
                    f"--partner {key}={selection!r}: MDAnalysis cannot parse it: {exc}"
                ) from exc
            if n_atoms == 0:
                raise ParameterError(
                    f"--partner {key}={selection!r} selects no atoms; check the names/types in "
                    "the topology (e.g. 'name S', 'element S', 'type 2')"
                )
    dataset, configurations = analyze_states(
        universe,
        result,
        membership=membership,
        partners=partner_map,
        charges=_pairs(charges, "charges"),
        rdf_range=rdf_range,
        nbins=bins,
        shell_radius=shell,
        temperature_K=temperature,
        lag=lag,
        unwrap=unwrap,
        order=order,
        l=tuple(int(x) for x in _floats(l_values, "l")),
        num_neighbors=q_neighbors,
        axis=axis,
        n_snapshots=snapshots,
        snapshot_radius=snapshot_radius,
        verbose=progress and not quiet,
    )
    written = save_states(dataset, configurations, output, figures=figures)
    click.echo(summary_table(dataset))
    for path in written:
        click.echo(f"wrote {path}")
