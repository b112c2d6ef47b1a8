"""How often imported published models match the original CGCNN pipeline, and why not.

Usage::

    python benchmarks/original_agreement.py [--model formation-energy-per-atom] [--limit N]

For each perovskite of ``../shared/data/perov_5/val.csv`` it compares
asegraph's prediction (``ties="truncate"``, the original's rule) with an
independent re-implementation of the original code's path (pymatgen's
``get_all_neighbors``, sorted, first 12, padded [N, 12] convolution; see
``tests/models/original_reference.py``), and splits structures into those whose
12-nearest graph is unambiguous and those where tied neighbours of different
elements straddle the 12th place. Prints counts and the largest differences.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="formation-energy-per-atom")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()

    import torch
    from pymatgen.core import Structure

    from asegraph.models.checkpoint import import_original
    from asegraph.models.inference import model_graphs, predict_graphs

    sys.path.insert(0, str(ROOT / "tests" / "models"))
    from original_reference import is_ambiguous, original_predict

    torch.set_num_threads(1)
    reference = SHARED / "reference" / "cgcnn"
    checkpoint_path = reference / "pre-trained" / f"{args.model}.pth.tar"
    atom_init_path = reference / "data" / "sample-regression" / "atom_init.json"
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    atom_init = json.loads(atom_init_path.read_text())
    model = import_original(checkpoint_path, atom_init_path).double()

    with open(SHARED / "data" / "perov_5" / "val.csv") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = list(csv.DictReader(handle))[: args.limit]
        structures = [Structure.from_str(r["cif"], fmt="cif") for r in rows]
    ours = predict_graphs(model, model_graphs(model, structures, errors="raise"))["y"][:, 0]
    theirs = np.array([original_predict(checkpoint, atom_init, s) for s in structures])
    ambiguous = np.array([is_ambiguous(s) for s in structures])
    diff = np.abs(ours - theirs)
    print(f"model {args.model}, {len(structures)} perovskites")
    print(f"{'12-nearest graph':22s} {'structures':>10s} {'max |diff|':>11s} {'> 1e-4':>7s}")
    for label, mask in (("unambiguous", ~ambiguous), ("ambiguous (mixed tie)", ambiguous)):
        worst = diff[mask].max() if mask.any() else float("nan")
        print(f"{label:22s} {mask.sum():10d} {worst:11.2e} {(diff[mask] > 1e-4).sum():7d}")


if __name__ == "__main__":
    main()
