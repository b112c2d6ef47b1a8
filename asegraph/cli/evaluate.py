"""``asegraph evaluate``, ``asegraph learning-curve`` and ``asegraph tune``."""

from __future__ import annotations

import itertools
from pathlib import Path

import click
import numpy as np

from asegraph.cli.options import Duration, FloatList
from asegraph.cli.train import dataset_options, load


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

    from asegraph._utils.jsonsafe import write_json
    from asegraph.exceptions import ParameterError
    from asegraph.models.loader import load as load_model_spec
    from asegraph.plots import parity_plot, roc_plot
    from asegraph.training import Trainer

    torch.set_num_threads(threads)
    net = load_model_spec(model)
    config = net.config
    if not targets and not Path(data).is_dir():
        raise ParameterError("--target is required: name the column/key with the reference values")
    graph = {"cutoff": config.cutoff, "max_neighbors": config.max_neighbors, "ties": config.ties}
    dataset = load(
        data, targets, structure_column, id_column, selection, rows, cache_dir, graph, quiet=False
    )
    trainer = Trainer(net, progress=False)
    metrics = trainer.evaluate(dataset.graphs, dataset.targets)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    predicted = trainer.predict(dataset.graphs)
    reference = trainer._targets(dataset.targets).numpy()
    if config.task == "classification":
        figure = roc_plot(reference.astype(int), predicted[:, 1], out / "roc.png")
    else:
        figure = parity_plot(
            reference[:, 0], predicted[:, 0], out / "parity.png", config.targets[0], config.units[0]
        )
    write_json(out / "metrics.json", metrics)
    click.echo(", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    click.echo(f"wrote {out / 'metrics.json'} and {figure}")


def _load_and_split(
    data,
    targets,
    structure_column,
    id_column,
    selection,
    rows,
    cache_dir,
    cutoff,
    split,
    seed,
    threads,
):
    """The dataset with default-rule graphs and its seeded train/val/test indices."""
    import torch

    from asegraph.data.datasets import split_indices

    torch.set_num_threads(threads)
    graph = {"cutoff": cutoff, "max_neighbors": 12, "ties": "keep"}
    dataset = load(
        data, targets, structure_column, id_column, selection, rows, cache_dir, graph, quiet=False
    )
    return dataset, split_indices(len(dataset), split, seed)


def _fit(train_set, val_set, config, settings, seed):
    import torch

    from asegraph.models.cgcnn import CGCNN
    from asegraph.training import Trainer

    torch.manual_seed(seed)
    trainer = Trainer(CGCNN(config), settings, progress=False)
    trainer.fit(train_set.graphs, train_set.targets, val_set.graphs, val_set.targets)
    return trainer


def _base_config(names, conv, n_conv, cutoff, log10_targets):
    from asegraph.models.cgcnn import CGCNNConfig

    return CGCNNConfig(
        targets=list(names),
        units=[""] * len(names),
        conv=conv,
        n_conv=n_conv,
        cutoff=cutoff,
        target_transform=["log10" if log10_targets else "none"] * len(names),
        gaussian={"start": 0.0, "stop": cutoff, "step": 0.2, "width": 0.2},
    )


@click.command("learning-curve")
@click.argument("data", type=click.Path(exists=True))
@dataset_options
@click.option(
    "--sizes",
    type=FloatList(),
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
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1))
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
    seed,
    threads,
    output_dir,
) -> None:
    """Test MAE against training-set size, log-log (thesis Fig. 3-2)."""

    from asegraph.exceptions import ParameterError
    from asegraph.plots import learning_curve_plot
    from asegraph.training import TrainingConfig

    dataset, (train_idx, val_idx, test_idx) = _load_and_split(
        data,
        targets,
        structure_column,
        id_column,
        selection,
        rows,
        cache_dir,
        cutoff,
        split,
        seed,
        threads,
    )
    sizes = [int(s) for s in sizes]
    if max(sizes) > len(train_idx):
        raise ParameterError(
            f"--sizes asks for {max(sizes)} training structures but the training split has "
            f"{len(train_idx)}; lower --sizes or raise the train fraction of --split"
        )
    config = _base_config(dataset.target_names, conv, n_conv, cutoff, log10_targets)
    val_set, test_set = dataset.subset(val_idx), dataset.subset(test_idx)
    rows_out = []
    for size in sizes:
        settings = TrainingConfig(
            epochs=epochs, lr=2e-3, lr_schedule="cosine", max_time_s=max_time, seed=seed
        )
        trainer = _fit(dataset.subset(train_idx[:size]), val_set, config, settings, seed)
        mae = trainer.evaluate(test_set.graphs, test_set.targets)["mae"]
        rows_out.append((size, mae))
        click.echo(f"{size:6d} training structures: test MAE {mae:.4g}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    array = np.array(rows_out)
    np.savetxt(
        out / "learning_curve.csv", array, delimiter=",", header="n_train,test_mae", comments=""
    )
    figure = learning_curve_plot(array[:, 0], array[:, 1], out / "learning_curve.png")
    click.echo(f"wrote {out / 'learning_curve.csv'} and {figure}")


@click.command()
@click.argument("data", type=click.Path(exists=True))
@dataset_options
@click.option("--lr", "lrs", type=FloatList(), default="1e-3,3e-3", show_default=True)
@click.option("--weight-decay", "decays", type=FloatList(), default="0,1e-5", show_default=True)
@click.option("--n-conv", "n_convs", type=FloatList(), default="2,3,4", show_default=True)
@click.option("--split", type=FloatList(), default="0.6,0.2,0.2", show_default=True)
@click.option("--cutoff", default=8.0, show_default=True, type=float)
@click.option("--log10", "log10_targets", is_flag=True)
@click.option("--epochs", default=200, show_default=True, type=int)
@click.option(
    "--max-time", type=Duration(), default="1m", show_default=True, help="Budget per grid point."
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1))
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
    split,
    cutoff,
    log10_targets,
    epochs,
    max_time,
    seed,
    threads,
    output,
) -> None:
    """Grid search over learning rate, weight decay and convolutions on the validation MAE."""

    from asegraph._utils.files import atomic_write_bytes
    from asegraph.training import TrainingConfig

    dataset, (train_idx, val_idx, _) = _load_and_split(
        data,
        targets,
        structure_column,
        id_column,
        selection,
        rows,
        cache_dir,
        cutoff,
        split,
        seed,
        threads,
    )
    train_set, val_set = dataset.subset(train_idx), dataset.subset(val_idx)
    lines = ["lr,weight_decay,n_conv,val_mae,epochs"]
    best = None
    for lr, decay, n_conv in itertools.product(lrs, decays, n_convs):
        config = _base_config(dataset.target_names, "gated", int(n_conv), cutoff, log10_targets)
        settings = TrainingConfig(
            epochs=epochs,
            lr=lr,
            weight_decay=decay,
            lr_schedule="cosine",
            max_time_s=max_time,
            seed=seed,
        )
        trainer = _fit(train_set, val_set, config, settings, seed)
        mae = trainer.evaluate(val_set.graphs, val_set.targets)["mae"]
        lines.append(f"{lr:g},{decay:g},{int(n_conv)},{mae:.6g},{len(trainer.history)}")
        click.echo(f"lr {lr:g}  weight decay {decay:g}  n_conv {int(n_conv)}: val MAE {mae:.4g}")
        if best is None or mae < best[0]:
            best = (mae, lr, decay, int(n_conv))
    text = "\n".join(lines) + "\n"
    atomic_write_bytes(output, lambda handle: handle.write(text.encode()))
    click.echo(
        f"best: lr {best[1]:g}, weight decay {best[2]:g}, n_conv {best[3]} "
        f"(val MAE {best[0]:.4g}); table in {output}"
    )
