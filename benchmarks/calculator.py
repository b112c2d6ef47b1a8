"""Timing of CGCNNCalculator (and CHGNet's calculator, when installed) inside ASE.

Run::

    REF=../shared/reference/cgcnn
    ASEGRAPH_MODEL_DIR=$REF/pre-trained:$REF/data/sample-regression ASEGRAPH_OFFLINE=1 \\
        python benchmarks/calculator.py [--repeats 21] [--md-steps 40] \\
        [--perov ../shared/data/perov_5/val.csv]

Prints three tables:

1. median wall time of one energy + forces + stress evaluation (positions
   moved a little before each call, so nothing is cached) for an 8-atom and
   a 216-atom rock-salt cell, one torch thread and one BLAS thread;
2. ASE molecular-dynamics steps per second (VelocityVerlet, 1 fs) for the same cells;
3. structures per second of :func:`asegraph.calculators.predict.predict` on the
   perovskites of ``perov_5/val.csv``, graph building included (CIF parsing
   is timed separately).

CHGNet columns appear when ``chgnet`` is importable; ratios are CHGNet time
over CGCNN time (higher means CGCNN is faster).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from ase.build import bulk
from ase.md.verlet import VelocityVerlet
from ase.units import fs

from asegraph.calculators.cgcnn import CGCNNCalculator
from asegraph.calculators.predict import predict


def cells():
    small = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    large = small.repeat(3)
    for atoms, seed in ((small, 1), (large, 2)):
        atoms.rattle(0.03, seed=seed)
    return {"8 atoms": small, "216 atoms": large}


def time_calls(atoms, calc, repeats: int) -> float:
    """Median seconds per energy + forces + stress evaluation."""
    atoms = atoms.copy()
    atoms.calc = calc
    atoms.get_forces()  # warm-up (lazy model loading, allocator)
    times = []
    for k in range(repeats):
        atoms.positions[0, 0] += 1e-4 * (-1) ** k
        start = time.perf_counter()
        atoms.get_potential_energy()
        atoms.get_forces()
        atoms.get_stress()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def md_rate(atoms, calc, steps: int) -> float:
    """ASE VelocityVerlet steps per second."""
    atoms = atoms.copy()
    atoms.calc = calc
    atoms.get_forces()
    dyn = VelocityVerlet(atoms, 1 * fs)
    start = time.perf_counter()
    dyn.run(steps)
    return steps / (time.perf_counter() - start)


def chgnet_calculator():
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from chgnet.model.dynamics import CHGNetCalculator

            return CHGNetCalculator(use_device="cpu")
    except ImportError:
        return None


def read_perovskites(path: Path):
    from pymatgen.core import Structure

    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structures = [Structure.from_str(row["cif"], fmt="cif") for row in rows]
    return structures, [row["material_id"] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--md-steps", type=int, default=40)
    parser.add_argument(
        "--perov", type=Path, default=Path(__file__).parents[2] / "shared/data/perov_5/val.csv"
    )
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass

    calculators = {
        "CGCNN f32": lambda: CGCNNCalculator(model="final-energy-per-atom"),
        "CGCNN f64": lambda: CGCNNCalculator(model="final-energy-per-atom", dtype="float64"),
    }
    chgnet = chgnet_calculator()
    if chgnet is not None:
        calculators["CHGNet"] = lambda: chgnet
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}; "
        f"CHGNet {'found' if chgnet is not None else 'not installed: no CHGNet columns'}"
    )

    call_ms, md = {}, {}
    for label, atoms in cells().items():
        for name, make in calculators.items():
            call_ms[label, name] = 1e3 * time_calls(atoms, make(), args.repeats)
            md[label, name] = md_rate(
                atoms, make(), args.md_steps if len(atoms) < 100 else max(5, args.md_steps // 4)
            )
    names = list(calculators)
    header = "| cell | " + " | ".join(f"{n} ms/call" for n in names)
    ratio = "CHGNet" in names
    print("\nEnergy + forces + stress, median per call (one thread)\n")
    print(header + (" | CHGNet / CGCNN f32 |" if ratio else " |"))
    print("|---" * (len(names) + 1 + ratio) + "|")
    for label in cells():
        row = [f"{call_ms[label, n]:.2f}" for n in names]
        extra = [f"{call_ms[label, 'CHGNet'] / call_ms[label, 'CGCNN f32']:.1f}x"] if ratio else []
        print(f"| {label} | " + " | ".join(row + extra) + " |")
    print("\nASE VelocityVerlet MD, steps per second (one thread)\n")
    print(
        "| cell | "
        + " | ".join(f"{n} steps/s" for n in names)
        + (" | CGCNN f32 / CHGNet |" if ratio else " |")
    )
    print("|---" * (len(names) + 1 + ratio) + "|")
    for label in cells():
        row = [f"{md[label, n]:.1f}" for n in names]
        extra = [f"{md[label, 'CGCNN f32'] / md[label, 'CHGNet']:.1f}x"] if ratio else []
        print(f"| {label} | " + " | ".join(row + extra) + " |")

    if not args.perov.is_file():
        print(f"\n{args.perov} not found: no screening throughput")
        return
    start = time.perf_counter()
    structures, ids = read_perovskites(args.perov)
    parse_s = time.perf_counter() - start
    print(
        f"\npredict() on {len(structures)} perovskites of {args.perov.name} "
        f"(batch_size={args.batch_size}; CIF parsing {parse_s:.1f} s, not included)\n"
    )
    print("| models | structures/s | seconds | failed |")
    print("|---|---|---|---|")
    for label, spec in (
        ("formation-energy-per-atom", "formation-energy-per-atom"),
        ("all 6 default models", None),
    ):
        start = time.perf_counter()
        ds = predict(structures, spec, batch_size=args.batch_size, names=ids, progress=False)
        seconds = time.perf_counter() - start
        failed = int((ds["error"] != "").sum())
        print(f"| {label} | {len(structures) / seconds:.0f} | {seconds:.1f} | {failed} |")
    if "formation_energy_per_atom" in ds:
        truth = np.array([float(r) for r in _column(args.perov, "heat_ref")]) / 5
        error = np.nanmean(np.abs(ds["formation_energy_per_atom"].values - truth))
        print(
            f"\n(For scale: mean |CGCNN MP formation energy - perov_5 heat_ref/5| = {error:.2f} "
            "eV/atom; the datasets use different references.)"
        )


def _column(path: Path, name: str) -> list[str]:
    with open(path) as handle:
        return [row[name] for row in csv.DictReader(handle)]


if __name__ == "__main__":
    main()
