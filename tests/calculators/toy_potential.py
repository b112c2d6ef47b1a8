"""A toy rock-salt potential, and small CGCNN potentials trained on it (test helpers).

The published CGCNN energy model was trained on relaxed Materials Project
structures: it is not a potential (it has no minimum near rock salt, and its
12-nearest-neighbour graph breaks the symmetry of the 18-atom shell of rock
salt). Relaxation and MD tests therefore use a small CGCNN trained, in a few
seconds, on a pair potential whose minimum is rock-salt "NaCl":

* unlike pairs: Morse, ``D (exp(-2α(r-r0)) - 2 exp(-α(r-r0)))``;
* like pairs: Born–Mayer repulsion ``A exp(-r/ρ)``;

both times a smooth taper to zero at 6 Å.
"""

from __future__ import annotations

import numpy as np
import torch
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

D, ALPHA, R0 = 1.0, 1.4, 2.8  # eV, 1/Å, Å
A_REP, RHO = 800.0, 0.42  # eV, Å
R_CUT = 6.0  # Å
A0 = 2 * R0  # approximate rock-salt lattice constant, Å


def pair_energy(atoms: Atoms) -> float:
    """Energy of the toy potential, eV."""
    i, j, d = neighbor_list("ijd", atoms, R_CUT)
    unlike = atoms.numbers[i] != atoms.numbers[j]
    x = d / R_CUT
    taper = (1 - x**2) ** 3
    morse = D * (np.exp(-2 * ALPHA * (d - R0)) - 2 * np.exp(-ALPHA * (d - R0)))
    repulsion = A_REP * np.exp(-d / RHO)
    return float(0.5 * np.sum(np.where(unlike, morse, repulsion) * taper))


def rocksalt(a: float = A0, repeat: int = 1) -> Atoms:
    """Cubic 8-atom "NaCl" cell, optionally repeated."""
    return bulk("NaCl", "rocksalt", a=a, cubic=True).repeat(repeat)


def dataset(n: int, rng: np.random.Generator) -> list[Atoms]:
    """Strained, rattled rock-salt cells with ``info["energy_per_atom"]``."""
    frames = []
    for _ in range(n):
        atoms = rocksalt(A0 * rng.uniform(0.94, 1.08))
        strain = np.eye(3) + rng.uniform(-0.03, 0.03, (3, 3))
        atoms.set_cell(atoms.cell.array @ strain, scale_atoms=True)
        atoms.positions += rng.normal(0.0, rng.uniform(0.0, 0.15), atoms.positions.shape)
        atoms.info["energy_per_atom"] = pair_energy(atoms) / len(atoms)
        frames.append(atoms)
    return frames


def train_potential(smooth: bool, n_structures: int = 300, epochs: int = 40, seed: int = 0):
    """A small per-atom CGCNN fitted to the toy potential.

    ``smooth=True``: a 5 Å radius graph (``max_neighbors=64``) with the
    polynomial envelope; ``smooth=False``: the published models' 12-nearest
    graph within 8 Å. Seeds are local (``torch.random.fork_rng``).
    """
    from asegraph.models.cgcnn import CGCNN, CGCNNConfig
    from asegraph.models.envelope import with_envelope
    from asegraph.models.inference import model_graphs
    from asegraph.training import Trainer, TrainingConfig

    rng = np.random.default_rng(seed)
    frames = dataset(n_structures, rng)
    cutoff = 5.0 if smooth else 8.0
    config = CGCNNConfig(
        targets=["energy_per_atom"],
        units=["eV/atom"],
        atom_features="embedding",
        atom_dim=16,
        n_conv=2,
        hidden_dim=16,
        readout="site",
        batch_norm=False,
        cutoff=cutoff,
        max_neighbors=64 if smooth else 12,
        gaussian={"start": 0.0, "stop": cutoff, "step": 0.25, "width": 0.25},
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = CGCNN(config)
    if smooth:
        with_envelope(model)
    graphs = model_graphs(model, frames, errors="raise")
    targets = np.array([f.info["energy_per_atom"] for f in frames])
    trainer = Trainer(
        model, TrainingConfig(epochs=epochs, batch_size=16, lr=3e-3, seed=seed), progress=False
    )
    trainer.fit(graphs, targets)
    return model.eval()


DATA = __import__("pathlib").Path(__file__).parent / "data"


def main() -> None:
    """Write ``data/toy_smooth.pt`` and ``data/toy_knn.pt`` (about a minute on one core)."""
    from asegraph.models.checkpoint import save_model

    torch.set_num_threads(1)
    DATA.mkdir(exist_ok=True)
    for name, smooth in (("toy_smooth.pt", True), ("toy_knn.pt", False)):
        model = train_potential(smooth)
        save_model(model, DATA / name, metadata=getattr(model, "metadata", {}))
        print(f"wrote {DATA / name}")


if __name__ == "__main__":  # python tests/calculators/toy_potential.py
    main()
