"""VAMP-2 training of :class:`~asegraph.analysis.dynamics.model.GDyNet`.

The loss is minus deeptime's torch VAMP-2 score
(:func:`deeptime.decomposition.deep.vamp_score`) between the softmax outputs of
frames ``t`` and ``t + lag`` of every target group (thesis Eq. 4.6). Only the
first ``K - 1`` softmax columns are scored: the ``K`` columns sum to one, so
their mean-free covariance is singular and a saturated, unused state makes
the backward pass of ``eigh`` NaN; the ``K - 1`` columns span the same space.

Frames are split into contiguous time blocks (train, validation, test); pairs
never cross a block boundary. Training stops early when the validation VAMP-2
has not improved for ``patience`` epochs, and a checkpoint written after
every epoch lets an interrupted fit resume where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from asegraph._utils.files import atomic_write_bytes
from asegraph.analysis.dynamics.graphs import GraphStore
from asegraph.analysis.dynamics.model import FrameBatch, GDyNet
from asegraph.exceptions import ModelFileError, ParameterError

#: Neighbour entries (rows x M) per forward pass when :meth:`GDyNetTrainer.transform`
#: chooses the batch (measured fastest on one CPU thread for 2,000 atoms x 12).
INFERENCE_EDGES = 50_000


@dataclass
class GraphData:
    """What the model reads: the graph store plus the static node layout.

    Attributes
    ----------
    store : GraphStore
        Neighbour tables [F, R, M] (node indices) and distances.
    node_species : ndarray of int64, shape (Nn,)
        Species index of every graph node.
    row_nodes : ndarray of int64, shape (R,)
        Node of every stored row.
    target_rows : ndarray of int64, shape (T,)
        Row of every target.
    group_index : ndarray of int64, shape (T,)
    """

    store: GraphStore
    node_species: np.ndarray
    row_nodes: np.ndarray
    target_rows: np.ndarray
    group_index: np.ndarray
    n_groups: int = field(init=False)

    def __post_init__(self) -> None:
        self.n_groups = int(self.group_index.max()) + 1

    def batch(self, frames: np.ndarray) -> FrameBatch:
        """Model input for ``frames`` [B]."""
        return FrameBatch(
            torch.from_numpy(self.node_species),
            torch.from_numpy(self.row_nodes),
            torch.from_numpy(self.target_rows),
            torch.from_numpy(self.store.neighbors[frames].astype(np.int64)),  # [B, R, M]
            torch.from_numpy(np.ascontiguousarray(self.store.distances[frames])),
            torch.from_numpy(self.group_index),
            self.n_groups,
        )


@dataclass
class Blocks:
    """Frames (indices into the analysed frames) of each role, as lists of ranges.

    Every range lies inside one independent trajectory; lag pairs are formed
    inside a range only.
    """

    train: list[range]
    validation: list[range]
    test: list[range]

    def as_lists(self) -> dict[str, list[tuple[int, int]]]:
        return {
            role: [(r.start, r.stop) for r in getattr(self, role)]
            for role in ("train", "validation", "test")
        }


def _check_fractions(fractions) -> tuple[float, float, float]:
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ParameterError(
            f"split must be three positive fractions summing to 1 (train, validation, test), "
            f"got {fractions}"
        )
    return fractions


def _cut(segment: range, fractions: tuple[float, ...]) -> list[range]:
    """Contiguous pieces of ``segment`` in the given proportions."""
    edges = np.round(np.cumsum((0.0,) + fractions) / sum(fractions) * len(segment)).astype(int)
    return [range(segment.start + a, segment.start + b) for a, b in zip(edges[:-1], edges[1:])]


def split_blocks(
    segments: int | list[range],
    fractions: tuple[float, float, float],
    lag: int,
    train_files: list[int] | None = None,
    test_files: list[int] | None = None,
    apply_only: bool = False,
) -> Blocks:
    """Train, validation and test frames; every range must be longer than ``lag``.

    Parameters
    ----------
    segments : int or list of range
        The analysed frames of each independent trajectory (an int: one of that
        many frames).
    fractions : (train, validation, test)
        One trajectory: contiguous time blocks in these proportions. Several:
        the training trajectories are cut train:validation in these proportions
        and the test trajectories are analysed whole.
    lag : int, frames
    train_files, test_files : list of int, optional
        Positions (0-based) of the training and test trajectories when there are
        several (default: train on the first, test on all the others, as the
        thesis' five independent runs: train on one, analyse four).
    apply_only : bool
        A trained model is applied: every frame of every trajectory is a test frame.
    """
    if isinstance(segments, int):
        segments = [range(segments)]
    fractions = _check_fractions(fractions)
    n = len(segments)
    for name, chosen in (("train_files", train_files), ("test_files", test_files)):
        bad = [i for i in chosen or [] if not 0 <= i < n]
        if bad:
            raise ParameterError(
                f"{name}: trajectory {bad[0] + 1} does not exist; there are {n} trajectory "
                f"files (counted from 1)"
            )
    if apply_only:
        blocks = Blocks([], [], list(segments))
    elif n == 1:
        blocks = Blocks(*[[r] for r in _cut(segments[0], fractions)])
    else:
        train = sorted(set(train_files if train_files else [0]))
        test = sorted(set(test_files) if test_files else set(range(n)) - set(train))
        if set(train) & set(test) or not test:
            raise ParameterError(
                f"train_files {[i + 1 for i in train]} and test_files {[i + 1 for i in test]} "
                f"must be disjoint and non-empty (trajectory files counted from 1)"
            )
        pieces = [_cut(segments[i], fractions[:2]) for i in train]
        blocks = Blocks([p[0] for p in pieces], [p[1] for p in pieces], [segments[i] for i in test])
    for role in ("train", "validation", "test"):
        for block in getattr(blocks, role):
            if len(block) <= lag:
                where = f" of trajectory {_file_of(block, segments) + 1}" if n > 1 else ""
                raise ParameterError(
                    f"the {role} block{where} has {len(block)} frames but lag={lag} frames; it "
                    f"needs more than lag frames — use a shorter lag or a longer trajectory "
                    f"(n_frames={sum(len(s) for s in segments)})"
                )
    return blocks


def _file_of(block: range, segments: list[range]) -> int:
    return next(i for i, s in enumerate(segments) if s.start <= block.start < s.stop)


def lag_pair_starts(blocks: list[range], lag: int) -> np.ndarray:
    """First frames of every lag pair inside the ranges (no pair crosses a range end)."""
    return np.concatenate(
        [np.arange(b.start, b.stop - lag) for b in blocks] or [np.zeros(0, dtype=int)]
    )


def vamp2_loss(chi_0: torch.Tensor, chi_t: torch.Tensor, mode: str = "regularize") -> torch.Tensor:
    """Minus the VAMP-2 score of the first K-1 softmax columns; chi_* [P, K]."""
    from deeptime.decomposition.deep import vamp_score

    k = chi_0.shape[1]
    return -vamp_score(chi_0[:, : k - 1], chi_t[:, : k - 1], method="VAMP2", mode=mode)


class GDyNetTrainer:
    """Fit a GDyNet on the training block, stop early on the validation block.

    Parameters
    ----------
    model : GDyNet
    data : GraphData
    lag : int, frames
    blocks : Blocks
        From :func:`split_blocks`.
    batch_frames : int
        Frame pairs per optimisation step (each brings ``n_groups`` pairs); for
        short trajectories it is lowered to give at least 8 steps per epoch
        (``batch_frames_used``).
    learning_rate : float
    max_epochs : int
    patience : int
        Epochs without validation improvement before stopping.
    seed : int
        Shuffling seed (the model's initial weights come from its own seed).
    checkpoint : path, optional
        Written after every epoch (temp + rename); :meth:`fit` resumes from it.
    """

    def __init__(
        self,
        model: GDyNet,
        data: GraphData,
        lag: int,
        blocks: Blocks,
        batch_frames: int = 32,
        learning_rate: float = 3e-3,
        max_epochs: int = 30,
        patience: int = 5,
        seed: int = 0,
        checkpoint: str | Path | None = None,
    ) -> None:
        self.model, self.data, self.lag, self.blocks = model, data, int(lag), blocks
        self.max_epochs, self.patience = max_epochs, patience
        self.batch_frames = batch_frames
        n_pairs = len(lag_pair_starts(blocks.train, self.lag))
        self.batch_frames_used = int(max(1, min(batch_frames, n_pairs // 8)))
        self.seed = seed
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
        self.rng = np.random.default_rng(seed)
        self.history: list[dict] = []
        self.epoch = 0
        self.best_score = -np.inf
        self.best_state = {k: v.clone() for k, v in model.state_dict().items()}

    def _pairs(self, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        chi = self.model(self.data.batch(np.concatenate([frames, frames + self.lag])))  # [2B,n,K]
        chi_0, chi_t = chi.chunk(2, dim=0)
        return chi_0.reshape(-1, chi.shape[2]), chi_t.reshape(-1, chi.shape[2])

    @torch.inference_mode()
    def transform(self, frames: np.ndarray | range, batch_frames: int | None = None) -> np.ndarray:
        """Softmax outputs (eval mode) for ``frames``: ndarray [F, n, K] float64.

        ``batch_frames`` frames go through the model at once (default: as many as
        keep one forward pass near ``INFERENCE_EDGES`` neighbour entries, so that its
        [edges, A] tensors stay cache-sized: ~30 % faster than 256 frames at once for
        2,000 atoms, and the result is the same).
        """
        self.model.eval()
        frames = np.asarray(frames)
        if batch_frames is None:
            _, n_rows, n_neighbors = self.data.store.neighbors.shape
            batch_frames = max(1, INFERENCE_EDGES // max(1, n_rows * n_neighbors))
        out = [
            self.model(self.data.batch(frames[i : i + batch_frames]))
            for i in range(0, len(frames), batch_frames)
        ]
        return torch.cat(out).double().numpy()

    def score(self, blocks: list[range]) -> float:
        """VAMP-2 score (K-1 columns, truncation mode) of all lag pairs inside ``blocks``."""
        pairs_0, pairs_t = [], []
        for block in blocks:
            chi = self.transform(block)
            pairs_0.append(chi[: -self.lag].reshape(-1, chi.shape[2]))
            pairs_t.append(chi[self.lag :].reshape(-1, chi.shape[2]))
        chi_0 = torch.from_numpy(np.concatenate(pairs_0))
        chi_t = torch.from_numpy(np.concatenate(pairs_t))
        return float(-vamp2_loss(chi_0, chi_t, mode="trunc"))

    def fit(self, progress: bool = False) -> GDyNetTrainer:
        """Train until early stopping or ``max_epochs``; returns self with the best weights."""
        if self.checkpoint is not None and self.checkpoint.exists():
            self._load()
        starts = lag_pair_starts(self.blocks.train, self.lag)
        batch = self.batch_frames_used
        epochs = range(self.epoch, self.max_epochs)
        if progress:
            from tqdm import tqdm

            epochs = tqdm(
                epochs,
                desc="GDyNet training",
                unit="epoch",
                initial=self.epoch,
                total=self.max_epochs,
            )
        for epoch in epochs:
            if self._stale() >= self.patience:
                break
            self.model.train()
            losses = []
            order = self.rng.permutation(starts)
            for i in range(0, max(len(order) - batch // 2, 1), batch):
                loss = vamp2_loss(*self._pairs(order[i : i + batch]))
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                losses.append(float(loss.detach()))
            validation = self.score(self.blocks.validation)
            if validation > self.best_score:
                self.best_score = validation
                self.best_state = {k: v.clone() for k, v in self.model.state_dict().items()}
            self.history.append(
                {
                    "epoch": epoch,
                    "train_vamp2": -float(np.mean(losses)),
                    "validation_vamp2": validation,
                }
            )
            self.epoch = epoch + 1
            if progress:
                epochs.set_postfix(val_vamp2=f"{validation:.4f}")
            if self.checkpoint is not None:
                self._save()
        self.model.load_state_dict(self.best_state)
        self.model.eval()
        return self

    def _stale(self) -> int:
        """Epochs since the best validation score."""
        scores = [h["validation_vamp2"] for h in self.history]
        return len(scores) - 1 - int(np.argmax(scores)) if scores else 0

    def _save(self) -> None:
        state = {
            "format": "asegraph-gdynet-checkpoint-1",
            "config": self.model.config,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "best_state": self.best_state,
            "best_score": self.best_score,
            "history": self.history,
            "epoch": self.epoch,
            "lag": self.lag,
            "seed": self.seed,
            "blocks": self.blocks.as_lists(),
            "rng": self.rng.bit_generator.state,
        }
        atomic_torch_save(state, self.checkpoint)

    def _load(self) -> None:
        state = load_checkpoint(self.checkpoint)
        blocks = self.blocks.as_lists()
        saved = state["blocks"]
        if isinstance(saved, dict):
            saved = {k: [tuple(b) for b in v] for k, v in saved.items()}
        if state["lag"] != self.lag or saved != blocks:
            raise ParameterError(
                f"checkpoint '{self.checkpoint}' was written for lag={state['lag']} frames and "
                f"blocks {state['blocks']}, not lag={self.lag} and {blocks}; delete it or use "
                f"the same settings"
            )
        # a checkpoint of other settings was a load_state_dict traceback (another --n-conv) or
        # was resumed as if it had them (another --seed or --lr: the old model came back)
        changed = [
            f"{key} {state['config'].get(key)!r} -> {value!r}"
            for key, value in self.model.config.items()
            if state["config"].get(key) != value
        ]
        if state["seed"] != self.seed:
            changed.append(f"seed {state['seed']} -> {self.seed}")
        saved_lr = state["optimizer"]["param_groups"][0]["lr"]
        lr = self.optimizer.param_groups[0]["lr"]
        if not np.isclose(saved_lr, lr, rtol=1e-12, atol=0.0):
            changed.append(f"learning rate {saved_lr:g} -> {lr:g}")
        if changed:
            raise ParameterError(
                f"checkpoint '{self.checkpoint}' was written with other settings "
                f"({'; '.join(changed)}); resume it with those, or delete it (or give another "
                "--checkpoint) to train afresh"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.best_state, self.best_score = state["best_state"], state["best_score"]
        self.history, self.epoch = state["history"], state["epoch"]
        self.rng.bit_generator.state = state["rng"]


def atomic_torch_save(obj, path: str | Path) -> None:
    """``torch.save`` to a temporary name beside ``path``, then rename."""
    atomic_write_bytes(path, lambda handle: torch.save(obj, handle))


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint or model file written by this module."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # torch raises pickle/runtime errors of several kinds
        from asegraph.models.checkpoint import load_failure

        raise ModelFileError(
            f"model file '{path}' cannot be read ({load_failure(exc)}); give the .pt that "
            "asegraph-dynamics wrote beside its .nc, or a --checkpoint it wrote"
        ) from exc
    if not isinstance(state, dict) or not str(state.get("format", "")).startswith(
        "asegraph-gdynet"
    ):
        raise ModelFileError(f"model file '{path}' is not a GDyNet file written by asegraph")
    return state
