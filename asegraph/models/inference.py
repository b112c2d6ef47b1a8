"""Structures in, predictions out, with a model's own graph settings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from ase.data import chemical_symbols

from asegraph.exceptions import StructureError
from asegraph.graph.batch import GraphBatch, collate
from asegraph.graph.crystal_graph import CrystalGraph, build_graphs
from asegraph.graph.structures import structure_name
from asegraph.models.cgcnn import CGCNN


def model_graph(model: CGCNN, structure: Any, name: str | None = None) -> CrystalGraph:
    """Build the graph of ``structure`` with the settings ``model`` was trained with.

    Raises :class:`~asegraph.exceptions.StructureError` for an invalid structure
    or an element the model's atom feature table does not cover.
    """
    result = model_graphs(model, [structure], [name], errors="raise")[0]
    return result  # type: ignore[return-value]


def model_graphs(
    model: CGCNN,
    structures: Sequence[Any],
    names: Sequence[str | None] | None = None,
    errors: str = "return",
) -> list[CrystalGraph | StructureError]:
    """Graphs of many structures with the model's settings (see :func:`build_graphs`).

    With ``errors="return"`` an invalid structure, or one with an element the
    model's atom table lacks, yields its :class:`StructureError` in place.
    """
    config = model.config
    graphs = build_graphs(
        structures,
        cutoff=config.cutoff,
        max_neighbors=config.max_neighbors,
        ties=config.ties,
        names=names,
        errors=errors,
    )
    known = model.atom_known.cpu().numpy()
    for k, graph in enumerate(graphs):
        if isinstance(graph, StructureError):
            continue
        numbers = graph.numbers
        inside = numbers < len(known)
        ok = np.zeros(len(numbers), dtype=bool)
        ok[inside] = known[numbers[inside]]
        if not ok.all():
            z = int(numbers[~ok][0])
            label = graph.name or structure_name(structures[k])
            error = StructureError(
                f"structure {label!r}: element {chemical_symbols[z]} (Z={z}) has no features in "
                f"this model's atom table ({config.atom_table_name!r}); use a model trained "
                "with that element"
            )
            if errors == "raise":
                raise error
            graphs[k] = error
    return graphs


def model_batch(model: CGCNN, graphs: Sequence[CrystalGraph]) -> GraphBatch:
    """Collate graphs in the model's dtype and device."""
    parameter = next(model.parameters())
    return collate(graphs).to(device=parameter.device, dtype=parameter.dtype)


_PER_ATOM = ("atom_embeddings", "atom_layers")  # model outputs with one row per atom


@torch.no_grad()
def predict_graphs(
    model: CGCNN,
    graphs: Iterable[CrystalGraph],
    batch_size: int = 64,
    extra: Sequence[str] = (),
) -> dict[str, Any]:
    """Predict for graphs in batches.

    Parameters
    ----------
    model : CGCNN or Ensemble
    graphs : iterable of CrystalGraph
    batch_size : int, default 64
    extra : sequence of str
        Further model outputs to return (see :meth:`CGCNN.forward`):
        per-atom ones (``"atom_embeddings"``, ``"atom_layers"``) as a list
        of per-structure arrays, per-structure ones (``"crystal_embeddings"``)
        concatenated. ``"atom_layers"`` switches on ``layers=True``.

    Returns
    -------
    dict
        ``"y"`` [B, n_out] (target units, or class probabilities) as float64,
        ``"y_std"`` [B, n_out] for an ensemble, ``"site"`` (a list of
        [n_atoms_b, n_targets] arrays) for per-atom models, and each name in
        ``extra`` the model gave.
    """
    model.eval()
    graphs = list(graphs)
    ys, stds, sites = [], [], []
    extras: dict[str, list] = {name: [] for name in extra}
    options = {"layers": True} if "atom_layers" in extra else {}
    for start in range(0, len(graphs), batch_size):
        chunk = graphs[start : start + batch_size]
        batch = model_batch(model, chunk)
        out = model(batch, **options)
        ys.append(out["y"].double().cpu().numpy())
        if "y_std" in out:  # an ensemble: the members' spread
            stds.append(out["y_std"].double().cpu().numpy())
        split = np.cumsum([g.n_atoms for g in chunk])[:-1]
        if "site" in out:
            sites.extend(np.split(out["site"].double().cpu().numpy(), split))
        for name in extras:
            if name not in out:
                continue
            values = out[name].double().cpu().numpy()
            if name in _PER_ATOM:
                extras[name].extend(np.split(values, split))
            else:
                extras[name].append(values)
    result: dict[str, Any] = {
        "y": np.concatenate(ys) if ys else np.zeros((0, model.config.n_outputs))
    }
    if stds:
        result["y_std"] = np.concatenate(stds)
    if sites:
        result["site"] = sites
    for name, values in extras.items():
        if values:
            result[name] = values if name in _PER_ATOM else np.concatenate(values)
    return result
