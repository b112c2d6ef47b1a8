"""Scoring workflows: ``asegraph evaluate``, ``learning-curve`` and ``tune``."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from asegraph.exceptions import ParameterError
from asegraph.models.cgcnn import CGCNNConfig
from asegraph.training import TrainingConfig
from asegraph.workflows.data import DataSource, Report, _quiet, _with_targets
from asegraph.workflows.train import fit_model

__all__ = ["evaluate_to_folder", "grid_search", "learning_curve"]


def evaluate_to_folder(
    model: Any, source: DataSource, output_dir: str | Path, report: Report = _quiet
) -> tuple[dict[str, float], Path]:
    """Metrics of ``model`` on labelled data, ``metrics.json`` and a parity plot or ROC curve.

    Parameters
    ----------
    model : model spec
        Anything :func:`asegraph.models.load` takes.
    source : DataSource
        Read with the model's own graph settings.
    output_dir : path
        Gets ``metrics.json``, ``predictions.csv`` (id, reference and
        prediction per target, in the space the model predicts in; class
        probabilities for classification) and ``parity.png`` (regression,
        first target) or ``roc.png`` (classification).

    Returns
    -------
    (dict, Path)
        Metrics in the space the model predicts in (log10 for log10
        targets), and the figure's path.
    """
    from asegraph._utils.files import atomic_write_text
    from asegraph._utils.jsonsafe import write_json
    from asegraph.models.loader import load
    from asegraph.plots import parity_plot, roc_plot
    from asegraph.training import Trainer

    net = load(model)
    config = net.config
    expected = 1 if config.task == "classification" else len(config.targets)
    if source.targets and len(source.targets) != expected:  # before any structure is read
        raise ParameterError(
            f"--target: model {str(model)!r} predicts {expected} target(s) {config.targets}, "
            f"got {len(source.targets)} {list(source.targets)}; give one --target per model "
            "target, in the model's order"
        )
    dataset = source.read(config.cutoff, config.max_neighbors, config.ties, report=report)
    # the reference is what DATA holds (--target), which may be named unlike the model's target
    ref_names = list(source.targets) or list(config.targets)
    if ref_names != list(config.targets):
        report(
            f"comparing the model's {config.targets} ({', '.join(config.units)}) with DATA's "
            f"{ref_names}"
        )
    trainer = Trainer(net, progress=False)
    predicted = trainer.predict(dataset.graphs)
    reference = trainer.targets_in_model_space(dataset.targets)
    metrics = trainer.metrics(predicted, reference)
    out = Path(output_dir)
    if config.task == "classification":
        figure = roc_plot(reference.astype(int), predicted[:, 1], out / "roc.png")
    else:
        figure = parity_plot(
            reference[:, 0],
            predicted[:, 0],
            out / "parity.png",
            config.targets[0],
            config.units[0],
            reference_label=ref_names[0],
        )
    write_json(out / "metrics.json", metrics)
    atomic_write_text(
        out / "predictions.csv",
        _predictions_csv(dataset.ids, reference, predicted, config, ref_names),
    )
    return metrics, figure


def _predictions_csv(ids, reference, predicted, config, ref_names) -> str:
    if config.task == "classification":
        header = ["id", "label", *(f"p_{c}" for c in config.classes)]
        rows = [[i, int(r), *p] for i, r, p in zip(ids, reference.reshape(-1), predicted)]
    else:
        log10 = [transform == "log10" for transform in config.target_transform]
        names = [f"log10_{t}" if lg else t for t, lg in zip(config.targets, log10)]
        refs = [f"log10_{t}" if lg else t for t, lg in zip(ref_names, log10)]
        header = ["id", *(f"reference_{n}" for n in refs), *(f"predicted_{n}" for n in names)]
        rows = [[i, *r, *p] for i, r, p in zip(ids, reference, predicted)]
    lines = [",".join(header)]
    lines += [
        ",".join(str(v) if isinstance(v, str) else repr(float(v)) for v in row) for row in rows
    ]
    return "\n".join(lines) + "\n"


def learning_curve(
    source: DataSource,
    sizes: Sequence[int],
    config: CGCNNConfig,
    training: TrainingConfig,
    split: Sequence[float] = (0.6, 0.2, 0.2),
    output_dir: str | Path | None = None,
    report: Report = _quiet,
    progress: bool = True,
) -> np.ndarray:
    """Test MAE against training-set size (thesis Fig. 3-2).

    The data are split once (seed ``training.seed``); size ``n`` trains on
    the first ``n`` of the training split and is scored on the test split.
    With ``output_dir`` the table goes to ``learning_curve.csv`` and a
    log-log plot to ``learning_curve.png``. ``progress`` shows each
    training's epoch bar (tqdm).

    Returns
    -------
    ndarray, shape (n_sizes, 2)
        ``[n_train, test_mae]`` rows.
    """
    from asegraph._utils.files import atomic_write_text
    from asegraph.data.datasets import split_indices
    from asegraph.plots import learning_curve_plot

    dataset = source.read(config.cutoff, config.max_neighbors, config.ties, report=report)
    train_idx, val_idx, test_idx = split_indices(len(dataset), split, training.seed)
    sizes = [int(s) for s in sizes]
    if not sizes or min(sizes) < 2 or max(sizes) > len(train_idx):
        raise ParameterError(
            f"sizes must be between 2 and the {len(train_idx)} structures of the training split, "
            f"got {sizes}; lower sizes or raise the train fraction of split"
        )
    config = _with_targets(config, dataset.target_names)
    val_set, test_set = dataset.subset(val_idx), dataset.subset(test_idx)
    rows = []
    for size in sizes:
        subset = dataset.subset(train_idx[:size])
        trainer = fit_model(subset, val_set, config, training, progress=progress)
        mae = trainer.evaluate(test_set.graphs, test_set.targets)["mae"]
        rows.append((size, mae))
        report(f"{size:6d} training structures: test MAE {mae:.4g}")
    table = np.array(rows, dtype=np.float64)
    if output_dir is not None:
        out = Path(output_dir)
        text = "n_train,test_mae\n" + "".join(f"{int(n)},{m:.10g}\n" for n, m in table)
        atomic_write_text(out / "learning_curve.csv", text)
        learning_curve_plot(table[:, 0], table[:, 1], out / "learning_curve.png")
    return table


def grid_search(
    source: DataSource,
    config: CGCNNConfig,
    training: TrainingConfig,
    grid: dict[str, Sequence[Any]],
    split: Sequence[float] = (0.6, 0.2, 0.2),
    output: str | Path | None = None,
    report: Report = _quiet,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train at every point of a grid; score each on the validation MAE.

    Parameters
    ----------
    grid : dict
        Field name -> values; names are :class:`TrainingConfig` fields
        (``lr``, ``weight_decay``, ...) or :class:`CGCNNConfig` fields
        (``n_conv``, ``atom_dim``, ...).
    output : path, optional
        CSV of the rows (one per grid point).
    progress : bool
        Show each training's epoch bar (tqdm).

    Returns
    -------
    list of dict
        One row per grid point (its settings, ``val_mae``, ``epochs``), in
        grid order; the best is ``min(rows, key=lambda r: r["val_mae"])``.
    """
    from asegraph._utils.files import atomic_write_text
    from asegraph.data.datasets import split_indices

    training_fields = set(TrainingConfig.__dataclass_fields__)
    model_fields = set(CGCNNConfig.__dataclass_fields__)
    unknown = sorted(set(grid) - training_fields - model_fields)
    if unknown:
        raise ParameterError(
            f"grid names unknown settings {unknown}; use TrainingConfig or CGCNNConfig fields"
        )
    dataset = source.read(config.cutoff, config.max_neighbors, config.ties, report=report)
    train_idx, val_idx, _ = split_indices(len(dataset), split, training.seed)
    train_set, val_set = dataset.subset(train_idx), dataset.subset(val_idx)
    config = _with_targets(config, dataset.target_names)
    names = list(grid)
    rows = []
    for values in itertools.product(*(grid[name] for name in names)):
        point = dict(zip(names, values, strict=True))
        point_config = replace(config, **{k: v for k, v in point.items() if k in model_fields})
        point_training = replace(
            training, **{k: v for k, v in point.items() if k in training_fields}
        )
        trainer = fit_model(train_set, val_set, point_config, point_training, progress=progress)
        mae = trainer.evaluate(val_set.graphs, val_set.targets)["mae"]
        rows.append({**point, "val_mae": mae, "epochs": len(trainer.history)})
        report("  ".join(f"{k} {v:g}" for k, v in point.items()) + f": val MAE {mae:.4g}")
    if output is not None:
        columns = [*names, "val_mae", "epochs"]
        lines = [",".join(columns)]
        lines += [",".join(f"{row[c]:.6g}" for c in columns) for row in rows]
        atomic_write_text(output, "\n".join(lines) + "\n")
    return rows
