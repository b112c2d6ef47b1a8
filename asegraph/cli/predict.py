"""``asegraph predict``: a model's predictions for many structure files, as CSV."""

from __future__ import annotations

import csv
import io
import sys

import click
import numpy as np


@click.command()
@click.argument("model")
@click.argument("structures", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="CSV file.")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--atom-init",
    type=click.Path(exists=True, dir_okay=False),
    help="atom_init.json of an original .pth.tar MODEL (default: the published one).",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def predict(
    model: str,
    structures: tuple[str, ...],
    output: str,
    batch_size: int,
    atom_init: str | None,
    progress: bool,
) -> None:
    """Predict with MODEL (a model file or pretrained name) for STRUCTURES.

    STRUCTURES are files ASE or pymatgen read (CIF, POSCAR, extxyz, ...),
    folders of such files, or ASE databases. A structure that cannot be read
    or converted gets a row with its error; the rest are still predicted.
    """
    from tqdm import tqdm

    from asegraph._utils.files import atomic_write_bytes
    from asegraph.exceptions import AsegraphError
    from asegraph.io import read_structures
    from asegraph.models.inference import model_graphs, predict_graphs
    from asegraph.models.loader import load

    entries = read_structures(list(structures))  # checks every source exists first
    net = load(model, atom_init=atom_init)
    rows, readable, names = {}, [], []
    for sid, item in tqdm(entries, desc="reading", unit="structure", disable=not progress):
        if isinstance(item, Exception):
            rows[sid] = {"id": sid, "error": str(item)}
            continue
        rows[sid] = {"id": sid, "formula": item.get_chemical_formula(), "n_atoms": len(item)}
        readable.append(item)
        names.append(sid)
    ids, graphs = [], []
    for sid, graph in zip(names, model_graphs(net, readable, names, errors="return")):
        if isinstance(graph, AsegraphError):
            rows[sid]["error"] = str(graph)
        else:
            ids.append(sid)
            graphs.append(graph)
    std_columns = []
    if graphs:
        result = predict_graphs(net, graphs, batch_size=batch_size)
        for k, (sid, values) in enumerate(zip(ids, result["y"])):
            rows[sid].update(_columns(net.config, values))
            if "y_std" in result:  # ensemble spread, in the space the model predicts in
                spread = {
                    f"std_{name}": float(v)
                    for name, v in zip(_std_names(net.config), result["y_std"][k])
                }
                rows[sid].update(spread)
                std_columns = list(spread)
    columns = ["id", "formula", "n_atoms", *_column_names(net.config), *std_columns, "error"]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows.values())
    atomic_write_bytes(output, lambda handle: handle.write(text.getvalue().encode()))
    failed = len(rows) - len(ids)
    click.echo(
        f"predicted {len(ids)} of {len(rows)} structures -> {output}"
        + (f"; {failed} failed (see the 'error' column)" if failed else ""),
        err=True,
    )
    if not ids:
        sys.exit(1)


def _std_names(config) -> list[str]:
    if config.task == "classification":
        return [f"p_{c}" for c in config.classes]
    return [
        f"log10_{t}" if transform == "log10" else t
        for t, transform in zip(config.targets, config.target_transform)
    ]


def _column_names(config) -> list[str]:
    if config.task == "classification":
        return [f"p_{c}" for c in config.classes] + ["predicted_class"]
    names = []
    for target, unit, transform in zip(config.targets, config.units, config.target_transform):
        suffix = f" ({unit})" if unit else ""
        if transform == "log10":
            names += [f"log10_{target}", f"{target}{suffix}"]
        else:
            names.append(f"{target}{suffix}")
    return names


def _columns(config, values: np.ndarray) -> dict[str, float | str]:
    names = _column_names(config)
    if config.task == "classification":
        out = {name: float(v) for name, v in zip(names, values)}
        out["predicted_class"] = config.classes[int(np.argmax(values))]
        return out
    flat = []
    for value, transform in zip(values, config.target_transform):
        flat += [float(value), float(10.0**value)] if transform == "log10" else [float(value)]
    return dict(zip(names, flat))
