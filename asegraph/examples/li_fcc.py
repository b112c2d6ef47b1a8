"""Toy system of thesis ch. 4.3: Li hopping between the sites of an FCC S lattice.

The S atoms sit on an FCC lattice (conventional cubic cell of side ``a``,
``n_cells ** 3`` cells), tethered to their lattice sites by harmonic springs. Each
Li interacts with the S atoms through a shifted-force pair potential

``V(r) = A exp(-r / rho) - C / r**6``     (eV, Å)

and not with the other Li atoms, so the Li atoms are independent walkers and
every one of them samples the same local dynamics. With the defaults
(``A = 1e4 eV``, ``rho = 0.25 Å``, ``C = 230 eV Å⁶``, ``a = 5.7 Å``, S tethered
with ``k = 20 eV/Å²``) the tetrahedral sites (4 S at 2.47 Å) are the energy
minima; on the rigid lattice the octahedral site (6 S at 2.85 Å) lies 0.20 eV
higher at the end of a monotonic path through the shared S face, a broad, flat
cage that the Li leaves only through one of its 8 faces. In the shipped 400 K
run a Li spends ~20 % of the time in octahedral cages; the nearest-site-type
MSM gives a slowest implied timescale of 3.1 ps at a 1 ps lag (tet -> oct ->
tet exchange is the only slow process).

Ground truth comes from geometry: :func:`nearest_site_type` labels every Li
in every frame with the type of its nearest interstitial site, and
:func:`geometric_msm` estimates a deeptime Markov state model on those labels.

A trajectory of this system ships with the package (:func:`shipped_trajectory`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from asegraph._utils.files import atomic_path

DATA_DIR = Path(__file__).parent / "data"
SHIPPED_TOPOLOGY = DATA_DIR / "li_fcc_s.pdb"
SHIPPED_TRAJECTORY = DATA_DIR / "li_fcc_s.dcd"

#: Fractional coordinates (units of ``a``) of the interstitial sites in the cubic cell.
OCTAHEDRAL_SITES = np.array([[0.5, 0.5, 0.5], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]])
TETRAHEDRAL_SITES = np.array(
    [[x, y, z] for x in (0.25, 0.75) for y in (0.25, 0.75) for z in (0.25, 0.75)]
)
FCC_BASIS = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
SITE_NAMES = ("octahedral", "tetrahedral")


class LiSulfurCalculator(Calculator):
    """Li–S shifted-force pair potential plus harmonic tethers of the S atoms.

    Parameters
    ----------
    reference : ndarray, shape (N, 3), Å
        Lattice sites the S atoms are tethered to (rows of Li atoms are ignored).
    A : float, eV
    rho : float, Å
    C : float, eV Å⁶
    cutoff : float, Å
        Must be below half the (cubic) box length: minimum-image pairs only.
    k_tether : float, eV/Å²
    """

    implemented_properties = ["energy", "forces"]
    default_parameters = {"A": 1.0e4, "rho": 0.25, "C": 230.0, "cutoff": 5.5, "k_tether": 20.0}

    def __init__(self, reference: np.ndarray, **kwargs) -> None:
        super().__init__(**kwargs)
        self.reference = np.asarray(reference, dtype=np.float64)

    def _pair(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.parameters
        energy = p["A"] * np.exp(-r / p["rho"]) - p["C"] / r**6
        derivative = -p["A"] / p["rho"] * np.exp(-r / p["rho"]) + 6 * p["C"] / r**7
        return energy, derivative

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        Calculator.calculate(self, atoms, properties, system_changes)
        p = self.parameters
        box = np.diag(self.atoms.cell.array)
        if p["cutoff"] >= box.min() / 2:
            raise ValueError(
                f"cutoff={p['cutoff']} Å must be below half the box length {box.min() / 2:.2f} Å"
            )
        positions = self.atoms.positions
        li = self.atoms.numbers == 3
        s = self.atoms.numbers == 16
        delta = positions[s][None, :, :] - positions[li][:, None, :]  # [L, S, 3]
        delta -= box * np.round(delta / box)
        r = np.linalg.norm(delta, axis=2)  # [L, S]
        near = r < p["cutoff"]
        e_pair, de_pair = self._pair(r[near])
        e_cut, de_cut = self._pair(np.array([p["cutoff"]]))
        energy = np.sum(e_pair - e_cut - (r[near] - p["cutoff"]) * de_cut)
        magnitude = np.zeros_like(r)
        magnitude[near] = de_pair - de_cut  # dV/dr
        pair_force = magnitude[:, :, None] * delta / r[:, :, None]  # force on Li, [L, S, 3]
        forces = np.zeros_like(positions)
        forces[li] = pair_force.sum(axis=1)
        forces[s] = -pair_force.sum(axis=0)
        stretch = positions[s] - self.reference[s]
        stretch -= box * np.round(stretch / box)
        energy += 0.5 * p["k_tether"] * np.sum(stretch**2)
        forces[s] -= p["k_tether"] * stretch
        self.results = {"energy": float(energy), "forces": forces}


def make_li_fcc(n_cells: int = 2, n_li: int = 16, a: float = 5.7, seed: int = 0) -> Atoms:
    """S FCC supercell with ``n_li`` Li atoms on distinct random interstitial sites.

    Returns
    -------
    ase.Atoms
        S atoms first, then Li; cubic cell of side ``n_cells * a`` Å, with a
        :class:`LiSulfurCalculator` attached.
    """
    rng = np.random.default_rng(seed)
    cells = np.array(
        [[i, j, k] for i in range(n_cells) for j in range(n_cells) for k in range(n_cells)]
    )
    sulfur = (cells[:, None, :] + FCC_BASIS[None]).reshape(-1, 3) * a
    sites = cells[:, None, :] + np.vstack([OCTAHEDRAL_SITES, TETRAHEDRAL_SITES])[None]
    sites = sites.reshape(-1, 3) * a
    if n_li > len(sites):
        raise ValueError(f"n_li={n_li} exceeds the {len(sites)} interstitial sites")
    lithium = sites[rng.choice(len(sites), size=n_li, replace=False)]
    atoms = Atoms(
        symbols=["S"] * len(sulfur) + ["Li"] * n_li,
        positions=np.vstack([sulfur, lithium]),
        cell=np.eye(3) * n_cells * a,
        pbc=True,
    )
    atoms.calc = LiSulfurCalculator(reference=atoms.positions.copy())
    return atoms


def run_md(
    atoms: Atoms,
    n_frames: int,
    interval: int = 50,
    timestep_fs: float = 2.0,
    temperature_K: float = 600.0,
    friction_per_fs: float = 0.01,
    seed: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """Langevin MD (ASE) of ``atoms``; returns positions every ``interval`` steps.

    Returns
    -------
    ndarray of float32, shape (n_frames, N, 3), Å
        Unwrapped positions; frame spacing ``interval * timestep_fs`` fs.
    """
    from ase import units
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import thermalize_momenta

    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K=temperature_K, rng=rng)
    atoms.set_constraint(FixCom())
    dynamics = Langevin(
        atoms,
        timestep_fs * units.fs,
        temperature_K=temperature_K,
        friction=friction_per_fs / units.fs,
        fixcm=False,
        rng=rng,
    )
    frames = np.empty((n_frames, len(atoms), 3), dtype=np.float32)
    iterator = range(n_frames)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="MD", unit="frame")
    for frame in iterator:
        dynamics.run(interval)
        frames[frame] = atoms.positions
    return frames


def nearest_site(positions: np.ndarray, sulfur: np.ndarray, a: float = 5.7) -> np.ndarray:
    """Index of the interstitial site nearest to each Li, in one conventional cell.

    Parameters
    ----------
    positions : ndarray, shape (F, L, 3), Å
        Li positions.
    sulfur : ndarray, shape (F, S, 3), Å
        S positions of the same frames, used to follow the lattice origin (the
        mean S displacement from its ideal FCC sites).
    a : float, Å
        Cubic lattice constant.

    Returns
    -------
    ndarray of int8, shape (F, L)
        0–3 octahedral, 4–11 tetrahedral (rows of ``OCTAHEDRAL_SITES`` then
        ``TETRAHEDRAL_SITES``); sites are identified modulo the cubic cell, as in
        the thesis' 12-state global model.
    """
    frac_s = sulfur / a
    origin = frac_s - np.round(frac_s * 2) / 2  # displacement from the nearest half-lattice point
    shift = origin.mean(axis=1, keepdims=True)  # [F, 1, 3]
    frac = positions / a - shift  # [F, L, 3]
    sites = np.vstack([OCTAHEDRAL_SITES, TETRAHEDRAL_SITES])  # [12, 3]
    delta = frac[:, :, None, :] - sites[None, None]  # [F, L, 12, 3]
    delta -= np.round(delta)
    return np.argmin(np.sum(delta**2, axis=3), axis=2).astype(np.int8)  # [F, L]


def nearest_site_type(positions: np.ndarray, sulfur: np.ndarray, a: float = 5.7) -> np.ndarray:
    """Type of the interstitial site nearest to each Li (0 octahedral, 1 tetrahedral).

    Same arguments as :func:`nearest_site`; returns ndarray of int8, shape (F, L).
    """
    return (nearest_site(positions, sulfur, a) >= len(OCTAHEDRAL_SITES)).astype(np.int8)


def geometric_msm(site_types: np.ndarray, lag: int):
    """Maximum-likelihood deeptime MSM of the nearest-site labels at lag ``lag`` frames.

    Parameters
    ----------
    site_types : ndarray of int, shape (F, L), or a list of such (independent runs)
        One discrete trajectory per Li atom (and run); any labels (types or sites).
    lag : int, frames

    Returns
    -------
    deeptime.markov.msm.MarkovStateModel
        ``.timescales()`` are in frames.
    """
    from deeptime.markov import TransitionCountEstimator
    from deeptime.markov.msm import MaximumLikelihoodMSM

    runs = [site_types] if isinstance(site_types, np.ndarray) else list(site_types)
    dtrajs = [
        np.ascontiguousarray(run[:, i], dtype=np.int32) for run in runs for i in range(run.shape[1])
    ]
    counts = TransitionCountEstimator(lag, "sliding").fit(dtrajs).fetch_model()
    return MaximumLikelihoodMSM(reversible=True).fit(counts).fetch_model()


def write_trajectory(
    frames: np.ndarray,
    atoms: Atoms,
    trajectory: str | Path,
    topology: str | Path,
    frame_ps: float,
) -> None:
    """Write ``frames`` as DCD (with ``frame_ps`` between frames) plus a PDB topology.

    Both files are written under temporary names and renamed.
    """
    import warnings

    import MDAnalysis as mda
    from MDAnalysis.coordinates.memory import MemoryReader

    universe = mda.Universe.empty(len(atoms), trajectory=False)
    symbols = atoms.get_chemical_symbols()
    universe.add_TopologyAttr("names", symbols)
    universe.add_TopologyAttr("elements", symbols)
    universe.add_TopologyAttr("types", symbols)
    universe.add_TopologyAttr("resnames", ["LIS"])
    dimensions = np.array([*atoms.cell.lengths(), *atoms.cell.angles()], dtype=np.float32)
    universe.load_new(frames, format=MemoryReader, dimensions=dimensions, dt=frame_ps)
    for target, kind in ((Path(trajectory), "DCD"), (Path(topology), "PDB")):
        # MDAnalysis writes by name and picks the format from the suffix
        with atomic_path(target, suffix="." + kind.lower()) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PDB writer warns about missing attributes
            if kind == "DCD":
                with mda.Writer(str(tmp), len(atoms), dt=frame_ps) as writer:
                    for _ in universe.trajectory:
                        writer.write(universe.atoms)
            else:
                universe.trajectory[0]
                universe.atoms.write(str(tmp))


def shipped_trajectory() -> tuple[Path, Path]:
    """(topology PDB, trajectory DCD) of the shipped toy trajectory."""
    return SHIPPED_TOPOLOGY, SHIPPED_TRAJECTORY


def generate(
    trajectory: str | Path,
    topology: str | Path,
    n_frames: int = 3000,
    interval: int = 50,
    timestep_fs: float = 2.0,
    temperature_K: float = 400.0,
    n_cells: int = 2,
    n_li: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> None:
    """Simulate the toy system and write it (the shipped file used the defaults)."""
    atoms = make_li_fcc(n_cells=n_cells, n_li=n_li, seed=seed)
    frames = run_md(
        atoms, n_frames, interval, timestep_fs, temperature_K, seed=seed, progress=progress
    )
    write_trajectory(frames, atoms, trajectory, topology, interval * timestep_fs / 1000.0)


if __name__ == "__main__":  # pragma: no cover
    generate(SHIPPED_TRAJECTORY, SHIPPED_TOPOLOGY)
