"""A small, reproducible dataset of metal alloys labelled by ASE's EMT potential.

It ships with the package (``asegraph/data/examples/emt_alloys.extxyz``) as the
quick-start example, and is regenerated bit-for-bit by::

    python -m asegraph.data.emt_alloys

Structures are random substitutional alloys of Al, Ni, Cu, Pd, Ag, Pt and Au on
fcc, bcc and hcp lattices (1–8 atoms), with a random strain of up to 4 % and
0.05 Å of positional noise; each frame's ``info["energy_per_atom"]`` is the
EMT energy in eV/atom.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.data import atomic_numbers, reference_states

ELEMENTS = ("Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au")
EXAMPLE_PATH = Path(__file__).parent / "examples" / "emt_alloys.extxyz"


def _fcc_a(symbol: str) -> float:
    return float(reference_states[atomic_numbers[symbol]]["a"])


def random_alloy(rng: np.random.Generator) -> Atoms:
    """One random strained, rattled alloy cell with its EMT energy per atom."""
    lattice = rng.choice(["fcc", "bcc", "hcp"])
    n_species = int(rng.integers(1, 4))
    species = list(rng.choice(ELEMENTS, size=n_species, replace=False))
    a_fcc = float(np.mean([_fcc_a(s) for s in species]))
    if lattice == "fcc":
        atoms = bulk("Cu", "fcc", a=a_fcc, cubic=bool(rng.random() < 0.5))
    elif lattice == "bcc":
        atoms = bulk("Cu", "bcc", a=a_fcc / 2 ** (1 / 3), cubic=True)
    else:
        atoms = bulk("Cu", "hcp", a=a_fcc / np.sqrt(2), c=a_fcc / np.sqrt(2) * 1.633)
    if len(atoms) < 3 and rng.random() < 0.6:
        atoms = atoms.repeat((2, 2, 1) if lattice == "hcp" else (2, 1, 1))
    atoms.set_chemical_symbols(list(rng.choice(species, size=len(atoms))))
    strain = np.eye(3) + rng.uniform(-0.04, 0.04, (3, 3))
    atoms.set_cell(atoms.cell.array @ strain, scale_atoms=True)
    atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
    atoms.calc = EMT()
    energy = float(atoms.get_potential_energy())
    atoms.calc = None
    atoms.info["energy_per_atom"] = energy / len(atoms)
    return atoms


def make_dataset(n_structures: int = 600, seed: int = 7) -> list[Atoms]:
    """``n_structures`` random alloys, reproducible for a given ``seed``."""
    rng = np.random.default_rng(seed)
    return [random_alloy(rng) for _ in range(n_structures)]


def main() -> None:
    import ase.io

    frames = make_dataset()
    EXAMPLE_PATH.parent.mkdir(parents=True, exist_ok=True)
    ase.io.write(EXAMPLE_PATH, frames, format="extxyz")
    print(f"wrote {len(frames)} structures to {EXAMPLE_PATH}")


if __name__ == "__main__":
    main()
