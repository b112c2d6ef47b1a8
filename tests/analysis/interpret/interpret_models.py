"""Small structures and untrained models shared by the interpretation and explain CLI tests."""

from __future__ import annotations

import numpy as np
import torch
from ase import Atoms

from asegraph.models.cgcnn import CGCNN, CGCNNConfig


def perovskite(a_site: str, b_site: str, anions=("O", "O", "O"), a: float = 4.0) -> Atoms:
    """A cubic ABX3 cell with the A site listed LAST (so site detection can't rely on order)."""
    return Atoms(
        [b_site, *anions, a_site],
        scaled_positions=[
            [0.5, 0.5, 0.5],
            [0.5, 0.5, 0.0],
            [0.5, 0.0, 0.5],
            [0.0, 0.5, 0.5],
            [0.0, 0.0, 0.0],
        ],
        cell=np.eye(3) * a,
        pbc=True,
    )


def make_model(readout: str = "site", seed: int = 0, n_conv: int = 2) -> CGCNN:
    torch.manual_seed(seed)
    config = CGCNNConfig(
        atom_features="embedding",
        readout=readout,
        n_conv=n_conv,
        atom_dim=16,
        hidden_dim=16,
        targets=["energy_per_atom"],
        units=["eV/atom"],
    )
    model = CGCNN(config).double()
    model.set_normalizer([-1.0], [0.5])
    return model.eval()
