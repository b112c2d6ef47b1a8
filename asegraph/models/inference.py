"""Structures in, predictions out, with a model's own graph settings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from asegraph.graph.batch import GraphBatch, collate
from asegraph.graph.crystal_graph import CrystalGraph, build_graph
from asegraph.models.cgcnn import CGCNN


def model_graph(model: CGCNN, structure: Any, name: str | None = None) -> CrystalGraph:
    """Build the graph of ``structure`` with the settings ``model`` was trained with.

    Raises :class:`~asegraph.exceptions.StructureError` for an invalid structure
    or an element the model's atom feature table does not cover.
    """
    config = model.config
    graph = build_graph(
        structure,
        cutoff=config.cutoff,
        max_neighbors=config.max_neighbors,
        ties=config.ties,
        name=name,
    )
    known = model.atom_known.cpu().numpy()
    numbers = graph.numbers
    inside = numbers < len(known)
    ok = np.zeros(len(numbers), dtype=bool)
    ok[inside] = known[numbers[inside]]
    if not ok.all():
        from asegraph.exceptions import StructureError

        symbol = graph.numbers[~ok][0]
        from ase.data import chemical_symbols

        raise StructureError(
            f"structure {graph.name!r}: element {chemical_symbols[symbol]} (Z={symbol}) has no "
            f"features in this model's atom table ({config.atom_table_name!r}); use a model "
            "trained with that element"
        )
    return graph


def model_batch(model: CGCNN, graphs: Sequence[CrystalGraph]) -> GraphBatch:
    """Collate graphs in the model's dtype and device."""
    parameter = next(model.parameters())
    return collate(graphs).to(device=parameter.device, dtype=parameter.dtype)


@torch.no_grad()
def predict_graphs(
    model: CGCNN, graphs: Iterable[CrystalGraph], batch_size: int = 64
) -> dict[str, np.ndarray]:
    """Predict for graphs in batches.

    Returns
    -------
    dict
        ``"y"`` [B, n_out] (target units, or class probabilities) as float64,
        and ``"site"`` (a list of [n_atoms_b, n_targets] arrays) for per-atom
        models.
    """
    model.eval()
    graphs = list(graphs)
    ys, sites = [], []
    for start in range(0, len(graphs), batch_size):
        chunk = graphs[start : start + batch_size]
        batch = model_batch(model, chunk)
        out = model(batch)
        ys.append(out["y"].double().cpu().numpy())
        if "site" in out:
            split = np.cumsum([g.n_atoms for g in chunk])[:-1]
            sites.extend(np.split(out["site"].double().cpu().numpy(), split))
    result: dict[str, Any] = {
        "y": np.concatenate(ys) if ys else np.zeros((0, model.config.n_outputs))
    }
    if sites:
        result["site"] = sites
    return result
