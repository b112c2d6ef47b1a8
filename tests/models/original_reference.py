"""An independent re-implementation of the original CGCNN inference path.

Used only by tests: graphs from pymatgen's ``get_all_neighbors`` (as the
original code builds them), the padded ``[N, M]`` neighbour layout, and the
original forward pass written directly on the checkpoint's tensors. It shares
no code with asegraph's graph or model, so agreement is a real check.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def padded_neighbours(structure, radius: float = 8.0, max_nbr: int = 12):
    """Indices [N, M] and distances [N, M] of the M nearest, pymatgen's order for ties."""
    all_nbrs = structure.get_all_neighbors(radius, include_index=True)
    all_nbrs = [sorted(nbrs, key=lambda x: x[1]) for nbrs in all_nbrs]
    index, dist = [], []
    for nbrs in all_nbrs:
        nbrs = nbrs[:max_nbr]
        index.append([n[2] for n in nbrs])
        dist.append([n[1] for n in nbrs])
    return np.array(index), np.array(dist)


def is_ambiguous(structure, radius=8.0, max_nbr=12, tol=1e-6) -> bool:
    """True if the M nearest are not determined by geometry and element alone.

    That is: some atom's M-th and (M+1)-th neighbours are tied within ``tol``
    and the tied group holds more than one element, so which of them make
    the cut changes what the convolution sums.
    """
    for nbrs in structure.get_all_neighbors(radius):
        nbrs = sorted(nbrs, key=lambda x: x[1])
        if len(nbrs) <= max_nbr:
            continue
        boundary = nbrs[max_nbr - 1].nn_distance
        if nbrs[max_nbr].nn_distance - boundary >= tol:
            continue
        tied = {n.specie.number for n in nbrs if abs(n.nn_distance - boundary) < tol}
        if len(tied) > 1:
            return True
    return False


def original_predict(checkpoint: dict, atom_init: dict, structure) -> float:
    """The original model's (denormalised) regression output for one structure."""
    sd = {k: v.double() for k, v in checkpoint["state_dict"].items()}
    index, dist = padded_neighbours(structure)
    atom_fea = torch.tensor(
        np.array([atom_init[str(site.specie.number)] for site in structure]), dtype=torch.float64
    )
    centres = torch.arange(0, 8.0 + 0.2, 0.2, dtype=torch.float64)
    nbr_fea = torch.exp(-((torch.tensor(dist)[..., None] - centres) ** 2) / 0.2**2)
    idx = torch.tensor(index)

    def bn(x, prefix):
        return F.batch_norm(
            x,
            sd[f"{prefix}.running_mean"],
            sd[f"{prefix}.running_var"],
            sd[f"{prefix}.weight"],
            sd[f"{prefix}.bias"],
            False,
            0.0,
            1e-5,
        )

    x = atom_fea @ sd["embedding.weight"].T + sd["embedding.bias"]
    n, m = idx.shape
    k = 0
    while f"convs.{k}.fc_full.weight" in sd:
        p = f"convs.{k}"
        total = torch.cat([x[:, None, :].expand(n, m, x.shape[1]), x[idx], nbr_fea], dim=2)
        gated = total @ sd[f"{p}.fc_full.weight"].T + sd[f"{p}.fc_full.bias"]
        gated = bn(gated.reshape(n * m, -1), f"{p}.bn1").reshape(n, m, -1)
        gate, core = gated.chunk(2, dim=2)
        summed = bn((torch.sigmoid(gate) * F.softplus(core)).sum(dim=1), f"{p}.bn2")
        x = F.softplus(x + summed)
        k += 1
    crystal = x.mean(dim=0, keepdim=True)
    crystal = F.softplus(F.softplus(crystal) @ sd["conv_to_fc.weight"].T + sd["conv_to_fc.bias"])
    out = crystal @ sd["fc_out.weight"].T + sd["fc_out.bias"]
    norm = checkpoint["normalizer"]
    return float(out[0, 0]) * norm["std"] + norm["mean"]
