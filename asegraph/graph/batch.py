"""Batches of crystal graphs as flat torch tensors (no padding)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from asegraph.graph.crystal_graph import CrystalGraph


@dataclass
class GraphBatch:
    """Several crystal graphs concatenated into one disconnected graph.

    Attributes
    ----------
    numbers : LongTensor, shape (N,)
    positions : Tensor, shape (N, 3), Å
    cell : Tensor, shape (B, 3, 3), Å
    pbc : BoolTensor, shape (B, 3)
    edge_index : LongTensor, shape (2, E)
        Global atom indices; row 0 sender, row 1 receiver.
    unit_shifts : Tensor, shape (E, 3)
        Integer image shifts stored in the float dtype of ``positions``.
    distances : Tensor, shape (E,), Å
    batch : LongTensor, shape (N,)
        Index of the structure each atom belongs to.
    n_atoms : LongTensor, shape (B,)
    """

    numbers: torch.Tensor
    positions: torch.Tensor
    cell: torch.Tensor
    pbc: torch.Tensor
    edge_index: torch.Tensor
    unit_shifts: torch.Tensor
    distances: torch.Tensor
    batch: torch.Tensor
    n_atoms: torch.Tensor

    @property
    def n_structures(self) -> int:
        return int(self.n_atoms.shape[0])

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        """Move to ``device`` and cast floating tensors to ``dtype``; returns a new batch."""
        moved = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if dtype is not None and value.is_floating_point():
                value = value.to(device=device, dtype=dtype)
            else:
                value = value.to(device=device)
            moved[f.name] = value
        return GraphBatch(**moved)

    def edge_vectors(self) -> torch.Tensor:
        """Edge vectors from receiver to the sender's image, shape (E, 3), Å.

        Differentiable with respect to ``positions`` and ``cell``: use it
        instead of ``distances`` when forces or stress are needed.
        """
        senders, receivers = self.edge_index
        edge_cell = self.cell[self.batch[receivers]]  # [E, 3, 3]
        shift = torch.einsum("ek,ekl->el", self.unit_shifts, edge_cell)
        return self.positions[senders] - self.positions[receivers] + shift


def collate(graphs: Sequence[CrystalGraph], dtype: torch.dtype = torch.float64) -> GraphBatch:
    """Concatenate graphs into a :class:`GraphBatch`.

    Parameters
    ----------
    graphs : sequence of CrystalGraph
    dtype : torch.dtype, default float64
        Dtype of positions, cell, shifts and distances.
    """
    if len(graphs) == 0:
        raise ValueError("collate needs at least one graph, got an empty sequence")
    n_atoms = np.array([g.n_atoms for g in graphs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
    edge_index = np.concatenate([g.edge_index + off for g, off in zip(graphs, offsets)], axis=1)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(g, name) for g in graphs])

    return GraphBatch(
        numbers=torch.from_numpy(cat("numbers")),
        positions=torch.from_numpy(cat("positions")).to(dtype),
        cell=torch.from_numpy(np.stack([g.cell for g in graphs])).to(dtype),
        pbc=torch.from_numpy(np.stack([g.pbc for g in graphs])),
        edge_index=torch.from_numpy(edge_index),
        unit_shifts=torch.from_numpy(cat("unit_shifts")).to(dtype),
        distances=torch.from_numpy(cat("distances")).to(dtype),
        batch=torch.from_numpy(np.repeat(np.arange(len(graphs)), n_atoms)),
        n_atoms=torch.from_numpy(n_atoms),
    )
