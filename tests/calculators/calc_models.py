"""Small untrained CGCNN models for the calculator tests."""

from __future__ import annotations

import torch


def random_model(
    readout="site",
    targets=("energy_per_atom",),
    units=("eV/atom",),
    transforms=None,
    seed=0,
    **overrides,
):
    """A small untrained CGCNN (local seed: the global RNG state is restored)."""
    from asegraph.models.cgcnn import CGCNN, CGCNNConfig

    config = CGCNNConfig(
        targets=list(targets),
        units=list(units),
        target_transform=list(transforms or ["none"] * len(targets)),
        atom_features="embedding",
        atom_dim=8,
        n_conv=2,
        hidden_dim=8,
        readout=readout,
        n_hidden=1,
        **overrides,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = CGCNN(config)
        if readout == "pool":  # break the symmetry of a fresh model's bias-only output
            torch.nn.init.normal_(model.fc_out.weight, std=0.3)
    return model.eval()
