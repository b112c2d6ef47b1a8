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
from asegraph.models.scatter import scatter_mean


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


class TableGatedConv(GatedConv):
    """:class:`GatedConv` (Eq. 2.5) on a fixed-width neighbour table.

    Same parameters and maths as :class:`GatedConv`; because every row has
    exactly ``M`` neighbours, messages are laid out ``[R, M, A]``: the
    receiver term is broadcast instead of gathered per edge and the sum over
    neighbours is a reduction instead of a scatter. The gate and core halves
    of ``fc_full`` are kept as separate contiguous tensors: torch's
    element-wise kernels (sigmoid, softplus) run ~8x slower on the strided
    halves of one ``[R, M, 2A]`` tensor.
    """

    def half_weights(self, part: str) -> torch.Tensor:
        """Weight ``[2, A, width]`` of one input block of ``fc_full``.

        ``part`` is ``"receiver"`` (``v_i``), ``"sender"`` (``v_j``) or
        ``"edge"`` (``u_ij``); index 0 of the first axis is the gate half
        (sigmoid), 1 the core half (softplus). The bias is
        ``fc_full.bias.view(2, A)``.
        """
        a = self.atom_dim
        columns = {"receiver": slice(0, a), "sender": slice(a, 2 * a), "edge": slice(2 * a, None)}
        # contiguous: matrix products on the strided column block are several times slower
        return self.fc_full.weight[:, columns[part]].contiguous().view(2, a, -1)

    def forward_table(
        self,
        vectors: torch.Tensor,
        rows: torch.Tensor | None,
        partial: tuple[torch.Tensor, torch.Tensor],
        neighbors: torch.Tensor | None = None,
        add_receiver: bool = True,
    ) -> torch.Tensor:
        """New vectors of the rows.

        Parameters
        ----------
        vectors : Tensor (N, A)
        rows : LongTensor (R,) or None
            Rows of ``vectors`` to update (None: all, R = N).
        partial : (Tensor (R, M, A), Tensor (R, M, A))
            Gate and core halves of ``fc_full(v_i ⊕ v_j ⊕ u_ij)`` without the
            terms added here: at least ``u_ij W_e + b``; with ``v_j W_j`` when
            ``neighbors`` is None and with ``v_i W_i`` when ``add_receiver`` is
            False (terms the caller can fold into one matrix product). Used as
            scratch space when autograd is off.
        neighbors : LongTensor (R, M), optional
            Rows of ``vectors`` that are the neighbours (their term is added).
        add_receiver : bool
            Add the receiver term ``v_i W_i``.

        Returns
        -------
        Tensor (R, A)
        """
        own = vectors if rows is None else vectors[rows]  # [R, A]
        in_place = not torch.is_grad_enabled()  # reuse buffers: fewer passes over [R, M, A]
        pre = []
        for half, term in enumerate(partial):
            if neighbors is not None:
                sender = (vectors @ self.half_weights("sender")[half].T)[neighbors]  # [R, M, A]
                term = term.add_(sender) if in_place else term + sender
            if add_receiver:
                receiver = (own @ self.half_weights("receiver")[half].T)[:, None, :]  # [R, 1, A]
                term = term.add_(receiver) if in_place else term + receiver
            pre.append(term)
        gate, core = pre
        if not isinstance(self.bn1, nn.Identity):  # batch norm over both halves at once
            n_rows, n_neighbors, a = gate.shape
            both = self.bn1(torch.cat([gate, core], dim=2).reshape(-1, 2 * a))
            gate, core = (h.contiguous().view(n_rows, n_neighbors, a) for h in both.chunk(2, 1))
        if in_place:
            messages = gate.sigmoid_().mul_(self.softplus(core))  # [R, M, A]
        else:
            messages = torch.sigmoid(gate) * self.softplus(core)
        return self.softplus(own + self.bn2(messages.sum(dim=1)))  # [R, A]


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
        self.convs = nn.ModuleList(
            TableGatedConv(atom_dim, self.expansion.n_features, batch_norm) for _ in range(n_conv)
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
        flat = vectors.reshape(-1, vectors.shape[2])  # [B*T, A]
        if n_groups == len(batch.group_index) and bool(
            (batch.group_index == torch.arange(n_groups)).all()
        ):
            pooled = flat  # one target per group, in order: the mean is the vector itself
        else:
            frame_offset = torch.arange(n_frames)[:, None] * n_groups
            groups = (frame_offset + batch.group_index[None, :]).reshape(-1)  # [B*T]
            pooled = scatter_mean(flat, groups, n_frames * n_groups)
        return torch.softmax(self.head(pooled), dim=1).reshape(n_frames, n_groups, -1)

    def _edge_inputs(
        self, distances: torch.Tensor, row_species: torch.Tensor, neighbor_species: torch.Tensor
    ) -> torch.Tensor:
        """Per-neighbour inputs of the matrix products: distances [R, M] (Å), species [R],
        [R, M] -> [R*M, G + 2S] = Gaussians ⊕ one-hot(neighbour species) ⊕ one-hot(row
        species), so that the terms of type embeddings fold into the edge product."""
        n_species = self.embedding.num_embeddings
        n_rows, n_neighbors = distances.shape
        gaussians = self.expansion(distances.reshape(-1))  # [R*M, G]
        one_hot = torch.zeros(n_rows, n_neighbors, 2, n_species, dtype=gaussians.dtype)
        one_hot[:, :, 0].scatter_(2, neighbor_species[:, :, None], 1.0)
        one_hot[:, :, 1].scatter_(2, row_species[:, None, None].expand(-1, n_neighbors, 1), 1.0)
        return torch.cat([gaussians, one_hot.view(n_rows * n_neighbors, -1)], dim=1)

    def _partial_terms(
        self, layer: int, inputs: torch.Tensor, fold_sender: bool, fold_receiver: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gate and core halves [R, M, A] of ``u_ij W_e + b`` (+ the type-embedding terms of
        the neighbour and/or the row, one matrix product): inputs [R, M, G + 2S]."""
        conv = self.convs[layer]
        n_rows, n_neighbors, width = inputs.shape
        embedding = self.embedding.weight  # [S, A]
        blocks = [conv.half_weights("edge")]  # [2, A, G]
        if fold_sender:
            blocks.append(conv.half_weights("sender") @ embedding.T)  # [2, A, S]
        if fold_receiver:
            if not fold_sender:
                blocks.append(torch.zeros_like(blocks[0][:, :, : len(embedding)]))
            blocks.append(conv.half_weights("receiver") @ embedding.T)
        weight = torch.cat(blocks, dim=2)  # [2, A, K]
        columns = inputs.reshape(-1, width)[:, : weight.shape[2]]  # [R*M, K]
        bias = conv.fc_full.bias.view(2, -1)
        return tuple(
            torch.addmm(bias[h], columns, weight[h].T).view(n_rows, n_neighbors, -1)
            for h in range(2)
        )

    def _first_shell(self, batch: FrameBatch) -> torch.Tensor:
        n_frames, n_rows, n_neighbors = batch.neighbors.shape
        row_species = batch.node_species[batch.row_nodes].repeat(n_frames)  # [B*R]
        vectors = self.embedding(row_species)  # [B*R, A]
        neighbor_species = batch.node_species[batch.neighbors.reshape(n_frames * n_rows, -1)]
        inputs = self._edge_inputs(
            batch.distances.reshape(n_frames * n_rows, -1), row_species, neighbor_species
        ).view(n_frames * n_rows, n_neighbors, -1)
        for layer, conv in enumerate(self.convs):
            # neighbours keep their type embedding: its term folds into the edge product
            partial = self._partial_terms(layer, inputs, True, layer == 0)
            vectors = conv.forward_table(vectors, None, partial, add_receiver=layer > 0)
        return vectors.reshape(n_frames, n_rows, -1)[:, batch.target_rows]

    def _multi_shell(self, batch: FrameBatch) -> torch.Tensor:
        n_frames, n_rows, n_neighbors = batch.neighbors.shape
        n_nodes = len(batch.node_species)
        if n_rows != n_nodes:
            raise ValueError(f"multi-shell input needs a row per node ({n_nodes}), got {n_rows}")
        species = batch.node_species.repeat(n_frames)  # [B*Nn]
        vectors = self.embedding(species)  # [B*Nn, A]
        offset = torch.arange(n_frames)[:, None, None] * n_nodes
        neighbors = (batch.neighbors + offset).reshape(n_frames * n_nodes, -1)  # [B*Nn, M]
        distances = batch.distances.reshape(n_frames * n_nodes, -1)  # [B*Nn, M], Å
        # rows each convolution must update: within (L - l) hops of a target
        needed = [torch.zeros(n_frames * n_nodes, dtype=torch.bool)]
        needed[0].view(n_frames, n_nodes)[:, batch.target_rows] = True
        for _ in range(len(self.convs) - 1):
            grown = needed[-1].clone()
            grown[neighbors[needed[-1]].reshape(-1)] = True
            needed.append(grown)
        needed.reverse()  # needed[l]: rows updated by convolution l
        rows = [None if bool(m.all()) else torch.nonzero(m).squeeze(1) for m in needed]
        # edge inputs only for the rows of the first convolution (a superset of the others)
        first = rows[0]
        if first is None:
            inputs = self._edge_inputs(distances, species, species[neighbors])
        else:
            inputs = self._edge_inputs(distances[first], species[first], species[neighbors[first]])
            position = torch.full((n_frames * n_nodes,), -1, dtype=torch.long)
            position[first] = torch.arange(len(first))
        inputs = inputs.view(-1, n_neighbors, inputs.shape[1])  # [R_0, M, G + 2S]
        for layer, (conv, index) in enumerate(zip(self.convs, rows)):
            # rows of ``inputs`` for this convolution
            local = index if index is None or first is None else position[index]
            if local is not None and len(local) == len(inputs):
                local = None  # the rows of the first convolution, in order
            index_inputs = inputs if local is None else inputs[local]  # [R_l, M, G + 2S]
            # layer 0: every vector is a type embedding, so both atom terms fold in
            partial = self._partial_terms(layer, index_inputs, layer == 0, layer == 0)
            nbrs = None if layer == 0 else neighbors if index is None else neighbors[index]
            new = conv.forward_table(vectors, index, partial, nbrs, add_receiver=layer > 0)
            # rows outside the receptive field keep unused values
            vectors = new if index is None else vectors.index_copy(0, index, new)
        return vectors.reshape(n_frames, n_nodes, -1)[:, batch.target_rows]


def build_model(config: dict, seed: int) -> GDyNet:
    """A :class:`GDyNet` whose initial weights depend only on ``seed`` (no global seeding)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GDyNet(**config)
