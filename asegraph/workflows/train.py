"""Training workflows: one model or an ensemble, to a file (``asegraph train``)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from asegraph.models.cgcnn import CGCNNConfig
from asegraph.training import TrainingConfig
from asegraph.workflows.data import DataSource, Report, _quiet, _with_targets

__all__ = ["ensemble_metrics", "fit_model", "train_ensemble", "train_to_file"]


def fit_model(train_set, val_set, config: CGCNNConfig, training: TrainingConfig, **trainer):
    """Train one model from fresh weights seeded by ``training.seed``; return its Trainer.

    With ``training.init_from`` the model starts from that model's body (atom
    embedding and convolutions; its settings replace ``config``'s, see
    :func:`asegraph.models.transfer.transfer_model`) and a fresh head seeded
    by ``training.seed``. ``trainer`` keywords (``output_dir``, ``progress``) go to
    :class:`~asegraph.training.Trainer`; with ``output_dir`` the run is
    checkpointed there and a second call resumes it.
    """
    import torch

    from asegraph.models.cgcnn import CGCNN
    from asegraph.training import Trainer

    with torch.random.fork_rng():  # initial weights, without touching the global RNG
        torch.manual_seed(training.seed)
        if training.init_from is not None:
            from asegraph.models.transfer import transfer_model

            model = transfer_model(config, training.init_from)
        else:
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
    metrics = {}
    if ensemble.config.task == "regression":
        metrics = regression_metrics(mean, target, list(ensemble.config.targets))
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
    if training.init_from is not None:  # graphs as the source model's body expects them
        from asegraph.models.transfer import body_config

        config = body_config(config, training.init_from)
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
