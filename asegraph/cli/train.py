"""``asegraph train``: fit a CGCNN on a labelled dataset, resumably."""

from __future__ import annotations

from pathlib import Path

import click

from asegraph.cli.options import Duration, FloatList, IntList, cpu_time_option


def dataset_options(function):
    """Options that say how to read a labelled dataset."""
    for option in reversed(
        [
            click.option(
                "--target",
                "targets",
                multiple=True,
                help="Target column, info/key-value key, or expression of CSV columns "
                "(e.g. 'heat_ref / 5', 'ind_gap == 0'); repeat for several targets.",
            ),
            click.option(
                "--structure-column",
                default="cif",
                show_default=True,
                help="CSV column holding CIF text.",
            ),
            click.option("--id-column", default=None, help="CSV id column."),
            click.option("--selection", default=None, help="ASE database selection string."),
            click.option("--rows", default=None, help="Entries to use, START:STOP (e.g. 0:3000)."),
            click.option(
                "--cache-dir",
                type=click.Path(file_okay=False),
                default=None,
                help="Keep built graphs here so later runs skip parsing.",
            ),
        ]
    ):
        function = option(function)
    return function


def parse_rows(rows: str | None) -> slice | None:
    if rows is None:
        return None
    try:
        start, stop = (int(x) if x else None for x in rows.split(":"))
    except ValueError as exc:
        from asegraph.exceptions import ParameterError

        raise ParameterError(f"--rows expects START:STOP such as 0:3000, got {rows!r}") from exc
    return slice(start, stop)


def data_source(path, targets, structure_column, id_column, selection, rows, cache_dir):
    """The :class:`~asegraph.workflows.DataSource` the dataset options describe."""
    from asegraph.workflows import DataSource

    return DataSource(
        path, list(targets), structure_column, id_column, selection, parse_rows(rows), cache_dir
    )


def stderr(message: str) -> None:
    click.echo(message, err=True)


@click.command()
@click.argument("data", type=click.Path(exists=True))
@click.option("--val", "val_data", type=click.Path(exists=True), help="Validation dataset.")
@click.option("--test", "test_data", type=click.Path(exists=True), help="Test dataset.")
@dataset_options
@click.option("--val-rows", default=None, help="Rows of DATA used for validation (CSV).")
@click.option("--test-rows", default=None, help="Rows of DATA used for testing (CSV).")
@click.option(
    "--split",
    type=FloatList(),
    default="0.6,0.2,0.2",
    show_default=True,
    help="Train/val/test fractions when no --val/--test is given.",
)
@click.option(
    "--task",
    type=click.Choice(["regression", "classification"]),
    default="regression",
    show_default=True,
)
@click.option(
    "--balanced-classes",
    is_flag=True,
    help="Weight the classification loss by inverse class frequency.",
)
@click.option(
    "--log10",
    "log10_targets",
    is_flag=True,
    help="Train on log10 of the targets (elastic moduli, ch. 2.5.3).",
)
@click.option("--units", default="", help="Units of the targets, comma-separated.")
@click.option("--conv", type=click.Choice(["gated", "simple"]), default="gated", show_default=True)
@click.option("--n-conv", default=3, show_default=True, type=int)
@click.option("--atom-dim", default=64, show_default=True, type=int)
@click.option("--hidden-dim", default=128, show_default=True, type=int)
@click.option("--n-hidden", default=1, show_default=True, type=int)
@click.option("--readout", type=click.Choice(["pool", "site"]), default="pool", show_default=True)
@click.option(
    "--atom-features", type=click.Choice(["table", "embedding"]), default="table", show_default=True
)
@click.option("--batch-norm/--no-batch-norm", default=True, show_default=True)
@click.option(
    "--dropout",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0.0, 1.0, max_open=True),
    help="Dropout probability before the output layer (readout pool); regularises "
    "small datasets such as the elastic moduli.",
)
@click.option(
    "--crystal-feature",
    "crystal_features",
    multiple=True,
    type=click.Choice(["log_volume_per_atom"]),
    help="Whole-crystal input appended to the pooled crystal vector (readout pool; "
    "repeatable). log_volume_per_atom: ln of the volume per atom, which bulk moduli "
    "follow. Default: none (the thesis).",
)
@click.option("--cutoff", default=8.0, show_default=True, type=float, help="Å")
@click.option("--max-neighbors", default=12, show_default=True, type=int)
@click.option("--ties", type=click.Choice(["keep", "truncate"]), default="keep", show_default=True)
@click.option(
    "--envelope",
    is_flag=True,
    help="Smooth cutoff envelope on every message (models meant as potentials; give "
    "--max-neighbors above the coordination within --cutoff).",
)
@click.option(
    "--envelope-cutoff", type=float, default=None, help="Å, for --envelope (default --cutoff)."
)
@click.option("--epochs", default=1000, show_default=True, type=int)
@click.option("--batch-size", default=64, show_default=True, type=int)
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam", show_default=True)
@click.option("--lr", default=2e-3, show_default=True, type=float)
@click.option("--weight-decay", default=0.0, show_default=True, type=float)
@click.option(
    "--lr-schedule",
    type=click.Choice(["constant", "step", "cosine"]),
    default="cosine",
    show_default=True,
)
@click.option("--lr-milestones", type=IntList(), default="", help="Epochs, for --lr-schedule step.")
@click.option(
    "--bn-recalibration-batches",
    default=20,
    show_default=True,
    type=click.IntRange(min=0),
    help="After each epoch recompute batch-norm statistics from this many training "
    "batches (0: keep running averages, which trail the weights; see TrainingConfig).",
)
@click.option(
    "--patience",
    default=None,
    type=int,
    help="Stop after this many epochs without validation improvement.",
)
@click.option(
    "--max-time",
    type=Duration(),
    default=None,
    help="Wall-clock budget, e.g. 15m; with --ensemble, of the whole ensemble "
    "(each member gets an equal share of what is left).",
)
@cpu_time_option
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Model file to write; checkpoints go to OUTPUT.run/ and a rerun resumes.",
)
@click.option("--restart", is_flag=True, help="Discard OUTPUT.run/ and start afresh.")
@click.option(
    "--ensemble",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Train this many members on random subsets (uncertainty, ch. 2.5).",
)
@click.option(
    "--subsample",
    default=0.6,
    show_default=True,
    type=click.FloatRange(0.05, 1.0),
    help="Fraction of the training set each ensemble member sees.",
)
@click.option(
    "--init-from",
    default=None,
    metavar="MODEL",
    help="Transfer learning: start the atom embedding and convolutions from MODEL (a "
    "published name such as formation-energy-per-atom, or a model file) with a fresh "
    "head, and fine-tune. The body settings (atom features, --atom-dim, --conv, "
    "--n-conv, --batch-norm, --cutoff, --max-neighbors, --ties, --envelope) are then "
    "MODEL's. Default: random weights (the thesis). Never start from a model trained "
    "on the same property or on data that overlap your test set.",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def train(
    data,
    val_data,
    test_data,
    targets,
    structure_column,
    id_column,
    selection,
    rows,
    cache_dir,
    val_rows,
    test_rows,
    split,
    task,
    balanced_classes,
    log10_targets,
    units,
    conv,
    n_conv,
    atom_dim,
    hidden_dim,
    n_hidden,
    readout,
    atom_features,
    batch_norm,
    dropout,
    crystal_features,
    cutoff,
    max_neighbors,
    ties,
    envelope,
    envelope_cutoff,
    epochs,
    batch_size,
    optimizer,
    lr,
    weight_decay,
    lr_schedule,
    lr_milestones,
    bn_recalibration_batches,
    patience,
    max_time,
    cpu_time,
    seed,
    threads,
    output,
    restart,
    ensemble,
    subsample,
    init_from,
    progress,
) -> None:
    """Train a CGCNN on DATA and write the best model (by validation) to OUTPUT.

    DATA is a CGCNN folder (id_prop.csv + CIFs), a CSV with a CIF column, an
    ASE database or an extxyz file. Killing the run and starting the same
    command again resumes after the last completed epoch. Launched with
    ``torchrun --nproc-per-node N -m asegraph.cli.main train ...`` it trains
    data-parallel over N processes (gloo), with the same global batch.
    """
    import torch

    from asegraph.exceptions import ParameterError
    from asegraph.models.cgcnn import CGCNNConfig
    from asegraph.training import TrainingConfig
    from asegraph.workflows import train_to_file

    torch.set_num_threads(threads)
    if init_from is not None:
        _refuse_body_options(init_from)
    if not targets and not Path(data).is_dir():
        raise ParameterError("--target is required: name the column/key to learn")
    read = (structure_column, id_column, selection)
    source = data_source(data, targets, *read, rows, cache_dir)
    val_source = test_source = None
    if val_rows or test_rows:
        val_source = data_source(data, targets, *read, val_rows, cache_dir) if val_rows else None
        test_source = data_source(data, targets, *read, test_rows, cache_dir) if test_rows else None
    elif val_data or test_data:
        val_source = data_source(val_data, targets, *read, None, cache_dir) if val_data else None
        test_source = data_source(test_data, targets, *read, None, cache_dir) if test_data else None
    names = list(targets) or ["target"]  # a CGCNN folder names its own target
    unit_list = [u.strip() for u in units.split(",")] if units else [""] * len(names)
    if len(unit_list) != len(names):
        raise ParameterError(f"--units needs one unit per target ({len(names)}), got {units!r}")
    config = CGCNNConfig(
        task=task,
        targets=names,
        units=unit_list,
        target_transform=["log10" if log10_targets else "none"] * len(names),
        classes=["0", "1"] if task == "classification" else [],
        atom_features=atom_features,
        atom_dim=atom_dim,
        conv=conv,
        n_conv=n_conv,
        batch_norm=batch_norm,
        n_hidden=n_hidden,
        hidden_dim=hidden_dim,
        readout=readout,
        dropout=dropout,
        crystal_features=list(crystal_features),
        cutoff=cutoff,
        max_neighbors=max_neighbors,
        ties=ties,
        envelope=envelope or envelope_cutoff is not None,
        envelope_cutoff=envelope_cutoff,
    )
    training = TrainingConfig(
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        lr=lr,
        weight_decay=weight_decay,
        lr_schedule=lr_schedule,
        lr_milestones=list(lr_milestones),
        patience=patience,
        max_time_s=max_time,
        clock="cpu" if cpu_time else "wall",
        seed=seed,
        balanced_classes=balanced_classes,
        bn_recalibration_batches=bn_recalibration_batches,
        init_from=init_from,
    )
    metrics = train_to_file(
        source,
        output,
        config,
        training,
        val=val_source,
        test=test_source,
        split=split,
        n_members=ensemble,
        subsample=subsample,
        restart=restart,
        progress=progress,
        report=stderr,
    )
    if torch.distributed.is_initialized() and torch.distributed.get_rank() != 0:
        return
    click.echo(_summary(output, metrics))


def _refuse_body_options(init_from: str) -> None:
    """With --init-from, an explicitly given body option would be silently replaced: refuse."""
    from click.core import ParameterSource

    from asegraph.exceptions import ParameterError
    from asegraph.models.transfer import BODY_SETTINGS

    context = click.get_current_context()
    given = [
        f"--{name.replace('_', '-')}"
        for name in BODY_SETTINGS  # those that are not options have no source
        if context.get_parameter_source(name) == ParameterSource.COMMANDLINE
    ]
    if given:
        raise ParameterError(
            f"{', '.join(given)}: with --init-from {init_from} the atom features, convolutions "
            "and graph settings are those of that model; drop these options"
        )


def _summary(output: str, metrics: dict) -> str:
    if "members" in metrics:
        lines = [f"wrote ensemble of {len(metrics['members'])} members to {output}"]
        if "test" in metrics:
            lines.append("test : " + ", ".join(f"{k} {v:.4g}" for k, v in metrics["test"].items()))
        return "\n".join(lines)
    lines = [
        f"wrote {output} (best epoch {metrics['best_epoch']} of {metrics['epochs']}, "
        f"{metrics['train_time_s']:.0f} s)"
    ]
    for label in ("val", "test"):
        if label in metrics:
            text = ", ".join(f"{k} {v:.4g}" for k, v in metrics[label].items())
            lines.append(f"{label:5s}: {text}")
    return "\n".join(lines)
