"""Files to predictions: ``asegraph predict`` on a folder of perovskite CIFs, end to end.

Usage::

    python benchmarks/predict_folder.py [--csv ../shared/data/perov_5/val.csv] [--limit N]

Writes every CIF of the CSV into a temporary folder (never the repository),
then times, one thread, what ``asegraph predict formation-energy-per-atom
FOLDER -o out.csv`` does — read every file, build the graphs, run the model,
write the CSV — and reports structures per second (goal: >= 1,000). The
predictions are compared with those of the same model on the same CIFs parsed
by pymatgen (the original code's reader): the table gives the largest
difference (goal: <= 1e-5 eV/atom).

The published model comes from ``$ASEGRAPH_MODEL_DIR`` (default:
``../shared/reference/cgcnn/pre-trained`` and its ``atom_init.json``). Times
are wall-clock seconds of the whole command; on a shared machine they are
pessimistic, so the CPU seconds of this process are printed too.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("ASEGRAPH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DEFAULT_CSV = SHARED / "data" / "perov_5" / "val.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--model", default="formation-energy-per-atom")
    args = parser.parse_args()
    if not args.csv.is_file():
        raise SystemExit(f"perovskite CSV '{args.csv}' not found; pass --csv PATH")
    reference = SHARED / "reference" / "cgcnn"
    os.environ.setdefault(
        "ASEGRAPH_MODEL_DIR",
        os.pathsep.join(
            [str(reference / "pre-trained"), str(reference / "data/sample-regression")]
        ),
    )
    os.environ.setdefault("ASEGRAPH_OFFLINE", "1")

    import torch
    from click.testing import CliRunner

    from asegraph.cli.main import cli

    torch.set_num_threads(1)
    with open(args.csv) as handle:
        rows = list(csv.DictReader(handle))[: args.limit]
    with tempfile.TemporaryDirectory(prefix="asegraph-bench-") as tmp:
        folder = Path(tmp) / "cifs"
        folder.mkdir()
        for row in rows:
            (folder / f"{row['material_id']}.cif").write_text(row["cif"])
        out = Path(tmp) / "out.csv"
        CliRunner().invoke(cli, ["models"])  # import everything once, outside the timing
        wall, cpu = time.perf_counter(), time.process_time()
        result = CliRunner().invoke(
            cli, ["predict", args.model, str(folder), "-o", str(out), "--no-progress"]
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if result.exit_code != 0:
            raise SystemExit(result.output)
        predicted = {
            r["id"]: float(r["formation_energy_per_atom (eV/atom)"])
            for r in csv.DictReader(out.open())
            if not r["error"]
        }
    difference = compare_with_pymatgen(rows, predicted, args.model)
    n = len(rows)
    print(
        f"{'structures':>10s} {'wall s':>8s} {'structures/s':>13s} {'CPU s':>7s} {'per CPU s':>10s}"
    )
    print(f"{n:10d} {wall:8.2f} {n / wall:13.0f} {cpu:7.2f} {n / cpu:10.0f}")
    print(f"predicted {len(predicted)} of {n}; largest |asegraph - pymatgen-parsed| = "
          f"{difference:.2e} eV/atom (goal <= 1e-5)")  # fmt: skip


def compare_with_pymatgen(rows, predicted: dict[str, float], model_name: str) -> float:
    """Largest difference from the same model on pymatgen-parsed structures."""
    from pymatgen.core import Structure

    from asegraph.models.inference import model_graphs, predict_graphs
    from asegraph.models.registry import load_pretrained

    model = load_pretrained(model_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structures = [Structure.from_str(r["cif"], fmt="cif") for r in rows]
    ids = [r["material_id"] for r in rows]
    graphs = model_graphs(model, structures, ids)
    ok = [k for k, g in enumerate(graphs) if not isinstance(g, Exception)]
    values = predict_graphs(model, [graphs[k] for k in ok], batch_size=256)["y"][:, 0]
    theirs = dict(zip([ids[k] for k in ok], values, strict=True))
    common = sorted(set(theirs) & set(predicted))
    if len(common) != len(theirs):
        print(f"warning: {len(theirs) - len(common)} structures predicted by only one reader")
    return float(np.max(np.abs([predicted[i] - theirs[i] for i in common])))


if __name__ == "__main__":
    main()
