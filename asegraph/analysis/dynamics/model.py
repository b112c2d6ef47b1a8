"""The graph dynamical network (thesis ch. 4.2, Eqs. 4.4–4.6).

Shapes: ``B`` frames, ``Nn`` graph nodes (targets and the atoms allowed as
neighbours), ``R`` stored rows per frame, ``T`` target atoms, ``M``
neighbours per row, ``n`` target groups, ``A`` atom feature length, ``G``
Gaussian edge features, ``K`` states.

``receptive_field="multi-shell"`` (default, Eq. 4.4): every node starts from
its type embedding and every node is convolved with the gated convolution of
Eq. 2.5 (:class:`asegraph.models.layers.GatedConv`), so after ``n_conv``
convolutions a target's vector carries information from its ``n_conv``-th
neighbour shell. Only the nodes inside the targets' receptive field are
computed: convolution ``l`` (of ``L``) updates the nodes within ``L - l``
hops of a target, the last one the targets alone (same result, less work).

``receptive_field="first-shell"``: only the targets are updated; neighbours
keep their raw type embedding, so stacked convolutions refine the target from
the same first shell. Cost ``O(B T M)`` independent of the other atoms; the
faster option, for systems whose slow process shows in the first shell.

Target vectors are averaged per group (Eq. 4.5, a molecule or a single atom),
and a shared output layer with a softmax gives the K-state feature vector
``chi`` (Eq. 4.6).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from asegraph.graph.features import GaussianDistance
from asegraph.models.layers import GatedConv
from asegraph.models.scatter import scatter_mean, scatter_sum


class FrameBatch(NamedTuple):
    """Model input for ``B`` frames.

    Attributes
    ----------
    node_species : LongTensor (Nn,)
    row_nodes : LongTensor (R,)
        Node of each stored row (all nodes, or the targets in first-shell mode).
    target_rows : LongTensor (T,)
        Row of each target.
    neighbors : LongTensor (B, R, M)
        Node index of each neighbour.
    distances : Tensor (B, R, M), Å
    group_index : LongTensor (T,)
        Group 0..n-1 of each target.
    n_groups : int
    """

    node_species: torch.Tensor
    row_nodes: torch.Tensor
    target_rows: torch.Tensor
    neighbors: torch.Tensor
    distances: torch.Tensor
    group_index: torch.Tensor
    n_groups: int


class TargetGatedConv(GatedConv):
    """:class:`GatedConv` (Eq. 2.5) that updates only the receivers (targets).

    Same parameters and maths as :class:`GatedConv`; the senders are given as
    their own rows (one per edge) instead of being looked up in the receivers'
    table, so non-target atoms need no vector of their own.
    """

    def forward(  # type: ignore[override]
        self,
        targets: torch.Tensor,
        senders: torch.Tensor,
        edges: torch.Tensor,
        receivers: torch.Tensor,
    ) -> torch.Tensor:
        """targets [R, A], senders [E, A], edges [E, G], receivers [E] -> targets [R, A]."""
        # fc_full(v_i ⊕ v_j ⊕ u_ij), with the v_i part computed once per receiver
        a = self.atom_dim
        weight = self.fc_full.weight  # [2A, 2A+G]
        from_receiver = targets @ weight[:, :a].T  # [R, 2A]
        from_sender = senders @ weight[:, a : 2 * a].T  # [E, 2A]
        pre = from_receiver[receivers] + from_sender + edges @ weight[:, 2 * a :].T
        gate, core = self.bn1(pre + self.fc_full.bias).chunk(2, dim=1)  # [E, A] each
        messages = torch.sigmoid(gate) * self.softplus(core)  # [E, A]
        summed = self.bn2(scatter_sum(messages, receivers, targets.shape[0]))  # [R, A]
        return self.softplus(targets + summed)


class GDyNet(nn.Module):
    """Graph dynamical network: local environment of each target group -> K-state softmax.

    Parameters
    ----------
    n_species : int
        Number of distinct species labels (rows of the type embedding).
    n_states : int
        ``K`` >= 2.
    atom_dim : int
        ``A``.
    n_conv : int
        Number of gated convolutions.
    hidden_dim : int
        Width of the hidden layer before the softmax.
    cutoff : float, Å
        Upper end of the Gaussian distance expansion.
    gaussian_step : float, Å
        Spacing and width of the Gaussians.
    batch_norm : bool
        Batch norms inside the convolutions (as in CGCNN). Off by default: with
        them, the eval-mode outputs (running statistics) moved the learned state
        boundary from epoch to epoch on the toy system (validation VAMP-2
        jumping between 1.04 and 1.45 while training VAMP-2 rose steadily).
    receptive_field : {"multi-shell", "first-shell"}
        See the module docstring.
    """

    def __init__(
        self,
        n_species: int,
        n_states: int,
        atom_dim: int = 16,
        n_conv: int = 2,
        hidden_dim: int = 16,
        cutoff: float = 6.0,
        gaussian_step: float = 0.2,
        batch_norm: bool = False,
        receptive_field: str = "multi-shell",
    ) -> None:
        super().__init__()
        from asegraph.analysis.dynamics.graphs import RECEPTIVE_FIELDS

        if receptive_field not in RECEPTIVE_FIELDS:
            raise ValueError(
                f"receptive_field must be one of {RECEPTIVE_FIELDS}, got {receptive_field!r}"
            )
        self.config = {
            "n_species": n_species,
            "n_states": n_states,
            "atom_dim": atom_dim,
            "n_conv": n_conv,
            "hidden_dim": hidden_dim,
            "cutoff": cutoff,
            "gaussian_step": gaussian_step,
            "batch_norm": batch_norm,
            "receptive_field": receptive_field,
        }
        self.multi_shell = receptive_field == "multi-shell"
        self.embedding = nn.Embedding(n_species, atom_dim)
        self.expansion = GaussianDistance(0.0, cutoff, gaussian_step, gaussian_step)
        conv = GatedConv if self.multi_shell else TargetGatedConv
        self.convs = nn.ModuleList(
            conv(atom_dim, self.expansion.n_features, batch_norm) for _ in range(n_conv)
        )
        self.head = nn.Sequential(
            nn.Linear(atom_dim, hidden_dim), nn.Softplus(), nn.Linear(hidden_dim, n_states)
        )

    def forward(self, batch: FrameBatch) -> torch.Tensor:
        """State probabilities ``chi`` of every target group in every frame: [B, n, K]."""
        n_frames, n_rows, n_neighbors = batch.neighbors.shape
        if self.multi_shell:
            vectors = self._multi_shell(batch)  # [B, T, A]
        else:
            vectors = self._first_shell(batch)
        n_groups = batch.n_groups
        frame_offset = torch.arange(n_frames)[:, None] * n_groups
        groups = (frame_offset + batch.group_index[None, :]).reshape(-1)  # [B*T]
        pooled = scatter_mean(vectors.reshape(-1, vectors.shape[2]), groups, n_frames * n_groups)
        return torch.softmax(self.head(pooled), dim=1).reshape(n_frames, n_groups, -1)

    def _first_shell(self, batch: FrameBatch) -> torch.Tensor:
        n_frames, n_rows, n_neighbors = batch.neighbors.shape
        row_species = batch.node_species[batch.row_nodes]  # [R]
        vectors = self.embedding(row_species).repeat(n_frames, 1)  # [B*R, A]
        senders = self.embedding(batch.node_species[batch.neighbors.reshape(-1)])  # [E, A]
        edges = self.expansion(batch.distances.reshape(-1))  # [E, G]
        receivers = torch.arange(n_frames * n_rows).repeat_interleave(n_neighbors)  # [E]
        for conv in self.convs:
            vectors = conv(vectors, senders, edges, receivers)  # [B*R, A]
        return vectors.reshape(n_frames, n_rows, -1)[:, batch.target_rows]

    def _multi_shell(self, batch: FrameBatch) -> torch.Tensor:
        n_frames, n_rows, n_neighbors = batch.neighbors.shape
        n_nodes = len(batch.node_species)
        if n_rows != n_nodes:
            raise ValueError(f"multi-shell input needs a row per node ({n_nodes}), got {n_rows}")
        vectors = self.embedding(batch.node_species).repeat(n_frames, 1)  # [B*Nn, A]
        offset = torch.arange(n_frames)[:, None, None] * n_nodes
        senders = (batch.neighbors + offset).reshape(-1)  # [E] flat node index
        receivers = torch.arange(n_frames * n_nodes).repeat_interleave(n_neighbors)  # [E]
        distances = batch.distances.reshape(-1)  # [E], Å
        # rows each convolution must update: within (L - l) hops of a target
        needed = [torch.zeros(n_frames * n_nodes, dtype=torch.bool)]
        needed[0].view(n_frames, n_nodes)[:, batch.target_rows] = True
        for _ in range(len(self.convs) - 1):
            grown = needed[-1].clone()
            grown[senders.view(-1, n_neighbors)[needed[-1]].reshape(-1)] = True
            needed.append(grown)
        needed.reverse()
        edges_all = None
        for conv, rows in zip(self.convs, needed):
            if bool(rows.all()):
                if edges_all is None:
                    edges_all = self.expansion(distances)  # [E, G]
                edges, index = edges_all, torch.stack([senders, receivers])
            else:
                keep = rows.repeat_interleave(n_neighbors)  # [E]
                edges = self.expansion(distances[keep])
                index = torch.stack([senders[keep], receivers[keep]])
            vectors = conv(vectors, edges, index)  # [B*Nn, A]; rows outside stay unused
        return vectors.reshape(n_frames, n_nodes, -1)[:, batch.target_rows]


def build_model(config: dict, seed: int) -> GDyNet:
    """A :class:`GDyNet` whose initial weights depend only on ``seed`` (no global seeding)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GDyNet(**config)
