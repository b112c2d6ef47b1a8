"""Graph convolutions of CGCNN (thesis Eq. 2.4 and the gated Eq. 2.5).

Shapes: ``N`` atoms, ``E`` edges, ``A`` atom feature length, ``G`` edge
feature length. ``edge_index[0]`` is the sender ``j``, ``edge_index[1]`` the
receiver ``i``; messages are summed into receivers.
"""

from __future__ import annotations

import torch
from torch import nn

from asegraph.models.scatter import scatter_sum


class GatedConv(nn.Module):
    """Gated, residual convolution (Eq. 2.5) as in the published CGCNN models.

    ``z_ij = v_i ⊕ v_j ⊕ u_ij``;
    ``v_i' = softplus(v_i + BN(Σ_j σ(z W_f + b_f) ⊙ softplus(z W_s + b_s)))``,
    with a batch norm on the pre-activations of the edges as well. The final
    softplus and both batch norms are those of the published code, so its
    weights load unchanged (``fc_full`` holds ``[W_f | W_s]``).

    Parameters
    ----------
    atom_dim : int
        ``A``.
    edge_dim : int
        ``G``.
    batch_norm : bool, default True
    """

    def __init__(self, atom_dim: int, edge_dim: int, batch_norm: bool = True) -> None:
        super().__init__()
        self.atom_dim = atom_dim
        self.fc_full = nn.Linear(2 * atom_dim + edge_dim, 2 * atom_dim)
        self.bn1 = nn.BatchNorm1d(2 * atom_dim) if batch_norm else nn.Identity()
        self.bn2 = nn.BatchNorm1d(atom_dim) if batch_norm else nn.Identity()
        self.softplus = nn.Softplus()

    def forward(
        self, atoms: torch.Tensor, edges: torch.Tensor, edge_index: torch.Tensor
    ) -> torch.Tensor:
        """atoms [N, A], edges [E, G], edge_index [2, E] -> atoms [N, A]."""
        senders, receivers = edge_index
        # fc_full(v_i ⊕ v_j ⊕ u_ij) computed block-wise: the atom blocks once per
        # atom, then gathered, which is the same sum with ~3x fewer operations.
        a = self.atom_dim
        weight = self.fc_full.weight  # [2A, 2A+G]
        per_receiver = atoms @ weight[:, :a].T  # [N, 2A]
        per_sender = atoms @ weight[:, a : 2 * a].T  # [N, 2A]
        gated = torch.addmm(self.fc_full.bias, edges, weight[:, 2 * a :].T)  # [E, 2A]
        # index_select: ~3x faster than indexing with a tensor on CPU; same values
        gated += per_receiver.index_select(0, receivers)
        gated += per_sender.index_select(0, senders)
        gated = self.bn1(gated)
        gate, core = gated.chunk(2, dim=1)  # [E, A] each
        messages = torch.sigmoid(gate) * self.softplus(core)  # [E, A]
        summed = self.bn2(scatter_sum(messages, receivers, atoms.shape[0]))  # [N, A]
        return self.softplus(atoms + summed)


class SimpleConv(nn.Module):
    """The simple convolution of Eq. 2.4, one shared weight for every neighbour.

    ``v_i' = g(Σ_j (v_j ⊕ u_ij) W_c + v_i W_s + b)`` with ``g`` = softplus and
    an optional batch norm on the argument of ``g`` (on by default, for the same
    optimisation conditions as :class:`GatedConv`).
    """

    def __init__(self, atom_dim: int, edge_dim: int, batch_norm: bool = True) -> None:
        super().__init__()
        self.neighbour = nn.Linear(atom_dim + edge_dim, atom_dim, bias=False)  # W_c
        self.self_weight = nn.Linear(atom_dim, atom_dim)  # W_s, b
        self.bn = nn.BatchNorm1d(atom_dim) if batch_norm else nn.Identity()
        self.softplus = nn.Softplus()

    def forward(
        self, atoms: torch.Tensor, edges: torch.Tensor, edge_index: torch.Tensor
    ) -> torch.Tensor:
        """atoms [N, A], edges [E, G], edge_index [2, E] -> atoms [N, A]."""
        senders, receivers = edge_index
        messages = self.neighbour(torch.cat([atoms[senders], edges], dim=1))  # [E, A]
        summed = scatter_sum(messages, receivers, atoms.shape[0])  # [N, A]
        return self.softplus(self.bn(summed + self.self_weight(atoms)))


CONVOLUTIONS = {"gated": GatedConv, "simple": SimpleConv}
