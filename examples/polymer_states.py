"""Li-ion states in a coarse-grained PEO/LiTFSI electrolyte (thesis ch. 4.4.2–4.4.3, Fig. 4-5/4-6).

1. MD: a few independent runs of the package's own CG model
   (:mod:`asegraph.optimize.cgmd`, reference PEO-LiTFSI parameters, Li/EO =
   0.05): bead-spring EO chains, Li+ and TFSI- beads, LJ + Coulomb
   (particle-mesh Ewald, LAMMPS ``pppm/cg``, the package default), Langevin,
   run natively by LAMMPS; every bead is written (DCD, unwrapped) with a PDB
   topology (Li = Li+, S = TFSI- bead, O = EO bead).
2. GDyNet with 4 states (``--states``) on Li, trained on run 0 and applied to the others
   (as the thesis trained on one trajectory and analysed four).
3. What the states are, on every run: Li–EO and Li–anion RDFs and
   coordination numbers per state, the first-shell net charge per state
   (thesis Table 4.1), each transition's share of Li's MSD and of the
   conductivity (Fig. 4-6); tables pooled over runs, figures of run 1.

    python examples/polymer_states.py OUT_DIR [--runs 3 --ns 0.4]

Each stage is skipped when its output exists. Run time is printed per stage.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

CHARGES = {"Li": 1.0, "S": -1.0, "O": 0.0}


def run_md(out: Path, run: int, settings, n_frames_every: int) -> tuple[Path, Path]:
    """One CG run (LAMMPS); every bead every ``n_frames_every`` steps -> ``run<k>.dcd/.pdb``."""
    import MDAnalysis as mda

    from asegraph.optimize.cgmd.lammps import _setup, open_lammps
    from asegraph.optimize.cgmd.md import prepare_system
    from asegraph.optimize.space import PEO_LITFSI_REFERENCE

    topology, trajectory = out / f"run{run}.pdb", out / f"run{run}.dcd"
    if topology.exists() and trajectory.exists():
        return topology, trajectory
    seed = 1000 + run
    atoms = prepare_system(PEO_LITFSI_REFERENCE, settings, seed=seed)
    lmp = open_lammps()
    partial = out / f".run{run}.dcd.partial"
    t, dt = settings.temperature_K, settings.timestep_fs
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # the package's LAMMPS set-up of the CG force field (one home for the physics)
            _setup(lmp, atoms, settings.forcefield_params(), Path(tmp))
            lmp.commands_list(
                [
                    f"timestep {dt}",
                    f"velocity all create {t} {seed} mom yes rot no dist gaussian",
                    f"fix lang all langevin {t} {t} {1.0 / settings.friction_per_fs} {seed + 1} "
                    "zero yes",
                    "fix integ all nve",
                    "fix mom all momentum 1 linear 1 1 1",
                    "thermo 0",
                    f"run {settings.n_equil}",
                    f"dump frames all dcd {n_frames_every} {partial}",
                    "dump_modify frames unwrap yes",
                    f"run {settings.n_prod}",
                    "undump frames",
                ]
            )
    finally:
        lmp.close()
    universe = mda.Universe.empty(len(atoms), n_residues=1, trajectory=True)
    symbols = atoms.get_chemical_symbols()
    for attr in ("names", "elements", "types"):
        universe.add_TopologyAttr(attr, symbols)
    universe.add_TopologyAttr("resnames", ["CG"])
    universe.atoms.positions = atoms.positions
    universe.dimensions = [*atoms.cell.lengths(), 90, 90, 90]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PDB writer: no chain ids, occupancies, ...
        universe.atoms.write(str(topology))
    partial.replace(trajectory)
    return topology, trajectory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chains", type=int, default=20)
    parser.add_argument("--chain-length", type=int, default=30)
    parser.add_argument("--ns", type=float, default=0.4, help="production per run, ns")
    parser.add_argument("--frame-ps", type=float, default=1.0)
    parser.add_argument("--lag", default="20ps")
    parser.add_argument(
        "--coulomb",
        choices=("pme", "ewald", "dsf"),
        default="pme",
        help="particle-mesh Ewald (LAMMPS pppm/cg, the package default), plain Ewald, or "
        "damped shifted force (short-ranged)",
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--states", type=int, default=4, help="Koopman states (thesis: 4)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(1)
    from asegraph.optimize.cgmd.md import CGMDSettings

    timestep_fs = 4.0
    every = int(round(args.frame_ps * 1000 / timestep_fs))
    settings = CGMDSettings(
        n_chains=args.chains,
        chain_length=args.chain_length,
        timestep_fs=timestep_fs,
        n_equil=25000,  # 100 ps
        n_prod=int(round(args.ns * 1e6 / timestep_fs)),
        stride=every,
        n_blocks=1,  # run_cgmd's transport blocks: not used here
        coulomb=args.coulomb,
        backend="lammps",
    )
    timings: dict[str, float] = {}
    files = []
    for run in range(args.runs):
        t0 = time.perf_counter()
        files.append(run_md(args.out, run, settings, every))
        timings[f"md_run{run}_s"] = time.perf_counter() - t0
        print(f"run {run}: {timings[f'md_run{run}_s']:.0f} s", flush=True)

    from asegraph.analysis.dynamics.analysis import GDyNetAnalysis
    from asegraph.analysis.dynamics.state_report import analyze_states, save_states
    from asegraph.analysis.dynamics.trajectory import load_universe

    model = args.out / "gdynet_run0.pt"
    datasets = []
    for run, (topology, trajectory) in enumerate(files):
        universe = load_universe(trajectory, topology, timestep_ps=args.frame_ps, format="LAMMPS")
        result = args.out / f"gdynet_run{run}.nc"
        t0 = time.perf_counter()
        if not result.exists():
            gd = GDyNetAnalysis(
                universe,
                select="name Li",
                n_states=args.states,
                lag=args.lag,
                max_neighbors=12,
                cutoff=12.0,  # multi-shell: every bead needs 12 neighbours (10 Å: 11 once)
                max_epochs=args.epochs,
                seed=args.seed,
                interval_source="targets",
                ck_steps=3,
                n_blocks=4,
                checkpoint=args.out / "gdynet_run0.ckpt" if run == 0 else None,
                model_file=None if run == 0 else model,
                verbose=run == 0,
            ).run()
            gd.save(result, figures=run == 0)
        timings[f"gdynet_run{run}_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        states, snapshots = analyze_states(
            universe,
            result,
            partners={"EO": "name O", "anion": "name S", "Li": "name Li"},
            charges=CHARGES,
            rdf_range=12.0,
            nbins=120,
            temperature_K=settings.temperature_K,
            unwrap=False,  # LAMMPS wrote unwrapped coordinates
            order=False,
            n_snapshots=2,
            snapshot_radius=8.0,
        )
        save_states(states, snapshots, args.out / f"states_run{run}.nc", figures=run == 1)
        timings[f"analysis_run{run}_s"] = time.perf_counter() - t0
        datasets.append(states)
    print(pooled_table(datasets))
    print(json.dumps({"timings_s": timings}, indent=1))


def pooled_table(datasets) -> str:
    """States pooled over runs: weights add, per-state means weighted by state weight."""
    weights = np.array([ds["state_weight"].values for ds in datasets])  # [R, K]
    total = weights.sum(axis=0)
    shells = [ds.attrs["shell_radius_angstrom"] for ds in datasets]
    shell = float(np.mean(shells))
    lines = [
        f"first-shell radius (first minimum of the Li–anion RDF): "
        f"{', '.join(f'{s:.2f}' for s in shells)} Å; coordination numbers within {shell:.2f} Å",
        f"{'state':>5} {'population':>10} {'n_EO':>7} {'n_anion':>7} {'n_Li':>6} "
        f"{'shell q (e)':>11} {'MSD_ii share':>12} {'σ_solv share':>12}",
    ]
    msd = np.mean([ds["msd_contribution"].values for ds in datasets], axis=0)
    sigma = np.mean([ds["conductivity_solvation"].values for ds in datasets], axis=0)
    for k in range(weights.shape[1]):
        row = [f"{k:>5d}", f"{total[k] / total.sum():>10.3f}"]
        for partner, width in (("EO", 7), ("anion", 7), ("Li", 6)):
            values = [
                ds["coordination_number"].sel(partner=partner, state=k).interp(radius=shell).item()
                for ds in datasets
            ]
            row.append(f"{np.average(values, weights=weights[:, k]):>{width}.2f}")
        charge = np.average(
            [ds["shell_charge"].values[k] for ds in datasets], weights=weights[:, k]
        )
        row.append(f"{charge:>+11.3f}")
        row.append(f"{msd[k, k] / msd.sum():>12.3f}")
        row.append(f"{sigma[k, k] / sigma.sum():>12.3f}")
        lines.append(" ".join(row))
    free = np.mean([d.attrs["msd_total_angstrom2"] for d in datasets])
    lines.append(
        f"transitions i≠j: {1 - np.trace(msd) / msd.sum():.3f} of the MSD, "
        f"{1 - np.trace(sigma) / sigma.sum():.3f} of σ_solv; MSD over the lag "
        f"{msd.sum():.4g} Å² (state-free {free:.4g})"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
