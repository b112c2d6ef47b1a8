"""Shared fixtures for the GDyNet tests (one torch thread: the CPU is shared)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def toy_universe():
    """The shipped Li-in-FCC-S trajectory (3,000 frames, 0.1 ps apart)."""
    from asegraph.analysis.dynamics.trajectory import load_universe
    from asegraph.examples.li_fcc import shipped_trajectory

    topology, trajectory = shipped_trajectory()
    return load_universe(trajectory, topology)


@pytest.fixture(scope="session")
def toy_site_types(toy_universe):
    """Geometric ground truth: nearest-site type of each Li in each frame, [F, 16]."""
    from asegraph.examples.li_fcc import nearest_site_type

    u = toy_universe
    li, s = u.select_atoms("name Li").indices, u.select_atoms("name S").indices
    positions = np.stack([u.atoms.positions.copy() for _ in u.trajectory])
    return nearest_site_type(positions[:, li], positions[:, s])


def _water_universe(n_frames: int = 60, seed: int = 0, triclinic: bool = False):
    """27 rigid waters on a jittered grid in a periodic box, as an MDAnalysis Universe
    with residues (resname SOL), 0.05 ps between frames."""
    import MDAnalysis as mda
    from MDAnalysis.coordinates.memory import MemoryReader

    rng = np.random.default_rng(seed)
    n_side, spacing = 3, 3.1
    oh = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])  # O, H, H (Å)
    centres = (
        np.array(
            [[i, j, k] for i in range(n_side) for j in range(n_side) for k in range(n_side)],
            dtype=float,
        )
        * spacing
    )
    n_water = len(centres)
    frames = []
    for _ in range(n_frames):
        molecules = []
        for c in centres:
            q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
            molecules.append(c + rng.normal(scale=0.3, size=3) + oh @ q.T)
        frames.append(np.concatenate(molecules))
    universe = mda.Universe.empty(
        3 * n_water,
        n_residues=n_water,
        atom_resindex=np.repeat(np.arange(n_water), 3),
        trajectory=False,
    )
    universe.add_TopologyAttr("names", ["OW", "HW1", "HW2"] * n_water)
    universe.add_TopologyAttr("elements", ["O", "H", "H"] * n_water)
    universe.add_TopologyAttr("resnames", ["SOL"] * n_water)
    length = n_side * spacing
    box = [length, length, length, 90, 90, 75 if triclinic else 90]
    universe.load_new(
        np.asarray(frames, dtype=np.float32),
        format=MemoryReader,
        dimensions=np.array(box, dtype=np.float32),
        dt=0.05,
    )
    return universe


@pytest.fixture
def water_universe():
    """Factory: ``water_universe(n_frames=60, seed=0, triclinic=False)``."""
    return _water_universe
