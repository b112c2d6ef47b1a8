"""``asegraph demo``: the quick-start job on the bundled EMT alloy dataset.

Builds crystal graphs, trains a small gated CGCNN for a bounded time, reports
test errors against a mean-value baseline and writes the model, the epoch log
and the test predictions.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np


@click.command()
@click.option(
    "-o",
    "--output-dir",
    default="asegraph-demo",
    show_default=True,
    type=click.Path(file_okay=False),
)
@click.option("--max-time", default=60.0, show_default=True, help="Training budget, seconds.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--threads",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="torch threads; small graphs train fastest on one.",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def demo(output_dir: str, max_time: float, seed: int, threads: int, progress: bool) -> None:
    """Train and test a CGCNN on the bundled EMT alloy energies (offline, ~1 minute)."""
    import ase.io
    import torch

    torch.set_num_threads(threads)

    from asegraph._utils.files import atomic_write_text
    from asegraph.data.emt_alloys import EXAMPLE_PATH
    from asegraph.graph.crystal_graph import build_graphs
    from asegraph.models.cgcnn import CGCNN, CGCNNConfig
    from asegraph.training import Trainer, TrainingConfig

    out = Path(output_dir)
    for stale in ("checkpoint.pt", "log.csv", "best_model.pt"):  # a demo starts afresh
        (out / stale).unlink(missing_ok=True)
    frames = ase.io.read(EXAMPLE_PATH, index=":")
    targets = np.array([f.info["energy_per_atom"] for f in frames])
    t0 = time.perf_counter()
    graphs = build_graphs(frames, cutoff=6.0, names=[f"alloy-{k}" for k in range(len(frames))])
    t_graph = time.perf_counter() - t0
    order = np.random.default_rng(seed).permutation(len(graphs))
    n_train, n_val = int(0.8 * len(order)), int(0.1 * len(order))
    split = {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }

    def pick(name):
        return [graphs[i] for i in split[name]], targets[split[name]]

    torch.manual_seed(seed)  # the weights' initialisation; local to this command
    config = CGCNNConfig(
        targets=["energy_per_atom"],
        units=["eV/atom"],
        atom_dim=32,
        n_conv=3,
        hidden_dim=64,
        cutoff=6.0,
    )
    model = CGCNN(config)
    trainer = Trainer(
        model,
        TrainingConfig(epochs=400, batch_size=32, lr=3e-3, max_time_s=max_time, seed=seed),
        output_dir=out,
        progress=progress,
    )
    trainer.fit(*pick("train"), *pick("val"))
    test_graphs, test_y = pick("test")
    test = trainer.evaluate(test_graphs, test_y)
    baseline = float(np.abs(test_y - targets[split["train"]].mean()).mean())
    predicted = trainer.predict(test_graphs)[:, 0]
    lines = ["id,energy_per_atom_emt,energy_per_atom_cgcnn"]
    lines += [f"alloy-{i},{y:.6f},{p:.6f}" for i, y, p in zip(split["test"], test_y, predicted)]
    atomic_write_text(out / "test_predictions.csv", "\n".join(lines) + "\n")
    click.echo(
        f"\n{len(frames)} structures, graphs built in {t_graph:.2f} s "
        f"({len(frames) / t_graph:.0f} structures/s)\n"
        f"trained {len(trainer.history)} epochs in {trainer.history[-1]['time_s']:.0f} s "
        f"(best epoch {trainer.best_epoch})\n"
        f"test MAE {test['mae'] * 1000:.1f} meV/atom  (predicting the mean: "
        f"{baseline * 1000:.1f} meV/atom), R² {test['r2']:.3f}\n"
        f"wrote {out}/best_model.pt, {out}/log.csv, {out}/test_predictions.csv\n"
        f"next: asegraph predict {out}/best_model.pt YOUR_STRUCTURES -o predictions.csv"
    )
