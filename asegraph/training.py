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
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from asegraph._utils.files import atomic_write_bytes
from asegraph._utils.jsonsafe import jsonsafe
from asegraph.exceptions import ParameterError
from asegraph.graph.crystal_graph import CrystalGraph
from asegraph.models.cgcnn import CGCNN
from asegraph.models.checkpoint import save_model
from asegraph.models.inference import model_batch


@dataclass
class TrainingConfig:
    """Optimisation settings.

    ``max_time_s`` is a wall-clock budget in seconds for one run (a resumed
    run gets a fresh budget): training stops cleanly after the epoch that
    exceeds it and keeps the best model. ``balanced_classes`` weights the
    classification loss by inverse class frequency (for rare classes, e.g. the
    4 % of perovskites with a gap). ``lr_schedule`` is "constant",
    "step" (multiply by ``lr_gamma`` at each of ``lr_milestones``) or
    "cosine" (anneal to zero over ``epochs``, or over ``max_time_s`` when that
    comes first, so a time-limited run still ends annealed). ``patience`` is
    the number of epochs without validation improvement before stopping
    (``None``: never stop early).
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
    seed: int = 0
    balanced_classes: bool = False

    def validate(self) -> None:
        if self.optimizer not in ("adam", "sgd"):
            raise ParameterError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ParameterError(f"lr must be positive, got {self.lr}")
        if self.lr_schedule not in ("constant", "step", "cosine"):
            raise ParameterError(
                f"lr_schedule must be 'constant', 'step' or 'cosine', got {self.lr_schedule!r}"
            )


def regression_metrics(predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and R² averaged over targets; arrays [n, n_targets]."""
    error = predicted - target
    ss_res = (error**2).sum(axis=0)
    ss_tot = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    r2 = 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, np.nan)
    return {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "r2": float(np.nanmean(r2)) if np.isfinite(r2).any() else float("nan"),
    }


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
    """

    def __init__(
        self,
        model: CGCNN,
        config: TrainingConfig | None = None,
        output_dir: str | Path | None = None,
        progress: bool = True,
    ) -> None:
        self.model = model
        self.config = config or TrainingConfig()
        self.config.validate()
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.progress = progress
        self.history: list[dict[str, float]] = []
        self.classification = model.config.task == "classification"
        self._class_weights: torch.Tensor | None = None

    # -- data -------------------------------------------------------------
    def _targets(self, targets: np.ndarray) -> torch.Tensor:
        array = np.asarray(targets)
        if self.classification:
            return torch.as_tensor(array.reshape(-1), dtype=torch.long)
        array = array.reshape(len(array), -1).astype(np.float64)
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

    @torch.no_grad()
    def predict(self, graphs: list[CrystalGraph]) -> np.ndarray:
        """Model outputs [n, n_out] (log10 space for log10 targets)."""
        self.model.eval()
        out = []
        for start in range(0, len(graphs), self.config.batch_size):
            batch = model_batch(self.model, graphs[start : start + self.config.batch_size])
            out.append(self.model(batch)["y"].double().cpu().numpy())
        return np.concatenate(out)

    def evaluate(self, graphs: list[CrystalGraph], targets: np.ndarray) -> dict[str, float]:
        """Metrics on a dataset, in the space the model predicts in."""
        predicted = self.predict(graphs)
        target = self._targets(targets).numpy()
        if self.classification:
            return classification_metrics(predicted, target)
        return regression_metrics(predicted, target.reshape(predicted.shape))

    # -- training ---------------------------------------------------------
    def fit(
        self,
        train_graphs: list[CrystalGraph],
        train_targets: np.ndarray,
        val_graphs: list[CrystalGraph] | None = None,
        val_targets: np.ndarray | None = None,
    ) -> list[dict[str, float]]:
        """Train; returns the per-epoch history (also in ``log.csv``)."""
        cfg = self.config
        y_train = self._targets(train_targets)
        if len(train_graphs) != len(y_train):
            raise ParameterError(
                f"got {len(train_graphs)} training graphs but {len(y_train)} targets"
            )
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
        run_start = time.perf_counter()  # max_time_s is this run's budget
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
            elapsed_run = time.perf_counter() - run_start
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
            state["elapsed"] = time.perf_counter() - start_time
            record["time_s"] = state["elapsed"]
            self.history.append(record)
            if rank == 0:
                self._save(optimizer, scheduler, generator, state, record, improved)
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k.startswith("val_")})
            stop = cfg.patience is not None and epoch + 1 - state["best_epoch"] >= cfg.patience
            if cfg.max_time_s is not None and time.perf_counter() - run_start >= cfg.max_time_s:
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
            return 0.5 * (1.0 + np.cos(np.pi * min(fraction, 1.0)))
        return 1.0

    # -- persistence ------------------------------------------------------
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
