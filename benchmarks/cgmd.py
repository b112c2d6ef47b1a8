"""CG-MD throughput: MD steps per second for ~660 and ~1,000 beads, ASE vs LAMMPS.

Both backends run the same ASE-built PEO-LiTFSI system (Ewald Coulomb, R_c = 15 Å,
accuracy 1e-5, Langevin at 400 K, 4 fs) after the same FIRE minimisation.
The ASE backend is ``ase.md.langevin.Langevin`` on :class:`CGForceField`; LAMMPS
runs native ``run N`` through its Python module, one thread.

Usage::

    python benchmarks/cgmd.py                       # 660 and 990 beads, both backends
    python benchmarks/cgmd.py --ase-steps 100 --lammps-steps 1000
"""

from __future__ import annotations

import argparse

SIZES = {"660": (20, 30), "990": (30, 30)}  # (n_chains, chain_length) at c_salt = 0.05


def main(argv=None) -> None:
    from asegraph.optimize.cgmd.md import CGMDSettings, prepare_system, run_ase_md
    from asegraph.optimize.space import PEO_LITFSI_REFERENCE

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", nargs="+", default=list(SIZES))
    p.add_argument("--backends", nargs="+", default=["ase", "lammps"])
    p.add_argument("--ase-steps", type=int, default=200)
    p.add_argument("--lammps-steps", type=int, default=2000)
    p.add_argument("--coulomb", default="ewald", choices=["ewald", "dsf"])
    args = p.parse_args(argv)
    print(
        f"{'beads':>6} {'ions':>5} {'backend':<7} {'coulomb':<7} {'steps':>6} "
        f"{'steps/s':>9} {'ns/day':>8}"
    )
    for size in args.sizes:
        n_chains, length = SIZES[size]
        for backend in args.backends:
            steps = args.ase_steps if backend == "ase" else args.lammps_steps
            s = CGMDSettings(
                n_chains=n_chains,
                chain_length=length,
                n_minimize=100,
                n_equil=0,
                n_prod=max(steps, 32 * 4),
                stride=4,
                coulomb=args.coulomb,
                backend=backend,
            )
            atoms = prepare_system(PEO_LITFSI_REFERENCE, s, seed=0)
            n_ions = int((atoms.get_initial_charges() != 0).sum())
            if backend == "lammps":
                from asegraph.optimize.cgmd.lammps import lammps_available, run_lammps_md

                if not lammps_available():
                    print(f"{len(atoms):>6} {n_ions:>5} lammps  (not installed)")
                    continue
                _, per_step = run_lammps_md(atoms, s, seed=0)
            else:
                _, per_step = run_ase_md(atoms, s, seed=0)
            rate = 1.0 / per_step
            ns_day = rate * s.timestep_fs * 86400 * 1e-6
            print(
                f"{len(atoms):>6} {n_ions:>5} {backend:<7} {args.coulomb:<7} {s.n_prod:>6} "
                f"{rate:>9.1f} {ns_day:>8.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
