"""Training CGCNN models: fit, evaluate, checkpoint and resume.

Data parallelism: when ``torch.distributed`` is initialised (e.g. under
``torchrun``; gloo on CPU) each process computes its share of every global
batch and gradients are averaged, so the result equals one process with the
same global batch (batch-norm statistics are per process, as in DDP without
``SyncBatchNorm``, which needs GPUs). Only rank 0 writes files.

The trainer works on prebuilt :class:`~asegraph.graph.crystal_graph.CrystalGraph`
lists (graphs are built once, not every epoch). After every epoch it writes
``checkpoint.pt`` (weights, optimiser, scheduler, random state, history)
atomically into ``output_dir``; a run started again with the same
``output_dir`` resumes after the last completed epoch. The best model by
validation metric is saved as ``best_model.pt`` and every epoch is appended
to ``log.csv``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from asegraph._utils.files import atomic_write_bytes, atomic_write_text
from asegraph._utils.jsonsafe import jsonsafe
from asegraph.exceptions import ParameterError
from asegraph.graph.crystal_graph import CrystalGraph
from asegraph.models.cgcnn import CGCNN
from asegraph.models.checkpoint import save_model
from asegraph.models.inference import model_batch, predict_graphs


@dataclass
class TrainingConfig:
    """Optimisation settings.

    ``max_time_s`` is a wall-clock budget in seconds for one run (a resumed
    run gets a fresh budget): training stops cleanly after the epoch that
    exceeds it and keeps the best model. With ``clock="cpu"`` the budget
    (and the recorded ``time_s``) counts this process' CPU seconds instead,
    so that a budget means the same compute on a busy, shared machine.
    ``balanced_classes`` weights the classification loss by inverse class
    frequency (for rare classes, e.g. the 4 % of perovskites with a gap).
    ``lr_schedule`` is "constant", "step" (multiply by ``lr_gamma`` at each of ``lr_milestones``) or
    "cosine" (anneal to zero over ``epochs``, or over ``max_time_s`` when that
    comes first, so a time-limited run still ends annealed). ``patience`` is
    the number of epochs without validation improvement before stopping
    (``None``: never stop early). ``bn_recalibration_batches``: after each
    epoch, batch norm's running statistics are recomputed from this many
    training batches with the epoch's final weights (0: keep the running
    averages). Why: the running averages trail the weights by ~10 steps; where
    a batch-norm input is nearly constant across a batch (one element, so
    ``v^(0)`` is one vector: carbon) that lag is large against its spread and
    the eval-mode model is far off (carbon_24: validation R² -11 while the
    training loss fell). It changes no weight, only what eval mode uses.
    ``init_from`` (a published model's name or a model file; ``None``, the
    thesis' way: random weights) starts the model from that model's
    convolutions and atom embedding with a fresh head (transfer learning, see
    :mod:`asegraph.models.transfer`); the architecture's body settings are then
    the source's. It is applied by :func:`asegraph.workflows.fit_model`.
    """

    epochs: int = 100
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    lr_schedule: str = "constant"
    lr_milestones: list[int] = field(default_factory=list)
    lr_gamma: float = 0.1
    patience: int | None = None
    max_time_s: float | None = None
    clock: str = "wall"
    seed: int = 0
    balanced_classes: bool = False
    bn_recalibration_batches: int = 20
    init_from: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.optimizer not in ("adam", "sgd"):
            raise ParameterError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ParameterError(f"lr must be positive, got {self.lr}")
        if self.clock not in ("wall", "cpu"):
            raise ParameterError(f"clock must be 'wall' or 'cpu', got {self.clock!r}")
        if self.bn_recalibration_batches < 0:
            raise ParameterError(
                "bn_recalibration_batches must be >= 0 (0: off), got "
                f"{self.bn_recalibration_batches}"
            )
        if self.weight_decay < 0:
            raise ParameterError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.patience is not None and self.patience < 1:
            raise ParameterError(
                f"patience must be >= 1 epoch (or None: never), got {self.patience}"
            )
        if self.max_time_s is not None and not self.max_time_s > 0:
            raise ParameterError(
                f"max_time_s must be a positive number of seconds (or None), got {self.max_time_s}"
            )
        if self.lr_schedule not in ("constant", "step", "cosine"):
            raise ParameterError(
                f"lr_schedule must be 'constant', 'step' or 'cosine', got {self.lr_schedule!r}"
            )


def regression_metrics(
    predicted: np.ndarray, target: np.ndarray, names: list[str] | None = None
) -> dict[str, float]:
    """MAE, RMSE and R² over all targets; arrays [n, n_targets].

    With ``names`` (one per target) and several targets, each target's own
    metrics are added as ``mae_<name>``, ``rmse_<name>``, ``r2_<name>``
    (the pooled numbers mix targets of different spread, e.g. log10 G and K).
    """
    error = predicted - target
    ss_res = (error**2).sum(axis=0)
    ss_tot = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    r2 = 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, np.nan)
    out = {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "r2": float(np.nanmean(r2)) if np.isfinite(r2).any() else float("nan"),
    }
    if names is not None and len(names) > 1 and error.ndim == 2:
        for k, name in enumerate(names):
            out[f"mae_{name}"] = float(np.abs(error[:, k]).mean())
            out[f"rmse_{name}"] = float(np.sqrt((error[:, k] ** 2).mean()))
            out[f"r2_{name}"] = float(r2[k])
    return out


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, ROC AUC (binary), precision and recall of class 1."""
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    labels = labels.reshape(-1).astype(int)
    predicted = probabilities.argmax(axis=1)
    out = {"accuracy": float((predicted == labels).mean())}
    if probabilities.shape[1] == 2 and len(np.unique(labels)) == 2:
        out["roc_auc"] = float(roc_auc_score(labels, probabilities[:, 1]))
        out["precision"] = float(precision_score(labels, predicted, zero_division=0))
        out["recall"] = float(recall_score(labels, predicted, zero_division=0))
    return out


class Trainer:
    """Fit a :class:`CGCNN` on graphs and targets.

    Parameters
    ----------
    model : CGCNN
    config : TrainingConfig
    output_dir : path, optional
        Where checkpoints, the best model and the epoch log go; without it
        nothing is written and nothing can resume.
    progress : bool
        Show a tqdm progress bar over epochs.
    restart : bool
        Discard what ``output_dir`` holds and start afresh instead of resuming.

    A run in ``output_dir`` is locked while it trains (a second process is
    refused) and records a fingerprint of its model and training settings and
    of its data in ``run.json``; resuming with anything else is refused.
    """

    def __init__(
        self,
        model: CGCNN,
        config: TrainingConfig | None = None,
        output_dir: str | Path | None = None,
        progress: bool = True,
        restart: bool = False,
    ) -> None:
        self.model = model
        self.config = config or TrainingConfig()
        self.config.validate()
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.progress = progress
        self.restart = restart
        self.history: list[dict[str, float]] = []
        self.classification = model.config.task == "classification"
        self._class_weights: torch.Tensor | None = None

    # -- data -------------------------------------------------------------
    def _targets(self, targets: np.ndarray) -> torch.Tensor:
        array = np.asarray(targets)
        if self.classification:
            return torch.as_tensor(self._class_labels(array), dtype=torch.long)
        array = array.reshape(len(array), -1).astype(np.float64)
        bad = ~np.isfinite(array)
        if bad.any():  # NaN would train on NaN and end with no best model
            row, col = np.argwhere(bad)[0]
            raise ParameterError(
                f"target {self.model.config.targets[col]!r}: {int(bad.any(axis=1).sum())} of "
                f"{len(array)} structures have a NaN or infinite value (first: structure {row}, "
                f"{array[row, col]}); drop those entries (the dataset readers skip them)"
            )
        transforms = self.model.config.target_transform
        for k, transform in enumerate(transforms):
            if transform == "log10":
                if (array[:, k] <= 0).any():
                    raise ParameterError(
                        f"target {self.model.config.targets[k]!r} has non-positive values but its "
                        "transform is log10; remove them or use transform 'none'"
                    )
                array[:, k] = np.log10(array[:, k])
        return torch.as_tensor(array)

    def _class_labels(self, array: np.ndarray) -> np.ndarray:
        """Check that classification targets are class indices 0..n_classes-1."""
        values = array.reshape(-1).astype(np.float64)
        n_classes = self.model.config.n_outputs
        wrong = ~np.isin(values, np.arange(n_classes))
        if wrong.any():
            raise ParameterError(
                f"a classification model needs class indices 0..{n_classes - 1} as targets, got "
                f"{values[wrong][0]:g} ({int(wrong.sum())} of {len(values)} values are not class "
                "indices); for a continuous target use a regression model, or a condition of "
                "it such as 'gap > 0' as the target"
            )
        return values.astype(np.int64)

    def _loss(self, out: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Summed loss over the structures of ``out`` (the caller divides)."""
        if self.classification:
            losses = nn.functional.cross_entropy(
                out["y_scaled"], target, weight=self._class_weights, reduction="none"
            )
            return losses.sum()
        mean = self.model.target_mean.to(out["y_scaled"].dtype)
        std = self.model.target_std.to(out["y_scaled"].dtype)
        scaled = (target.to(out["y_scaled"].dtype) - mean) / std
        per_structure = ((out["y_scaled"] - scaled) ** 2).mean(dim=1)
        return per_structure.sum()

    def predict(self, graphs: list[CrystalGraph]) -> np.ndarray:
        """Model outputs [n, n_out] (log10 space for log10 targets), via ``predict_graphs``."""
        return predict_graphs(self.model, graphs, self.config.batch_size)["y"]

    def targets_in_model_space(self, targets: np.ndarray) -> np.ndarray:
        """Targets as the model predicts them: log10 applied, class labels as ints; [n, n_t]."""
        return self._targets(targets).numpy()

    def evaluate(self, graphs: list[CrystalGraph], targets: np.ndarray) -> dict[str, float]:
        """Metrics on a dataset, in the space the model predicts in."""
        return self.metrics(self.predict(graphs), self._targets(targets).numpy())

    def metrics(self, predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
        """Regression (MAE, RMSE, R²) or classification metrics of model-space arrays."""
        if self.classification:
            return classification_metrics(predicted, target)
        names = list(self.model.config.targets)
        return regression_metrics(predicted, target.reshape(predicted.shape), names)

    # -- training ---------------------------------------------------------
    def fit(
        self,
        train_graphs: list[CrystalGraph],
        train_targets: np.ndarray,
        val_graphs: list[CrystalGraph] | None = None,
        val_targets: np.ndarray | None = None,
    ) -> list[dict[str, float]]:
        """Train; returns the per-epoch history (also in ``log.csv``).

        Raises
        ------
        ParameterError
            NaN/inf targets, classification targets that are not class
            indices or hold one class only, or ``output_dir`` holding another
            run (different settings or data) or in use by another process.
        """
        if len(train_graphs) == 0:
            raise ParameterError("no training structures: give a larger training set or split")
        if val_graphs is not None and len(val_graphs) == 0:
            val_graphs, val_targets = None, None  # e.g. split 1,0,0: select by training loss
        y_train = self._targets(train_targets)
        if len(train_graphs) != len(y_train):
            raise ParameterError(
                f"got {len(train_graphs)} training graphs but {len(y_train)} targets"
            )
        if val_graphs is not None:
            self._targets(val_targets)  # fail now, not after the first epoch
        if self.classification and len(torch.unique(y_train)) < 2:
            name = self.model.config.targets[0]
            raise ParameterError(
                f"classification target {name!r} has one class only ({int(y_train[0])}) in the "
                f"{len(y_train)} training structures; a classifier needs examples of every "
                "class — check the target or its condition"
            )
        rank, _ = _process_group()
        if self.output_dir is None:
            return self._fit(train_graphs, y_train, val_graphs, val_targets)
        with _run_lock(self.output_dir, rank == 0):
            fingerprint = _run_fingerprint(self, train_graphs, y_train, val_graphs, val_targets)
            self._prepare_run(fingerprint)
            return self._fit(train_graphs, y_train, val_graphs, val_targets)

    def _fit(self, train_graphs, y_train, val_graphs, val_targets) -> list[dict[str, float]]:
        cfg = self.config
        if not self.classification:
            self.model.set_normalizer(y_train.mean(dim=0).numpy(), _safe_std(y_train))
        self._class_weights = None
        if self.classification and cfg.balanced_classes:
            counts = torch.bincount(y_train, minlength=self.model.config.n_outputs).double()
            weights = counts.sum() / (len(counts) * counts.clamp(min=1))
            self._class_weights = weights.to(next(self.model.parameters()).dtype)
        params = self.model.parameters()
        if cfg.optimizer == "adam":
            optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        else:
            optimizer = torch.optim.SGD(
                params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
            )
        progress_fraction = {"value": 0.0}  # of the run, by epochs or time
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: self._lr_factor(epoch, progress_fraction["value"])
        )
        generator = torch.Generator().manual_seed(cfg.seed)
        state = {"epoch": 0, "best": float("inf"), "best_epoch": -1, "elapsed": 0.0}
        self._resume(optimizer, scheduler, generator, state)
        # model selection: ROC AUC for two classes (accuracy is blind on rare
        # classes), accuracy for more, MAE for regression
        binary = self.classification and self.model.config.n_outputs == 2
        metric = ("roc_auc" if binary else "accuracy") if self.classification else "mae"
        sign = -1.0 if self.classification else 1.0
        now = time.process_time if cfg.clock == "cpu" else time.perf_counter
        run_start = now()  # max_time_s is this run's budget
        start_time = run_start - state["elapsed"]
        from tqdm import trange

        bar = trange(
            state["epoch"],
            cfg.epochs,
            desc="epochs",
            unit="epoch",
            disable=not self.progress,
            initial=state["epoch"],
            total=cfg.epochs,
        )
        rank, world = _process_group()
        net = self.model
        if world > 1:  # data parallel: each process takes its share of every batch
            net = nn.parallel.DistributedDataParallel(self.model)
        for epoch in bar:
            self.model.train()
            order = torch.randperm(len(train_graphs), generator=generator).tolist()
            losses = []
            for start in range(0, len(order), cfg.batch_size):
                idx = order[start : start + cfg.batch_size]
                if len(idx) < 2 * world and self.model.config.batch_norm:
                    continue  # batch norm needs at least two samples per process
                local = idx[rank::world]
                batch = model_batch(self.model, [train_graphs[i] for i in local])
                loss_sum = self._loss(net(batch), y_train[local])
                # DDP averages gradients over processes: scale so the result is
                # the gradient of the mean loss over the whole global batch.
                loss = loss_sum * (world / len(idx))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss_sum.detach().item() / len(local))
            if cfg.bn_recalibration_batches and self.model.config.batch_norm:
                recalibrate_batch_norm(
                    self.model,
                    [train_graphs[i] for i in order],  # this epoch's order: no extra RNG draw
                    cfg.batch_size,
                    cfg.bn_recalibration_batches,
                )
            elapsed_run = now() - run_start
            progress_fraction["value"] = max(
                (epoch + 1) / cfg.epochs,
                elapsed_run / cfg.max_time_s if cfg.max_time_s else 0.0,
            )
            scheduler.step()
            record = {
                "epoch": epoch + 1,
                "train_loss": float(np.mean(losses)),
                "lr": optimizer.param_groups[0]["lr"],
            }
            if val_graphs is not None:
                record.update(
                    {f"val_{k}": v for k, v in self.evaluate(val_graphs, val_targets).items()}
                )
            if f"val_{metric}" in record:
                score = sign * record[f"val_{metric}"]
            else:  # no validation set (or one class in it): the training loss
                score = record["train_loss"]
            improved = score < state["best"]
            if improved:
                state["best"], state["best_epoch"] = score, epoch + 1
            state["epoch"] = epoch + 1
            state["elapsed"] = now() - start_time
            record["time_s"] = state["elapsed"]
            self.history.append(record)
            if rank == 0:
                self._save(optimizer, scheduler, generator, state, record, improved)
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k.startswith("val_")})
            stop = cfg.patience is not None and epoch + 1 - state["best_epoch"] >= cfg.patience
            if cfg.max_time_s is not None and now() - run_start >= cfg.max_time_s:
                stop = True
            if _agree_to_stop(stop, world):
                break
        bar.close()
        if world > 1:
            torch.distributed.barrier()  # rank 0 has written the best model
        self.best_epoch = state["best_epoch"]
        if self.output_dir is not None and (self.output_dir / "best_model.pt").exists():
            from asegraph.models.checkpoint import load_model

            self.model.load_state_dict(load_model(self.output_dir / "best_model.pt").state_dict())
        elif getattr(self, "_best_state", None) is not None:
            self.model.load_state_dict(self._best_state)
        self.model.eval()
        return self.history

    def _lr_factor(self, epoch: int, fraction: float) -> float:
        cfg = self.config
        if cfg.lr_schedule == "step":
            return cfg.lr_gamma ** sum(epoch >= m for m in cfg.lr_milestones)
        if cfg.lr_schedule == "cosine":
            # a plain float: a numpy scalar would end up in the optimiser and
            # scheduler state, which weights-only checkpoint loading refuses
            return float(0.5 * (1.0 + math.cos(math.pi * min(fraction, 1.0))))
        return 1.0

    # -- persistence ------------------------------------------------------
    def _prepare_run(self, fingerprint: dict[str, Any]) -> None:
        """Clear (restart) or check ``output_dir`` against this run's fingerprint."""
        rank, world = _process_group()
        record = self.output_dir / RUN_RECORD
        fingerprint = json.loads(json.dumps(fingerprint))  # as it reads back from run.json
        if rank == 0:
            if self.restart:
                for name in (RUN_RECORD, "checkpoint.pt", "best_model.pt", "log.csv"):
                    (self.output_dir / name).unlink(missing_ok=True)
            stored = json.loads(record.read_text()) if record.is_file() else None
            if stored:
                stored = _with_settings_added_later(stored)
            if stored is None and (self.output_dir / "checkpoint.pt").exists():
                stored = {}  # a checkpoint of unknown origin is not resumed blindly
            if stored is not None and stored != fingerprint:
                raise ParameterError(_mismatch_message(self.output_dir, stored, fingerprint))
            if stored is None:
                atomic_write_text(record, json.dumps(fingerprint, indent=1) + "\n")
        if world > 1:
            torch.distributed.barrier()  # rank 0 has cleared or checked the folder

    def _save(self, optimizer, scheduler, generator, state, record, improved) -> None:
        if self.output_dir is None:
            if improved:
                self._best_state = {k: v.clone() for k, v in self.model.state_dict().items()}
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        meta = {  # keep what the model carries (e.g. a smooth-cutoff envelope)
            **getattr(self.model, "metadata", {}),
            "training": jsonsafe(asdict(self.config)),
            "epoch": state["epoch"],
        }
        if improved:
            save_model(self.model, self.output_dir / "best_model.pt", metadata=meta)
        log = self.output_dir / "log.csv"
        rows = self.history
        text = _csv_text(rows)
        atomic_write_bytes(log, lambda handle: handle.write(text.encode()))
        payload = {
            "model": self.model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "generator": generator.get_state(),
            "state": dict(state),
            "history": rows,
        }
        atomic_write_bytes(
            self.output_dir / "checkpoint.pt", lambda handle: torch.save(payload, handle)
        )

    def _resume(self, optimizer, scheduler, generator, state) -> None:
        if self.output_dir is None or not (self.output_dir / "checkpoint.pt").exists():
            return
        payload = torch.load(self.output_dir / "checkpoint.pt", weights_only=True)
        self.model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        generator.set_state(payload["generator"])
        state.update(payload["state"])
        self.history = list(payload["history"])


#: The file in a run folder that says which run it holds.
RUN_RECORD = "run.json"


def recalibrate_batch_norm(
    model: CGCNN, graphs: list[CrystalGraph], batch_size: int, n_batches: int
) -> None:
    """Recompute batch norm's running mean/variance from ``n_batches`` batches.

    Forward passes in training mode without gradients, with the running
    statistics reset and averaged over the batches (``momentum=None``), so
    eval mode normalises with statistics of the current weights ("precise
    batch norm"). Leaves the model in eval mode; weights are not touched.

    Parameters
    ----------
    model : CGCNN
    graphs : list of CrystalGraph
        Training graphs, taken in order (batches of ``batch_size``; a last
        batch of one graph is skipped: batch norm needs two).
    batch_size, n_batches : int
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    model.train()
    with torch.no_grad():
        for start in range(0, min(len(graphs), n_batches * batch_size), batch_size):
            chunk = graphs[start : start + batch_size]
            if len(chunk) >= 2:
                model(model_batch(model, chunk))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()


@contextmanager
def _run_lock(directory: Path, take: bool):
    """Hold an exclusive ``flock`` on ``directory/run.lock`` (freed on exit, even SIGKILL)."""
    if not take:  # data parallel: rank 0 holds it for the whole job
        yield
        return
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / "run.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ParameterError(
                f"training folder '{directory}' is in use by another training process; wait "
                "for it to finish or write to another output"
            ) from exc
        yield
    finally:
        os.close(fd)


def _run_fingerprint(trainer, train_graphs, y_train, val_graphs, val_targets) -> dict[str, Any]:
    """What makes two runs the same: model and training settings, and the data's hash.

    The time budget (and its clock) is left out: each (resumed) run gets its own.
    """
    digest = hashlib.sha256()
    graph_sets = [train_graphs] + ([val_graphs] if val_graphs is not None else [])
    for graphs in graph_sets:
        digest.update(str(len(graphs)).encode())
        for graph in graphs:
            for array in (graph.numbers, graph.positions, graph.cell, graph.edge_index):
                digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(y_train.numpy().tobytes())
    if val_targets is not None:
        digest.update(np.ascontiguousarray(val_targets, dtype=np.float64).tobytes())
    budget = ("max_time_s", "clock")
    training = {k: v for k, v in asdict(trainer.config).items() if k not in budget}
    return jsonsafe(
        {
            "model": trainer.model.config.to_dict(),
            "training": training,
            "data_sha256": digest.hexdigest(),
        }
    )


# Training settings added after run records were first written, each with the value
# that reproduces what runs recorded before it did: an older run folder then resumes
# with that value, and with the new default it is refused with a message naming it.
SETTINGS_ADDED_LATER = {"bn_recalibration_batches": 0, "init_from": None}


def _with_settings_added_later(stored: dict) -> dict:
    """A run record of an older asegraph, completed with :data:`SETTINGS_ADDED_LATER`."""
    training = stored.get("training")
    if not isinstance(training, dict):
        return stored
    return {**stored, "training": {**SETTINGS_ADDED_LATER, **training}}


def _mismatch_message(directory: Path, stored: dict, current: dict) -> str:
    def flat(d, prefix=""):
        out = {}
        for key, value in d.items():
            if isinstance(value, dict) and key in ("model", "training"):
                out.update(flat(value, ""))
            else:
                out[prefix + key] = value
        return out

    old, new = flat(stored), flat(current)
    keys = sorted(set(old) | set(new), key=lambda k: (k == "data_sha256", k))  # data last
    changed = [k for k in keys if old.get(k) != new.get(k)]
    if not stored:
        what = "a checkpoint without a run record (written by an older asegraph)"
    else:
        what = "; ".join(
            "the data differ" if k == "data_sha256" else f"{k} {old.get(k)!r} -> {new.get(k)!r}"
            for k in changed[:3]
        )
        what = f"another run ({what}{'; ...' if len(changed) > 3 else ''})"
    return (
        f"training folder '{directory}' holds {what}; resume it with the same settings and "
        "data, or start afresh with --restart (Trainer(restart=True))"
    )


def _process_group() -> tuple[int, int]:
    """(rank, world size) of an initialised torch.distributed group, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _agree_to_stop(stop: bool, world: int) -> bool:
    """Every process stops when rank 0 says so (time budgets differ by milliseconds)."""
    if world == 1:
        return stop
    flag = torch.tensor([1 if stop else 0])
    torch.distributed.broadcast(flag, src=0)
    return bool(flag.item())


def _safe_std(y: torch.Tensor) -> np.ndarray:
    std = y.std(dim=0).numpy() if len(y) > 1 else np.ones(y.shape[1])
    return np.where(std > 0, std, 1.0)


def _csv_text(rows: list[dict[str, float]]) -> str:
    import io

    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
