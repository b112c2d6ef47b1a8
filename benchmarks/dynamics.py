"""GDyNet input pipeline throughput: graph construction (+ inference) vs plain reading.

For ``--frames`` frames of an ``--atoms``-atom periodic system (12 neighbours
within 6 Å), orthorhombic and triclinic, written as DCD and read back with
MDAnalysis, this prints frames/s of

* plain MDAnalysis reading (touching every frame's positions),
* graph construction (:meth:`GDyNetAnalysis.build_graphs`, the frame loop of
  ``GDyNetAnalysis.run``; every atom a target: the worst case),
* graph construction + inference of an (untrained) 4-state GDyNet (the
  batch size that :meth:`GDyNetTrainer.transform` chooses),
* one training epoch (seconds; half the frames, lag 1 frame, 32 pairs a step),

for both receptive fields (``--fields``): the thesis' ``multi-shell``
convolutions (default) and the ``first-shell`` speed option,

and the peak traced memory (tracemalloc) beside the bytes the graph store
keeps, for the full and a quarter-length trajectory. One torch thread.

    python benchmarks/dynamics.py                    # 1,000 frames, 2,000 atoms
    python benchmarks/dynamics.py --frames 200       # reduced
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch


def make_trajectory(path: Path, n_atoms: int, n_frames: int, triclinic: bool, seed: int = 0):
    """A random periodic system (0.05 atoms/Å³) diffusing slowly; returns the Universe."""
    import MDAnalysis as mda
    from MDAnalysis.coordinates.memory import MemoryReader

    rng = np.random.default_rng(seed)
    volume = n_atoms / 0.05
    angles = (75.0, 80.0, 70.0) if triclinic else (90.0, 90.0, 90.0)
    cosines = np.cos(np.radians(angles))
    factor = np.sqrt(1 - np.sum(cosines**2) + 2 * np.prod(cosines))
    length = (volume / factor) ** (1 / 3)
    dimensions = np.array([length] * 3 + list(angles), dtype=np.float32)
    from MDAnalysis.lib.mdamath import triclinic_vectors

    cell = triclinic_vectors(dimensions)
    positions = rng.random((n_atoms, 3)) @ cell
    frames = np.empty((n_frames, n_atoms, 3), dtype=np.float32)
    for i in range(n_frames):
        positions = positions + rng.normal(scale=0.1, size=positions.shape)
        frames[i] = positions
    universe = mda.Universe.empty(n_atoms, trajectory=False)
    universe.add_TopologyAttr("names", ["Li" if i % 10 == 0 else "S" for i in range(n_atoms)])
    universe.load_new(frames, format=MemoryReader, dimensions=dimensions, dt=0.1)
    with mda.Writer(str(path), n_atoms, dt=0.1) as writer:
        for _ in universe.trajectory:
            writer.write(universe.atoms)
    del frames
    return mda.Universe(universe._topology, str(path))


def rate(function, n_frames: int) -> tuple[tuple[float, float], object]:
    """((frames/s by wall clock, frames/s by this process's CPU time), result)."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = function()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return (n_frames / wall, n_frames / cpu), value


def peak_memory(function) -> tuple[int, object]:
    tracemalloc.start()
    value = function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, value


def measure(u, n_atoms: int, n_frames: int, field: str) -> dict:
    """Rates (frames/s) and memory (bytes) for one trajectory; every atom is a target."""
    from asegraph.analysis.dynamics import GDyNetAnalysis
    from asegraph.analysis.dynamics.model import build_model
    from asegraph.analysis.dynamics.training import GDyNetTrainer, split_blocks

    def read():
        for ts in u.trajectory:
            ts.positions.sum()

    def analysis():
        return GDyNetAnalysis(u, select="all", max_neighbors=12, cutoff=6.0, receptive_field=field)

    def graphs(stop=None):
        return analysis().build_graphs(stop=stop)

    def graphs_and_inference():
        gd = analysis()
        gd.build_graphs()
        config = {"n_species": 2, "n_states": 4, "receptive_field": field}
        blocks = split_blocks(n_frames, (0.5, 0.25, 0.25), 1)
        trainer = GDyNetTrainer(build_model(config, seed=0), gd.graph_data(), 1, blocks)
        return trainer.transform(range(n_frames))  # its default batch size

    def train_epoch():
        gd = analysis()
        gd.build_graphs()
        config = {"n_species": 2, "n_states": 4, "receptive_field": field}
        blocks = split_blocks(n_frames, (0.5, 0.25, 0.25), 1)
        trainer = GDyNetTrainer(build_model(config, seed=0), gd.graph_data(), 1, blocks)
        trainer.max_epochs = 1
        wall, cpu = time.perf_counter(), time.process_time()
        trainer.fit()
        return time.perf_counter() - wall, time.process_time() - cpu

    result: dict = {"read": rate(read, n_frames)[0]}
    result["graph"], store = rate(graphs, n_frames)
    result["both"] = rate(graphs_and_inference, n_frames)[0]
    result["epoch"] = train_epoch()
    result["store"] = store.nbytes
    result["peak"] = peak_memory(graphs)[0]
    result["peak_quarter"] = peak_memory(lambda: graphs(n_frames // 4))[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--atoms", type=int, default=2000)
    parser.add_argument("--fields", default="multi-shell,first-shell")
    args = parser.parse_args()
    torch.set_num_threads(1)

    print(
        f"{args.frames} frames, {args.atoms} atoms, 12 neighbours within 6 Å, every atom a "
        f"target; peak = tracemalloc peak of graph construction"
    )
    print("frames/s as wall clock | CPU time of this process (differs when the CPU is shared)")
    print(
        f"{'box':<13}{'receptive field':<16}{'read f/s':>16}{'graph f/s':>14}"
        f"{'graph+inference f/s':>21}{'epoch s':>14}"
        f"{'store MB':>9}{'peak MB':>9}{'peak MB, 1/4 traj':>19}"
    )
    with tempfile.TemporaryDirectory() as folder:
        # one-time costs (imports, first allocations) are not per-frame costs
        warm = make_trajectory(Path(folder) / "warm.dcd", args.atoms, 8, False)
        for field in args.fields.split(","):
            measure(warm, args.atoms, 8, field)
        for triclinic in (False, True):
            u = make_trajectory(
                Path(folder) / f"t{int(triclinic)}.dcd", args.atoms, args.frames, triclinic
            )
            for field in args.fields.split(","):
                r = measure(u, args.atoms, args.frames, field)

                def pair(x):
                    return f"{x[0]:.1f} | {x[1]:.1f}"

                print(
                    f"{'triclinic' if triclinic else 'orthorhombic':<13}{field:<16}"
                    f"{pair(r['read']):>16}{pair(r['graph']):>14}{pair(r['both']):>21}"
                    f"{pair(r['epoch']):>14}"
                    f"{r['store'] / 1e6:>9.1f}{r['peak'] / 1e6:>9.1f}"
                    f"{r['peak_quarter'] / 1e6:>19.1f}"
                )
            print(f"{'':<13}load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        "peak - store is the per-frame working memory: the same for the full and the 1/4 trajectory"
    )


if __name__ == "__main__":
    main()
