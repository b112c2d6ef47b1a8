"""Training workflows: what ``asegraph train``, ``evaluate``, ``learning-curve`` and ``tune`` run.

Each command line parses its options into the objects below and calls one
function of this module, so every workflow can also be run from Python::

    from asegraph.workflows import DataSource, train_to_file
    from asegraph.models import CGCNNConfig
    from asegraph.training import TrainingConfig

    source = DataSource("perov.csv", targets=["heat_ref / 5"])
    metrics = train_to_file(source, "perov.pt", CGCNNConfig(units=["eV/atom"]),
                            TrainingConfig(max_time_s=900))

Functions take a ``report`` callable for the lines a user should see while
they run (skipped entries, ensemble members, learning-curve sizes); the
default prints nothing.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from asegraph.exceptions import InputFileError, ParameterError
from asegraph.models.cgcnn import CGCNNConfig
from asegraph.training import TrainingConfig

__all__ = [
    "DataSource",
    "evaluate_to_folder",
    "fit_model",
    "grid_search",
    "learning_curve",
    "train_ensemble",
    "train_to_file",
]

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class DataSource:
    """A labelled dataset on disk and how to read it.

    Parameters
    ----------
    path : path
        CGCNN folder (``id_prop.csv`` + CIFs), CSV with a CIF column, ASE
        database or extxyz (see :func:`asegraph.data.datasets.read_dataset`).
    targets : sequence of str
        Column / info key / expression per target (empty: the folder's).
    structure_column, id_column : str
        CSV columns of the CIF text and the ids.
    selection : str, optional
        ASE database selection.
    rows : slice, optional
        Entries to use (CSV rows are cut before any CIF is parsed).
    cache_dir : path, optional
        Keep built graphs here so later runs skip parsing.
    """

    path: str | Path
    targets: Sequence[str] = ()
    structure_column: str = "cif"
    id_column: str | None = None
    selection: str | None = None
    rows: slice | None = None
    cache_dir: str | Path | None = None

    def read(
        self,
        cutoff: float,
        max_neighbors: int,
        ties: str,
        report: Report = _quiet,
        count: bool = True,
    ):
        """The :class:`~asegraph.data.datasets.GraphDataset` with these graph settings.

        Skipped entries are reported through ``report``, and (``count``) the
        number of structures read.

        Raises
        ------
        InputFileError
            No entry could be used; the message names the first failure.
        """
        from asegraph.data.datasets import load_graph_dataset

        suffix = Path(self.path).suffix.lower()
        options: dict[str, Any] = {}
        if suffix == ".csv":  # rows are cut before parsing, so unused CIFs are never read
            options = {
                "structure_column": self.structure_column,
                "id_column": self.id_column,
                "rows": self.rows,
            }
        elif suffix == ".db":
            options = {"selection": self.selection}
        graph = {"cutoff": cutoff, "max_neighbors": max_neighbors, "ties": ties}
        data = load_graph_dataset(
            self.path, list(self.targets), **graph, cache_dir=self.cache_dir, **options
        )
        if self.rows is not None and suffix != ".csv":
            from asegraph.data.datasets import check_rows

            data = data.subset(range(len(data))[check_rows(self.rows, len(data), self.path)])
        if len(data) == 0:
            first = (
                f"; first: {data.failures[0][0]}: {data.failures[0][1]}" if data.failures else ""
            )
            raise InputFileError(
                f"dataset '{self.path}' has no usable entries ({len(data.failures)} skipped"
                f"{first}); check --target and the file"
            )
        if data.failures:
            report(f"{self.path}: skipped {len(data.failures)} entries:")
            for sid, message in data.failures[:10]:
                report(f"  {sid}: {message}")
        if count:
            report(f"{self.path}: {len(data)} structures")
        return data


def _with_targets(config: CGCNNConfig, names: Sequence[str]) -> CGCNNConfig:
    """``config`` for the dataset's target names; one unit / transform is repeated."""
    n = len(names)
    units, transforms = list(config.units), list(config.target_transform)
    if len(units) != n:
        if len(units) != 1:
            raise ParameterError(
                f"units needs one unit per target ({n}: {list(names)}), got {config.units}"
            )
        units = units * n
    transforms = transforms if len(transforms) == n else transforms[:1] * n
    return replace(config, targets=list(names), units=units, target_transform=transforms)


def fit_model(train_set, val_set, config: CGCNNConfig, training: TrainingConfig, **trainer):
    """Train one model from fresh weights seeded by ``training.seed``; return its Trainer.

    ``trainer`` keywords (``output_dir``, ``progress``) go to
    :class:`~asegraph.training.Trainer`; with ``output_dir`` the run is
    checkpointed there and a second call resumes it.
    """
    import torch

    from asegraph.models.cgcnn import CGCNN
    from asegraph.training import Trainer

    with torch.random.fork_rng():  # initial weights, without touching the global RNG
        torch.manual_seed(training.seed)
        model = CGCNN(config)
    fitter = Trainer(model, training, **trainer)
    fitter.fit(
        train_set.graphs,
        train_set.targets,
        val_set.graphs if val_set is not None else None,
        val_set.targets if val_set is not None else None,
    )
    return fitter


def _fit_metrics(trainer, val_set, test_set) -> dict:
    metrics = {
        "epochs": len(trainer.history),
        "best_epoch": trainer.best_epoch,
        "train_time_s": trainer.history[-1]["time_s"],
    }
    for label, subset in (("val", val_set), ("test", test_set)):
        if subset is not None and len(subset):
            metrics[label] = trainer.evaluate(subset.graphs, subset.targets)
    return metrics


def train_ensemble(
    train_set,
    val_set,
    config: CGCNNConfig,
    training: TrainingConfig,
    n_members: int,
    subsample: float = 0.6,
    run_dir: str | Path | None = None,
    progress: bool = False,
    report: Report = _quiet,
    restart: bool = False,
):
    """Members trained on random subsets of the training data (thesis ch. 2.5).

    Parameters
    ----------
    n_members : int
        Number of members; member ``k`` sees ``subsample`` of ``train_set``
        (drawn with seed ``training.seed + 1000 (k + 1)``) and starts from
        weights seeded ``training.seed + k``. ``training.max_time_s`` is the
        budget of the whole ensemble (in ``training.clock`` seconds): each
        member gets an equal share of what is left (recorded as
        ``budget_s``/``started_s`` in its metrics).
    run_dir : path, optional
        Member ``k`` is checkpointed in ``run_dir/member-k`` (a rerun resumes).
    restart : bool
        Each member's trainer discards its checkpoints first (under its lock).

    Returns
    -------
    (Ensemble, list of dict)
        The ensemble of the members' best models, and each member's metrics.
    """
    from asegraph._utils.jsonsafe import jsonsafe
    from asegraph.models.checkpoint import load_model
    from asegraph.models.ensemble import Ensemble

    seed = training.seed
    members, member_metrics = [], []
    # max_time_s is the budget of the whole ensemble: each member gets an equal
    # share of what is left, so time a fast member saves goes to the next ones
    now = time.process_time if training.clock == "cpu" else time.perf_counter
    budget, start = training.max_time_s, now()
    for k in range(n_members):
        rng = np.random.default_rng(seed + 1000 * (k + 1))
        size = max(2, int(round(subsample * len(train_set))))
        chosen = np.sort(rng.choice(len(train_set), size=size, replace=False))
        started = now() - start
        share = None if budget is None else max((budget - started) / (n_members - k), 1e-3)
        if progress:
            report(
                f"member {k + 1}/{n_members}: {size} training structures"
                + (f", {share:.0f} s budget" if share is not None else "")
            )
        member_dir = Path(run_dir) / f"member-{k}" if run_dir is not None else None
        trainer = fit_model(
            train_set.subset(chosen),
            val_set,
            config,
            replace(training, seed=seed + k, max_time_s=share),
            output_dir=member_dir,
            progress=progress,
            restart=restart,
        )
        metrics = jsonsafe(_fit_metrics(trainer, val_set, None))
        member_metrics.append({**metrics, "started_s": started, "budget_s": share})
        if member_dir is not None:
            members.append(load_model(member_dir / "best_model.pt"))
        else:
            members.append(trainer.model.eval())
    metadata = {
        "subsample": subsample,
        "seed": seed,
        "members": member_metrics,
        "max_time_s": budget,
        "clock": training.clock,
        "train_time_s": now() - start,
    }
    return Ensemble(members, metadata=metadata), member_metrics


def ensemble_metrics(ensemble, test_set, batch_size: int = 64) -> dict[str, float]:
    """Test metrics of the ensemble mean, the mean spread and the spread–error rank correlation."""
    from scipy.stats import spearmanr

    from asegraph.models.inference import predict_graphs
    from asegraph.training import regression_metrics

    out = predict_graphs(ensemble, test_set.graphs, batch_size)
    mean, std = out["y"], out["y_std"]
    target = test_set.targets.reshape(mean.shape).astype(np.float64)
    if ensemble.config.target_transform[0] == "log10":
        target = np.log10(target)
    metrics = regression_metrics(mean, target) if ensemble.config.task == "regression" else {}
    error = np.abs(mean - target)
    metrics["mean_std"] = float(std.mean())
    metrics["std_error_spearman"] = float(spearmanr(std.ravel(), error.ravel()).statistic)
    return metrics


def _process_rank() -> int:
    """Join the torch.distributed group torchrun describes (gloo); this process's rank."""
    import torch

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo")
    return torch.distributed.get_rank() if torch.distributed.is_initialized() else 0


def train_to_file(
    source: DataSource,
    output: str | Path,
    config: CGCNNConfig,
    training: TrainingConfig,
    *,
    val: DataSource | None = None,
    test: DataSource | None = None,
    split: Sequence[float] = (0.6, 0.2, 0.2),
    n_members: int = 1,
    subsample: float = 0.6,
    restart: bool = False,
    progress: bool = False,
    report: Report = _quiet,
) -> dict[str, Any]:
    """Read, split, train (one model or an ensemble) and write ``output`` + its metrics.

    Parameters
    ----------
    source : DataSource
        The training data; without ``val``/``test`` it is split by ``split``
        (seeded by ``training.seed``).
    output : path
        Model (or ensemble) file; checkpoints go to ``OUTPUT.run/`` and a
        second call with the same arguments resumes; ``OUTPUT.metrics.json``
        gets the metrics.
    config : CGCNNConfig
        Architecture and graph settings; ``targets`` are taken from the data,
        ``units`` (one per target, or empty) and ``target_transform`` (one, or
        one per target) are kept.
    training : TrainingConfig
    val, test : DataSource, optional
        Explicit validation / test sets.
    n_members, subsample
        ``n_members > 1`` trains an ensemble (see :func:`train_ensemble`).
    restart : bool
        Discard the checkpoints in ``OUTPUT.run/`` first (each trainer does it
        under its lock).

    Returns
    -------
    dict
        The metrics written to ``OUTPUT.metrics.json``.

    Notes
    -----
    Under ``torchrun --nproc-per-node N`` the processes train data-parallel
    (gloo) with the same global batch; only rank 0 writes files.
    """
    from asegraph._utils.jsonsafe import jsonsafe, write_json
    from asegraph.data.datasets import split_indices
    from asegraph.models.checkpoint import load_model, save_model

    rank = _process_rank()
    read = (config.cutoff, config.max_neighbors, config.ties)
    train_set = source.read(*read, report=report, count=progress)
    if val is not None or test is not None:
        val_set = val.read(*read, report=report, count=progress) if val is not None else None
        test_set = test.read(*read, report=report, count=progress) if test is not None else None
    else:
        tr, va, te = split_indices(len(train_set), split, training.seed)
        train_set, val_set, test_set = (train_set.subset(i) for i in (tr, va, te))
    config = _with_targets(config, train_set.target_names)
    run_dir = Path(f"{output}.run")
    show = progress and rank == 0
    if n_members > 1:
        ensemble, member_metrics = train_ensemble(
            train_set,
            val_set,
            config,
            training,
            n_members,
            subsample,
            run_dir,
            show,
            report,
            restart,
        )
        metrics: dict[str, Any] = {
            "members": member_metrics,
            "train_time_s": ensemble.metadata["train_time_s"],
        }
        if test_set is not None and len(test_set):
            metrics["test"] = ensemble_metrics(ensemble, test_set)
        if rank == 0:
            ensemble.save(output)
            write_json(f"{output}.metrics.json", metrics)
        return metrics
    trainer = fit_model(
        train_set, val_set, config, training, output_dir=run_dir, progress=show, restart=restart
    )
    metrics = _fit_metrics(trainer, val_set, test_set)
    if rank == 0:  # rank 0 writes the results
        best = load_model(run_dir / "best_model.pt")
        metadata = {
            **best.metadata,
            "metrics": jsonsafe(metrics),
            "training": {"seed": training.seed, "data": str(source.path)},
        }
        save_model(best, output, metadata=metadata)
        write_json(f"{output}.metrics.json", metrics)
    return metrics


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
    dataset = source.read(config.cutoff, config.max_neighbors, config.ties, report=report)
    trainer = Trainer(net, progress=False)
    predicted = trainer.predict(dataset.graphs)
    reference = trainer.targets_in_model_space(dataset.targets)
    metrics = trainer.metrics(predicted, reference)
    out = Path(output_dir)
    if config.task == "classification":
        figure = roc_plot(reference.astype(int), predicted[:, 1], out / "roc.png")
    else:
        figure = parity_plot(
            reference[:, 0], predicted[:, 0], out / "parity.png", config.targets[0], config.units[0]
        )
    write_json(out / "metrics.json", metrics)
    atomic_write_text(
        out / "predictions.csv", _predictions_csv(dataset.ids, reference, predicted, config)
    )
    return metrics, figure


def _predictions_csv(ids, reference, predicted, config) -> str:
    if config.task == "classification":
        header = ["id", "label", *(f"p_{c}" for c in config.classes)]
        rows = [[i, int(r), *p] for i, r, p in zip(ids, reference.reshape(-1), predicted)]
    else:
        names = [
            f"log10_{t}" if transform == "log10" else t
            for t, transform in zip(config.targets, config.target_transform)
        ]
        header = ["id", *(f"reference_{n}" for n in names), *(f"predicted_{n}" for n in names)]
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
) -> np.ndarray:
    """Test MAE against training-set size (thesis Fig. 3-2).

    The data are split once (seed ``training.seed``); size ``n`` trains on
    the first ``n`` of the training split and is scored on the test split.
    With ``output_dir`` the table goes to ``learning_curve.csv`` and a
    log-log plot to ``learning_curve.png``.

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
        trainer = fit_model(dataset.subset(train_idx[:size]), val_set, config, training)
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
        trainer = fit_model(train_set, val_set, point_config, point_training)
        mae = trainer.evaluate(val_set.graphs, val_set.targets)["mae"]
        rows.append({**point, "val_mae": mae, "epochs": len(trainer.history)})
        report("  ".join(f"{k} {v:g}" for k, v in point.items()) + f": val MAE {mae:.4g}")
    if output is not None:
        columns = [*names, "val_mae", "epochs"]
        lines = [",".join(columns)]
        lines += [",".join(f"{row[c]:.6g}" for c in columns) for row in rows]
        atomic_write_text(output, "\n".join(lines) + "\n")
    return rows
