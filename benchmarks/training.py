"""Training speed: asegraph vs a re-implementation of the original CGCNN pipeline.

Usage::

    python benchmarks/training.py [--n-train 1200] [--n-val 400] [--epochs 3]

Both sides train the same architecture (gated convolution, 64-dim atoms,
3 convolutions, 128 hidden, batch 256 as in the original defaults) on the
first perovskites of ``../shared/data/perov_5/val.csv``, one thread. The
baseline follows the original code's data path: a pymatgen ``Structure`` per
CIF, ``get_all_neighbors(8)``, a Python sort and cut to 12 per atom, a padded
``[N, 12]`` neighbour tensor, built in the first epoch and cached in memory.
Printed: first-epoch time (graph building included), later-epoch time and
structures/s, and the ratios baseline / asegraph.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


# -- baseline: the original code's data layout, written for this comparison ---------------
class PaddedGatedConv(nn.Module):
    def __init__(self, a: int, g: int) -> None:
        super().__init__()
        self.fc = nn.Linear(2 * a + g, 2 * a)
        self.bn1, self.bn2 = nn.BatchNorm1d(2 * a), nn.BatchNorm1d(a)

    def forward(self, x, nbr, idx):  # x [N, A], nbr [N, M, G], idx [N, M]
        n, m = idx.shape
        z = torch.cat([x[:, None].expand(n, m, x.shape[1]), x[idx], nbr], dim=2)
        gated = self.bn1(self.fc(z).view(n * m, -1)).view(n, m, -1)
        gate, core = gated.chunk(2, dim=2)
        summed = self.bn2((torch.sigmoid(gate) * nn.functional.softplus(core)).sum(dim=1))
        return nn.functional.softplus(x + summed)


class PaddedCGCNN(nn.Module):
    def __init__(self, n_features: int, a=64, g=41, h=128, n_conv=3) -> None:
        super().__init__()
        self.embed = nn.Linear(n_features, a)
        self.convs = nn.ModuleList(PaddedGatedConv(a, g) for _ in range(n_conv))
        self.fc, self.out = nn.Linear(a, h), nn.Linear(h, 1)

    def forward(self, atom_fea, nbr, idx, crystal_index, n_crystals):
        x = self.embed(atom_fea)
        for conv in self.convs:
            x = conv(x, nbr, idx)
        pooled = torch.zeros(n_crystals, x.shape[1]).index_add_(0, crystal_index, x)
        pooled = pooled / torch.bincount(crystal_index, minlength=n_crystals)[:, None]
        return self.out(nn.functional.softplus(self.fc(nn.functional.softplus(pooled))))


def baseline_item(cif: str, atom_init: dict):
    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structure = Structure.from_str(cif, fmt="cif")
    neighbours = [sorted(n, key=lambda x: x[1])[:12] for n in structure.get_all_neighbors(8.0)]
    idx = np.array([[x[2] for x in n] for n in neighbours])
    dist = np.array([[x[1] for x in n] for n in neighbours])
    nbr = np.exp(-((dist[..., None] - np.arange(0, 8.2, 0.2)) ** 2) / 0.04)
    features = np.array([atom_init[str(site.specie.number)] for site in structure])
    return (
        torch.tensor(features, dtype=torch.float32),
        torch.tensor(nbr, dtype=torch.float32),
        torch.tensor(idx),
    )


def baseline_batch(items):
    features, nbrs, idxs, owner, offset = [], [], [], [], 0
    for k, (f, nbr, idx) in enumerate(items):
        features.append(f)
        nbrs.append(nbr)
        idxs.append(idx + offset)
        owner.append(torch.full((len(f),), k))
        offset += len(f)
    return torch.cat(features), torch.cat(nbrs), torch.cat(idxs), torch.cat(owner), len(items)


def run_baseline(cifs, y, atom_init, epochs, batch_size):
    torch.manual_seed(0)
    model = PaddedCGCNN(len(next(iter(atom_init.values()))))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    cache: dict[int, tuple] = {}
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = np.random.permutation(len(cifs))
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            items = []
            for i in idx:
                if i not in cache:  # built on first use, as the original's cache
                    cache[i] = baseline_item(cifs[i], atom_init)
                items.append(cache[i])
            out = model(*baseline_batch(items))
            loss = nn.functional.mse_loss(out[:, 0], y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def run_asegraph(path, n_train, epochs, batch_size):
    from asegraph.data.datasets import load_graph_dataset
    from asegraph.models.cgcnn import CGCNN, CGCNNConfig
    from asegraph.training import Trainer, TrainingConfig

    start = time.perf_counter()
    data = load_graph_dataset(path, ["heat_ref / 5"], rows=slice(0, n_train))
    build = time.perf_counter() - start
    torch.manual_seed(0)
    model = CGCNN(CGCNNConfig(targets=["e"], units=["eV/atom"]))
    trainer = Trainer(
        model,
        TrainingConfig(epochs=epochs, batch_size=batch_size, optimizer="sgd", lr=0.01),
        progress=False,
    )
    trainer.fit(data.graphs, data.targets)
    epoch_times = np.diff([0.0] + [r["time_s"] for r in trainer.history])
    return build, list(epoch_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=1200)
    parser.add_argument("--n-val", type=int, default=400, help="counted in structures/s only")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = SHARED / "data" / "perov_5" / "val.csv"
    atom_init = json.loads(
        (SHARED / "reference/cgcnn/data/sample-regression/atom_init.json").read_text()
    )
    with open(path) as handle:
        rows = list(csv.DictReader(handle))[: args.n_train]
    cifs = [r["cif"] for r in rows]
    y = torch.tensor([float(r["heat_ref"]) / 5 for r in rows], dtype=torch.float32)

    base = run_baseline(cifs, y, atom_init, args.epochs, args.batch_size)
    build, ours = run_asegraph(path, args.n_train, args.epochs, args.batch_size)
    ours_first = build + ours[0]
    n = args.n_train
    print(f"training on {n} perovskites, batch {args.batch_size}, one thread, {args.epochs} epochs")
    print(f"{'':34s} {'baseline':>10s} {'asegraph':>10s} {'ratio':>7s}")
    rows_out = [
        ("first epoch incl. graphs (s)", base[0], ours_first),
        ("later epochs, mean (s)", float(np.mean(base[1:])), float(np.mean(ours[1:]))),
        ("first epoch structures/s", n / base[0], n / ours_first),
        ("later epochs structures/s", n / np.mean(base[1:]), n / np.mean(ours[1:])),
    ]
    for label, b, o in rows_out:
        ratio = b / o if "(s)" in label else o / b
        print(f"{label:34s} {b:10.2f} {o:10.2f} {ratio:6.1f}x")
    print(f"(asegraph graph building alone: {build:.2f} s; ratio >1 means asegraph is faster)")


if __name__ == "__main__":
    main()
