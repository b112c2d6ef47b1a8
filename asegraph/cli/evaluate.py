"""``asegraph evaluate``, ``asegraph learning-curve`` and ``asegraph tune``."""

from __future__ import annotations

from pathlib import Path

import click

from asegraph.cli.options import Duration, FloatList, IntList, cpu_time_option
from asegraph.cli.train import data_source, dataset_options, stderr


@click.command()
@click.argument("model")
@click.argument("data", type=click.Path(exists=True))
@dataset_options
@click.option(
    "-o",
    "--output-dir",
    default="evaluation",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Metrics JSON and figures go here.",
)
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1))
def evaluate(
    model,
    data,
    targets,
    structure_column,
    id_column,
    selection,
    rows,
    cache_dir,
    output_dir,
    threads,
) -> None:
    """Metrics of MODEL on the labelled DATA, with a parity plot (or ROC curve)."""
    import torch

    from asegraph.exceptions import ParameterError
    from asegraph.workflows import evaluate_to_folder

    torch.set_num_threads(threads)
    if not targets and not Path(data).is_dir():
        raise ParameterError("--target is required: name the column/key with the reference values")
    source = data_source(data, targets, structure_column, id_column, selection, rows, cache_dir)
    metrics, figure = evaluate_to_folder(model, source, output_dir, report=stderr)
    click.echo(", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    click.echo(f"wrote {Path(output_dir) / 'metrics.json'} and {figure}")


def _model_config(conv: str, n_conv: int, cutoff: float, log10_targets: bool):
    from asegraph.models.cgcnn import CGCNNConfig

    return CGCNNConfig(
        conv=conv,
        n_conv=n_conv,
        cutoff=cutoff,
        target_transform=["log10" if log10_targets else "none"],
    )


@click.command("learning-curve")
@click.argument("data", type=click.Path(exists=True))
@dataset_options
@click.option(
    "--sizes",
    type=IntList(),
    default="100,300,1000,3000",
    show_default=True,
    help="Training-set sizes.",
)
@click.option("--split", type=FloatList(), default="0.6,0.2,0.2", show_default=True)
@click.option("--conv", type=click.Choice(["gated", "simple"]), default="gated", show_default=True)
@click.option("--n-conv", default=3, show_default=True, type=int)
@click.option("--cutoff", default=8.0, show_default=True, type=float)
@click.option("--log10", "log10_targets", is_flag=True)
@click.option("--epochs", default=300, show_default=True, type=int)
@click.option(
    "--max-time", type=Duration(), default="2m", show_default=True, help="Budget per training size."
)
@cpu_time_option
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option(
    "-o",
    "--output-dir",
    default="learning-curve",
    show_default=True,
    type=click.Path(file_okay=False),
)
def learning_curve(
    data,
    targets,
    structure_column,
    id_column,
    selection,
    rows,
    cache_dir,
    sizes,
    split,
    conv,
    n_conv,
    cutoff,
    log10_targets,
    epochs,
    max_time,
    cpu_time,
    seed,
    threads,
    progress,
    output_dir,
) -> None:
    """Test MAE against training-set size, log-log (thesis Fig. 3-2)."""
    import torch

    from asegraph.training import TrainingConfig
    from asegraph.workflows import learning_curve as run_learning_curve

    torch.set_num_threads(threads)
    source = data_source(data, targets, structure_column, id_column, selection, rows, cache_dir)
    training = TrainingConfig(
        epochs=epochs,
        lr=2e-3,
        lr_schedule="cosine",
        max_time_s=max_time,
        clock="cpu" if cpu_time else "wall",
        seed=seed,
    )
    run_learning_curve(
        source,
        sizes,
        _model_config(conv, n_conv, cutoff, log10_targets),
        training,
        split,
        output_dir,
        report=click.echo,
        progress=progress,
    )
    out = Path(output_dir)
    click.echo(f"wrote {out / 'learning_curve.csv'} and {out / 'learning_curve.png'}")


@click.command()
@click.argument("data", type=click.Path(exists=True))
@dataset_options
@click.option("--lr", "lrs", type=FloatList(), default="1e-3,3e-3", show_default=True)
@click.option("--weight-decay", "decays", type=FloatList(), default="0,1e-5", show_default=True)
@click.option("--n-conv", "n_convs", type=IntList(), default="2,3,4", show_default=True)
@click.option(
    "--dropout",
    "dropouts",
    type=FloatList(),
    default="0",
    show_default=True,
    help="Dropout probabilities before the output layer (0: the thesis' model).",
)
@click.option("--split", type=FloatList(), default="0.6,0.2,0.2", show_default=True)
@click.option("--cutoff", default=8.0, show_default=True, type=float)
@click.option("--log10", "log10_targets", is_flag=True)
@click.option("--epochs", default=200, show_default=True, type=int)
@click.option(
    "--max-time", type=Duration(), default="1m", show_default=True, help="Budget per grid point."
)
@cpu_time_option
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option(
    "-o", "--output", default="tune.csv", show_default=True, type=click.Path(dir_okay=False)
)
def tune(
    data,
    targets,
    structure_column,
    id_column,
    selection,
    rows,
    cache_dir,
    lrs,
    decays,
    n_convs,
    dropouts,
    split,
    cutoff,
    log10_targets,
    epochs,
    max_time,
    cpu_time,
    seed,
    threads,
    progress,
    output,
) -> None:
    """Grid search over learning rate, weight decay, convolutions and dropout (validation MAE)."""
    import torch

    from asegraph.training import TrainingConfig
    from asegraph.workflows import grid_search

    torch.set_num_threads(threads)
    source = data_source(data, targets, structure_column, id_column, selection, rows, cache_dir)
    training = TrainingConfig(
        epochs=epochs,
        lr_schedule="cosine",
        max_time_s=max_time,
        clock="cpu" if cpu_time else "wall",
        seed=seed,
    )
    grid = {
        "lr": lrs,
        "weight_decay": decays,
        "n_conv": n_convs,
        "dropout": dropouts,
    }
    rows_out = grid_search(
        source,
        _model_config("gated", 3, cutoff, log10_targets),
        training,
        grid,
        split,
        output,
        report=click.echo,
        progress=progress,
    )
    best = min(rows_out, key=lambda row: row["val_mae"])
    click.echo(
        f"best: lr {best['lr']:g}, weight decay {best['weight_decay']:g}, n_conv "
        f"{best['n_conv']}, dropout {best['dropout']:g} (val MAE {best['val_mae']:.4g}); "
        f"table in {output}"
    )
