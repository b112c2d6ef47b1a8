"""``asegraph-dynamics``: GDyNet Koopman states and timescales from an MD trajectory.

    asegraph-dynamics TRAJ --topology TOP --select SEL --states K --lag 1ps -o out.nc
    asegraph-dynamics run TRAJ ...          # the same, named explicitly
    asegraph-dynamics SUBCOMMAND ...        # other subcommands (``--help`` lists them)

``asegraph-dynamics`` is a click group whose default command is ``run``: when
the first argument is not a subcommand name, ``run`` is implied, so the
original one-command form keeps working. Further subcommands are added with
``main.add_command`` at the end of this module (one module per subcommand).

``run`` writes ``out.nc`` (xarray/netCDF), ``out.pt`` (the trained model) and
``out_timescales.png``, ``out_ck.png``, ``out_populations.png``. A user's
mistake is one line on stderr and exit code 2, and nothing is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from asegraph.cli.options import HiddenAliases


def _floats(text: str, name: str) -> tuple[float, ...]:
    from asegraph.exceptions import ParameterError

    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise ParameterError(f"--{name}: expected comma-separated numbers, got {text!r}") from None


def _files(text: str | None, name: str, trajectory: tuple[str, ...]) -> list[int] | None:
    """0-based positions of the TRAJ files named by 1-based numbers or file names."""
    from asegraph.exceptions import ParameterError

    if text is None:
        return None
    chosen = []
    for token in text.split(","):
        token = token.strip()
        if token in trajectory:
            chosen.append(trajectory.index(token))
        elif token.isdigit() and 1 <= int(token) <= len(trajectory):
            chosen.append(int(token) - 1)
        else:
            raise ParameterError(
                f"--{name}: {token!r} is neither a number from 1 to {len(trajectory)} nor one of "
                f"the trajectory files given"
            )
    return chosen


class _FriendlyCommand(click.Command):
    """Turns user errors into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context):
        from asegraph.exceptions import AsegraphError

        try:
            return super().invoke(ctx)
        except (AsegraphError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            click.echo(f"asegraph-dynamics: error: {exc}", err=True)
            sys.exit(2)


class _DefaultGroup(click.Group):
    """A group that runs ``default_command`` when the first argument is no subcommand.

    ``asegraph-dynamics traj.dcd --select ...`` therefore means
    ``asegraph-dynamics run traj.dcd --select ...``; ``--help`` alone shows the
    group's help. (A trajectory file literally named like a subcommand must be
    given as ``./scan``.)
    """

    default_command = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group(
    cls=_DefaultGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    invoke_without_command=False,
)
def main() -> None:
    """GDyNet: Koopman states and timescales from MD trajectories (thesis ch. 4).

    \b
    asegraph-dynamics TRAJ... --select SEL --lag 1ps -o out.nc   (same as 'run')
    asegraph-dynamics COMMAND --help                             (help of a command)
    """


_SHARED_OPTIONS = [
    click.option("--topology", "-t", help="Topology (PDB, PSF, GRO, LAMMPS data, ...)."),
    click.option("--types", help="Species per atom when there is no topology, e.g. 'S*32,Li*16'."),
    click.option("--format", "traj_format", help="MDAnalysis trajectory format, e.g. LAMMPSDUMP."),
    click.option("--select", "-s", required=True, help="MDAnalysis selection of the target atoms."),
    click.option(
        "--group",
        type=click.Choice(["atoms", "residues", "molecules"]),
        default="atoms",
        help="Pool target atoms per residue/molecule (e.g. water).",
    ),
    click.option(
        "--environment", help="Selection of the atoms allowed as neighbours (default all)."
    ),
    click.option(
        "--max-neighbors",
        "neighbors",
        cls=HiddenAliases,
        aliases=["--neighbors"],
        default=12,
        type=int,
        help="Nearest neighbours per target atom.",
    ),
    click.option("--cutoff", default=6.0, type=float, help="Neighbour search radius, Å."),
    click.option(
        "--timestep", help="Time between trajectory frames (overrides the file), e.g. 10fs."
    ),
    click.option("--start", type=int, default=None, help="First frame."),
    click.option("--stop", type=int, default=None, help="Frame to stop before."),
    click.option("--step", type=int, default=None, help="Use every n-th frame."),
    click.option(
        "--split",
        default="0.5,0.25,0.25",
        help="Train,validation,test time fractions of one trajectory (several files: the "
        "training files are cut train:validation).",
    ),
    click.option(
        "--train-files",
        help="Several TRAJ files are independent runs: the ones to train on, e.g. '1' or '1,2' "
        "(counted from 1; default the first).",
    ),
    click.option(
        "--test-files",
        help="The runs to analyse, e.g. '2,3' (default: all the others). No lag pair ever "
        "crosses from one file to the next.",
    ),
    click.option("--epochs", default=30, type=int, help="Maximum training epochs."),
    click.option("--patience", default=5, type=int, help="Early-stopping patience (epochs)."),
    click.option("--batch-frames", default=32, type=int, help="Frame pairs per training step."),
    click.option(
        "--lr",
        "learning_rate",
        cls=HiddenAliases,
        aliases=["--learning-rate"],
        default=3e-3,
        type=float,
        help="Adam learning rate.",
    ),
    click.option("--atom-dim", default=16, type=int, help="Atom vector length."),
    click.option("--n-conv", default=2, type=int, help="Gated convolutions."),
    click.option("--hidden-dim", default=16, type=int, help="Hidden layer before the softmax."),
    click.option(
        "--receptive-field",
        type=click.Choice(["multi-shell", "first-shell"]),
        default="multi-shell",
        help="multi-shell: convolve every atom, n-conv convolutions reach the n-th neighbour "
        "shell (thesis Eq. 4.4); first-shell: update only the targets from their neighbours' "
        "types (faster, blind beyond the first shell).",
    ),
    click.option("--seed", default=0, type=int, help="Initial weights and shuffling."),
    click.option("--its-lags", help="Comma-separated lags (ps) for the implied-timescale scan."),
    click.option("--ck-steps", default=5, type=int, help="CK test up to this many lags."),
    click.option(
        "--blocks", default=5, type=int, help="Independent subsets for the 95 % intervals."
    ),
    click.option(
        "--interval-source",
        type=click.Choice(["auto", "time", "targets", "trajectories"]),
        default="auto",
        help="95 % intervals from independent test trajectories (auto, when several), contiguous "
        "time blocks (auto, one trajectory) or random disjoint target subsets; falls back when "
        "they are too short for the CK test and says so.",
    ),
    click.option(
        "--graph-cache",
        type=click.Path(dir_okay=False),
        help="Memory-map the neighbour lists to PATH.*.npy instead of RAM.",
    ),
    click.option(
        "--threads",
        default=1,
        type=int,
        help="torch threads (1 avoids oversubscribing small shared machines).",
    ),
    click.option("--progress/--no-progress", default=True, help="Progress bars."),
    click.option("--quiet", is_flag=True, hidden=True, help="Same as --no-progress."),
]


def shared_options(command):
    """The trajectory, selection, model and analysis options of ``run`` and ``scan``."""
    for option in reversed(_SHARED_OPTIONS):
        command = option(command)
    return click.argument("trajectory", nargs=-1, required=True)(command)


def load_and_configure(trajectory: tuple[str, ...], options: dict):
    """(universe, GDyNetAnalysis keyword arguments, run keyword arguments) from the shared
    options; sets the torch threads."""
    import torch

    from asegraph.analysis.dynamics.trajectory import load_universe, parse_time

    torch.set_num_threads(max(1, options["threads"]))
    timestep = options["timestep"]
    timestep_ps = parse_time(timestep, "timestep") if timestep else None
    paths = list(trajectory) if len(trajectory) > 1 else trajectory[0]
    universe = load_universe(
        paths, options["topology"], options["types"], timestep_ps, options["traj_format"]
    )
    its_lags = options["its_lags"]
    kwargs = {
        "select": options["select"],
        "group": options["group"],
        "environment": options["environment"],
        "max_neighbors": options["neighbors"],
        "cutoff": options["cutoff"],
        "split": _floats(options["split"], "split"),
        "train_files": _files(options["train_files"], "train-files", trajectory),
        "test_files": _files(options["test_files"], "test-files", trajectory),
        "timestep_ps": timestep_ps,
        "atom_dim": options["atom_dim"],
        "n_conv": options["n_conv"],
        "hidden_dim": options["hidden_dim"],
        "receptive_field": options["receptive_field"],
        "max_epochs": options["epochs"],
        "patience": options["patience"],
        "batch_frames": options["batch_frames"],
        "learning_rate": options["learning_rate"],
        "seed": options["seed"],
        "its_lags": None if its_lags is None else _floats(its_lags, "its-lags"),
        "ck_steps": options["ck_steps"],
        "n_blocks": options["blocks"],
        "interval_source": options["interval_source"],
        "graph_cache": options["graph_cache"],
    }
    frames = {key: options[key] for key in ("start", "stop", "step")}
    return universe, kwargs, frames


@main.command("run", cls=_FriendlyCommand, context_settings={"show_default": True})
@shared_options
@click.option("--states", "-k", default=2, type=int, help="Number of Koopman states K.")
@click.option("--lag", required=True, help="Lag time, e.g. 1ps, 500fs (a number means ps).")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output netCDF file; the model and figures go beside it.",
)
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False),
    help="Training checkpoint, resumed if it exists.",
)
@click.option(
    "--model",
    "model_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Apply a model written by an earlier run to every frame instead of training.",
)
@click.option("--figures/--no-figures", default=True)
def run(trajectory, states, lag, output, checkpoint, model_file, figures, **options) -> None:
    """Learn Koopman states and timescales of the SELECTed atoms in TRAJECTORY (GDyNet)."""
    from asegraph.analysis.dynamics.analysis import GDyNetAnalysis

    output = Path(output)
    if not output.parent.exists():
        raise FileNotFoundError(f"output folder '{output.parent}' does not exist")
    universe, kwargs, frames = load_and_configure(trajectory, options)
    analysis = GDyNetAnalysis(
        universe,
        n_states=states,
        lag=lag,
        checkpoint=checkpoint,
        model_file=model_file,
        verbose=options["progress"] and not options["quiet"],
        **kwargs,
    )
    analysis.run(**frames)
    written = analysis.save(output, figures=figures)
    ds = analysis.results.dataset
    slowest = analysis.results.koopman.slowest_timescale * analysis.frame_ps
    click.echo(
        f"slowest implied timescale at lag {analysis.lag_ps:g} ps: {slowest:.3g} ps; "
        f"CK test {'passed' if ds.attrs['ck_passed'] else 'FAILED'}; populations "
        + ", ".join(f"{p:.3f}" for p in ds["population"].values)
    )
    slowest_softmax = analysis.results.koopman_softmax.slowest_timescale * analysis.frame_ps
    click.echo(
        f"softmax states (thesis' definition): slowest implied timescale {slowest_softmax:.3g} "
        f"ps; CK test {'passed' if ds.attrs['ck_passed_softmax'] else 'FAILED'}; mean softmax "
        + ", ".join(f"{p:.3f}" for p in ds["population_softmax"].values)
    )
    if ds.attrs["fallback"]:
        click.echo(f"short trajectory: {ds.attrs['fallback']}")
    for path in written:
        click.echo(f"wrote {path}")


def _register() -> None:
    """Subcommands from their own modules (imported here, after ``main`` exists)."""
    from asegraph.cli import dynamics_analyze, dynamics_scan

    main.add_command(dynamics_scan.scan)
    main.add_command(dynamics_analyze.analyze)


_register()


if __name__ == "__main__":  # pragma: no cover
    main()
