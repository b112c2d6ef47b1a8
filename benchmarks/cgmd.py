"""CG-MD throughput: MD steps per second for ~660 and ~1,000 beads, ASE vs LAMMPS.

Both backends run the same ASE-built PEO-LiTFSI system (Langevin at 400 K,
4 fs) after the same FIRE minimisation, one thread.  The ASE backend is
``ase.md.langevin.Langevin`` on :class:`CGForceField`; LAMMPS runs native
``run N`` through its Python module.  Coulomb methods (``--coulomb``):
``pme`` (default of both backends: smooth PME in ASE, ``pppm/cg`` in LAMMPS,
relative accuracy 1e-5) and ``ewald`` (the previous default, plain Ewald sum,
R_c = 15 Å) — both in one run by default, so the speed-up is a same-run ratio.

Rates are given per wall second and per CPU second of the process: on a shared
machine the wall rate drops with the load, the CPU rate much less.

Usage::

    python benchmarks/cgmd.py                       # 660 and 990 beads, both backends
    python benchmarks/cgmd.py --ase-steps 100 --lammps-steps 1000 --coulomb pme
"""

from __future__ import annotations

import argparse
import os

SIZES = {"660": (20, 30), "990": (30, 30)}  # (n_chains, chain_length) at c_salt = 0.05


def main(argv=None) -> None:
    from asegraph.optimize.cgmd.md import CGMDSettings, prepare_system, run_ase_md
    from asegraph.optimize.space import PEO_LITFSI_REFERENCE

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", nargs="+", default=list(SIZES))
    p.add_argument("--backends", nargs="+", default=["ase", "lammps"])
    p.add_argument("--ase-steps", type=int, default=200)
    p.add_argument("--lammps-steps", type=int, default=2000)
    p.add_argument(
        "--coulomb", nargs="+", default=["ewald", "pme"], choices=["pme", "ewald", "dsf"]
    )
    args = p.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    print(
        f"{'beads':>6} {'ions':>5} {'backend':<7} {'coulomb':<7} {'R_c':>5} {'steps':>6} "
        f"{'steps/s':>9} {'steps/cpu-s':>11} {'ns/day(cpu)':>11} {'x ewald':>8}"
    )
    for size in args.sizes:
        n_chains, length = SIZES[size]
        for backend in args.backends:
            steps = args.ase_steps if backend == "ase" else args.lammps_steps
            base = None
            for coulomb in args.coulomb:
                s = CGMDSettings(
                    n_chains=n_chains,
                    chain_length=length,
                    n_minimize=100,
                    n_equil=0,
                    n_prod=max(steps, 32 * 4),
                    stride=4,
                    coulomb=coulomb,
                    # the previous default: Ewald at R_c = 15 Å in both backends
                    coulomb_cutoff=15.0 if coulomb == "ewald" else 20.0,
                    backend=backend,
                )
                atoms = prepare_system(PEO_LITFSI_REFERENCE, s, seed=0)
                n_ions = int((atoms.get_initial_charges() != 0).sum())
                timing: dict = {}
                if backend == "lammps":
                    from asegraph.optimize.cgmd.lammps import lammps_available, run_lammps_md

                    if not lammps_available():
                        print(f"{len(atoms):>6} {n_ions:>5} lammps  (not installed)")
                        break
                    _, per_step = run_lammps_md(atoms, s, seed=0, timing=timing)
                else:
                    _, per_step = run_ase_md(atoms, s, seed=0, timing=timing)
                rate, cpu_rate = 1.0 / per_step, 1.0 / timing["cpu_per_step"]
                if coulomb == "ewald":
                    base = cpu_rate
                ratio = f"{cpu_rate / base:8.2f}" if base else f"{'':>8}"
                ns_day = cpu_rate * s.timestep_fs * 86400 * 1e-6
                print(
                    f"{len(atoms):>6} {n_ions:>5} {backend:<7} {coulomb:<7} "
                    f"{s.coulomb_cutoff:>5.1f} {s.n_prod:>6} {rate:>9.1f} {cpu_rate:>11.1f} "
                    f"{ns_day:>11.2f} {ratio}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
