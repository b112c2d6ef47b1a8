"""``asegraph train``: fit a CGCNN on a labelled dataset, resumably."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from asegraph.cli.options import Duration, FloatList


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


def load(path, targets, structure_column, id_column, selection, rows, cache_dir, graph, quiet):
    """Read a dataset with graphs, report skipped entries on stderr."""
    from asegraph.data.datasets import load_graph_dataset

    row_slice, suffix = parse_rows(rows), Path(path).suffix.lower()
    options = {}
    if suffix == ".csv":  # rows are cut before parsing, so unused CIFs are never read
        options = {"structure_column": structure_column, "id_column": id_column, "rows": row_slice}
    elif suffix == ".db":
        options = {"selection": selection}
    data = load_graph_dataset(path, list(targets), **graph, cache_dir=cache_dir, **options)
    if row_slice is not None and suffix != ".csv":
        from asegraph.data.datasets import check_rows

        data = data.subset(range(len(data))[check_rows(row_slice, len(data), path)])
    if len(data) == 0:
        from asegraph.exceptions import InputFileError

        first = f"; first: {data.failures[0][0]}: {data.failures[0][1]}" if data.failures else ""
        raise InputFileError(
            f"dataset '{path}' has no usable entries ({len(data.failures)} skipped{first}); "
            "check --target and the file"
        )
    if data.failures:
        click.echo(f"{path}: skipped {len(data.failures)} entries:", err=True)
        for sid, message in data.failures[:10]:
            click.echo(f"  {sid}: {message}", err=True)
    if not quiet:
        click.echo(f"{path}: {len(data)} structures", err=True)
    return data


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
@click.option(
    "--lr-milestones", type=FloatList(), default="", help="Epochs, for --lr-schedule step."
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
@click.option(
    "--cpu-time",
    is_flag=True,
    help="Count --max-time in CPU seconds of this process instead of wall-clock time "
    "(the same compute on a busy, shared machine).",
)
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
    patience,
    max_time,
    cpu_time,
    seed,
    threads,
    output,
    restart,
    ensemble,
    subsample,
    progress,
) -> None:
    """Train a CGCNN on DATA and write the best model (by validation) to OUTPUT.

    DATA is a CGCNN folder (id_prop.csv + CIFs), a CSV with a CIF column, an
    ASE database or an extxyz file. Killing the run and starting the same
    command again resumes after the last completed epoch. Launched with
    ``torchrun --nproc-per-node N -m asegraph.cli.main train ...`` it trains
    data-parallel over N processes (gloo), with the same global batch.
    """
    import os

    import torch

    from asegraph._utils.jsonsafe import jsonsafe
    from asegraph.data.datasets import split_indices
    from asegraph.exceptions import ParameterError
    from asegraph.models.cgcnn import CGCNNConfig
    from asegraph.models.checkpoint import load_model, save_model

    torch.set_num_threads(threads)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo")
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    if not targets and not Path(data).is_dir():
        raise ParameterError("--target is required: name the column/key to learn")
    graph = {"cutoff": cutoff, "max_neighbors": max_neighbors, "ties": ties}
    read = dict(
        targets=targets,
        structure_column=structure_column,
        id_column=id_column,
        selection=selection,
        cache_dir=cache_dir,
        graph=graph,
        quiet=not progress,
    )
    train_set = load(data, rows=rows, **read)
    if val_rows or test_rows:
        val_set = load(data, rows=val_rows, **read) if val_rows else None
        test_set = load(data, rows=test_rows, **read) if test_rows else None
    elif val_data or test_data:
        val_set = load(val_data, rows=None, **read) if val_data else None
        test_set = load(test_data, rows=None, **read) if test_data else None
    else:
        tr, va, te = split_indices(len(train_set), split, seed)
        train_set, val_set, test_set = (
            train_set.subset(tr),
            train_set.subset(va),
            train_set.subset(te),
        )

    names = train_set.target_names
    unit_list = [u.strip() for u in units.split(",")] if units else [""] * len(names)
    if len(unit_list) != len(names):
        raise ParameterError(f"--units needs one unit per target ({len(names)}), got {units!r}")
    config = CGCNNConfig(
        task=task,
        targets=list(names),
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
        **graph,
        gaussian={"start": 0.0, "stop": cutoff, "step": 0.2, "width": 0.2},
        envelope=envelope or envelope_cutoff is not None,
        envelope_cutoff=envelope_cutoff,
    )
    run_dir = Path(f"{output}.run")
    settings = dict(
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        lr=lr,
        weight_decay=weight_decay,
        lr_schedule=lr_schedule,
        lr_milestones=[int(m) for m in lr_milestones],
        patience=patience,
        max_time_s=max_time,
        clock="cpu" if cpu_time else "wall",
        balanced_classes=balanced_classes,
    )
    if ensemble > 1:
        _train_ensemble(
            ensemble,
            subsample,
            train_set,
            val_set,
            test_set,
            config,
            settings,
            run_dir,
            output,
            seed,
            progress and rank == 0,
            restart,  # each trainer clears its folder under its lock
        )
        return
    trainer = _train_one(
        train_set, val_set, config, settings, run_dir, seed, progress and rank == 0, restart
    )
    metrics = _metrics(trainer, val_set, test_set)
    if rank != 0:
        return  # rank 0 writes the results
    best = load_model(run_dir / "best_model.pt")
    metadata = {
        **best.metadata,
        "metrics": jsonsafe(metrics),
        "training": {"seed": seed, "data": str(data)},
    }
    save_model(best, output, metadata=metadata)
    _write_metrics(output, metrics)
    click.echo(_summary(output, metrics))


def _train_one(train_set, val_set, config, settings, run_dir, seed, progress, restart=False):
    """One model, checkpointed in ``run_dir`` (a rerun resumes)."""
    import torch

    from asegraph.models.cgcnn import CGCNN, CGCNNConfig
    from asegraph.training import Trainer, TrainingConfig

    torch.manual_seed(seed)  # initial weights; the trainer seeds its own shuffling
    model = CGCNN(CGCNNConfig.from_dict(config.to_dict()))
    trainer = Trainer(
        model,
        TrainingConfig(**settings, seed=seed),
        output_dir=run_dir,
        progress=progress,
        restart=restart,
    )
    trainer.fit(
        train_set.graphs,
        train_set.targets,
        val_set.graphs if val_set is not None else None,
        val_set.targets if val_set is not None else None,
    )
    return trainer


def _metrics(trainer, val_set, test_set) -> dict:
    metrics = {
        "epochs": len(trainer.history),
        "best_epoch": trainer.best_epoch,
        "train_time_s": trainer.history[-1]["time_s"],
    }
    for label, subset in (("val", val_set), ("test", test_set)):
        if subset is not None and len(subset):
            metrics[label] = trainer.evaluate(subset.graphs, subset.targets)
    return metrics


def _train_ensemble(
    n_members,
    subsample,
    train_set,
    val_set,
    test_set,
    config,
    settings,
    run_dir,
    output,
    seed,
    progress,
    restart=False,
):
    """Members on random subsets of the training data (thesis ch. 2.5), then one file."""
    import time

    from asegraph._utils.jsonsafe import jsonsafe
    from asegraph.models.checkpoint import load_model
    from asegraph.models.ensemble import Ensemble

    members, member_metrics = [], []
    # --max-time is the budget of the whole ensemble: each member gets an equal
    # share of what is left, so time a fast member saves goes to the next ones.
    now = time.process_time if settings.get("clock") == "cpu" else time.perf_counter
    budget, start = settings.get("max_time_s"), now()
    for k in range(n_members):
        rng = np.random.default_rng(seed + 1000 * (k + 1))
        size = max(2, int(round(subsample * len(train_set))))
        chosen = np.sort(rng.choice(len(train_set), size=size, replace=False))
        member_dir = run_dir / f"member-{k}"
        member_settings, started = dict(settings), now() - start
        if budget is not None:
            left = budget - started
            member_settings["max_time_s"] = max(left / (n_members - k), 1e-3)
        if progress:
            share = member_settings["max_time_s"]
            click.echo(
                f"member {k + 1}/{n_members}: {size} training structures"
                + (f", {share:.0f} s budget" if share is not None else ""),
                err=True,
            )
        trainer = _train_one(
            train_set.subset(chosen),
            val_set,
            config,
            settings=member_settings,
            run_dir=member_dir,
            seed=seed + k,
            progress=progress,
            restart=restart,
        )
        member_metrics.append(
            {
                **jsonsafe(_metrics(trainer, val_set, None)),
                "started_s": started,
                "budget_s": member_settings["max_time_s"],
            }
        )
        members.append(load_model(member_dir / "best_model.pt"))
    ensemble = Ensemble(
        members,
        metadata={
            "subsample": subsample,
            "seed": seed,
            "members": member_metrics,
            "max_time_s": budget,
            "clock": settings.get("clock", "wall"),
            "train_time_s": now() - start,
        },
    )
    ensemble.save(output)
    metrics = {"members": member_metrics, "train_time_s": now() - start}
    if test_set is not None and len(test_set):
        metrics["test"] = _ensemble_test_metrics(ensemble, test_set)
    _write_metrics(output, metrics)
    click.echo(f"wrote ensemble of {n_members} members to {output}")
    if "test" in metrics:
        click.echo("test : " + ", ".join(f"{k} {v:.4g}" for k, v in metrics["test"].items()))


def _ensemble_test_metrics(ensemble, test_set) -> dict:
    import torch

    from asegraph.models.inference import model_batch
    from asegraph.training import regression_metrics

    with torch.no_grad():
        out = ensemble.eval()(model_batch(ensemble, test_set.graphs))
    mean, std = out["y"].double().numpy(), out["y_std"].double().numpy()
    target = test_set.targets.reshape(mean.shape)
    if ensemble.config.target_transform[0] == "log10":
        target = np.log10(target)
    metrics = regression_metrics(mean, target) if ensemble.config.task == "regression" else {}
    error = np.abs(mean - target)
    metrics["mean_std"] = float(std.mean())
    metrics["std_error_spearman"] = float(_spearman(std.ravel(), error.ravel()))
    return metrics


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _write_metrics(output: str, metrics: dict) -> None:
    from asegraph._utils.jsonsafe import write_json

    write_json(f"{output}.metrics.json", metrics)


def _summary(output: str, metrics: dict) -> str:
    lines = [
        f"wrote {output} (best epoch {metrics['best_epoch']} of {metrics['epochs']}, "
        f"{metrics['train_time_s']:.0f} s)"
    ]
    for label in ("val", "test"):
        if label in metrics:
            text = ", ".join(f"{k} {v:.4g}" for k, v in metrics[label].items())
            lines.append(f"{label:5s}: {text}")
    return "\n".join(lines)
