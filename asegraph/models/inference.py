"""Structures in, predictions out, with a model's own graph settings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from ase.data import chemical_symbols

from asegraph.exceptions import ParameterError, StructureError
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
    return check_elements(
        model, graphs, lambda k: graphs[k].name or structure_name(structures[k]), errors
    )


def check_elements(
    model: CGCNN,
    graphs: Sequence[Any],
    label: Callable[[int], str],
    errors: str = "return",
) -> list[Any]:
    """Replace each graph with an element ``model``'s atom table lacks by a StructureError.

    ``label(k)`` names structure ``k`` in the message. Entries that are already
    exceptions pass through. With ``errors="raise"`` the first uncovered graph
    raises instead.
    """
    known = model.atom_known.cpu().numpy()
    config = model.config
    result = list(graphs)
    for k, graph in enumerate(graphs):
        if isinstance(graph, Exception):
            continue
        numbers = graph.numbers
        inside = numbers < len(known)
        ok = np.zeros(len(numbers), dtype=bool)
        ok[inside] = known[numbers[inside]]
        if not ok.all():
            z = int(numbers[~ok][0])
            error = StructureError(
                f"structure {label(k)!r}: element {chemical_symbols[z]} (Z={z}) has no features in "
                f"this model's atom table ({config.atom_table_name!r}); use a model trained "
                "with that element"
            )
            if errors == "raise":
                raise error
            result[k] = error
    return result


def model_batch(model: CGCNN, graphs: Sequence[CrystalGraph]) -> GraphBatch:
    """Collate graphs in the model's dtype and device."""
    parameter = next(model.parameters())
    return collate(graphs).to(device=parameter.device, dtype=parameter.dtype)


_PER_ATOM = ("atom_embeddings", "atom_layers")  # model outputs with one row per atom


@torch.inference_mode()  # no autograd bookkeeping at all (outputs leave as numpy)
def predict_graphs(
    model: CGCNN,
    graphs: Iterable[CrystalGraph],
    batch_size: int = 64,
    extra: Sequence[str] = (),
    progress: bool = False,
) -> dict[str, Any]:
    """Predict for graphs in batches: the one batched prediction path of asegraph.

    Used by the CLI, the trainer's evaluation, the calculator's :func:`predict`,
    screening and interpretation.

    Parameters
    ----------
    model : CGCNN or Ensemble
        Any dtype or device: graphs are collated to match it.
    graphs : iterable of CrystalGraph
        Built with the model's settings (:func:`model_graphs`).
    batch_size : int, default 64
        Structures per forward pass.
    extra : sequence of str
        Further model outputs to return (see :meth:`CGCNN.forward`):
        per-atom ones (``"atom_embeddings"``, ``"atom_layers"``) as a list
        of per-structure arrays, per-structure ones (``"crystal_embeddings"``)
        concatenated. ``"atom_layers"`` switches on ``layers=True``.
    progress : bool
        Show a tqdm bar over structures.

    Returns
    -------
    dict
        ``"y"`` [B, n_out] (target units — log10 space for log10 targets — or
        class probabilities) as float64. An ensemble adds ``"y_std"`` [B, n_out]
        (members' standard deviation) and ``"y_members"`` [M, B, n_out].
        Per-atom models (``readout="site"``) add ``"site"``, a list of
        [n_atoms_b, n_targets] arrays (and ``"site_std"`` for an ensemble);
        and each name in ``extra`` the model gave.
    """
    from tqdm import tqdm

    if int(batch_size) != batch_size or batch_size < 1:
        raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
    model.eval()
    graphs = list(graphs)
    parts: dict[str, list[np.ndarray]] = {}
    sites: dict[str, list[np.ndarray]] = {}
    extras: dict[str, list] = {name: [] for name in extra}
    options = {"layers": True} if "atom_layers" in extra else {}
    bar = tqdm(total=len(graphs), unit="structure", desc="predicting", disable=not progress)
    for start in range(0, len(graphs), batch_size):
        chunk = graphs[start : start + batch_size]
        out = model(model_batch(model, chunk), **options)
        for key in ("y", "y_std", "y_members"):  # y_members [M, b, n_out]: an ensemble
            if key in out:
                parts.setdefault(key, []).append(out[key].double().cpu().numpy())
        split = np.cumsum([g.n_atoms for g in chunk])[:-1]
        for key in ("site", "site_std"):
            if key in out:
                sites.setdefault(key, []).extend(np.split(out[key].double().cpu().numpy(), split))
        for name in extras:
            if name not in out:
                continue
            values = out[name].double().cpu().numpy()
            if name in _PER_ATOM:
                extras[name].extend(np.split(values, split))
            else:
                extras[name].append(values)
        bar.update(len(chunk))
    bar.close()
    n_out = model.config.n_outputs
    result: dict[str, Any] = {"y": np.zeros((0, n_out))}
    if hasattr(model, "members"):  # the same keys for no graphs at all
        result["y_std"] = np.zeros((0, n_out))
        result["y_members"] = np.zeros((len(model.members), 0, n_out))
    for key, arrays in parts.items():
        result[key] = np.concatenate(arrays, axis=1 if key == "y_members" else 0)
    result.update(sites)
    for name, values in extras.items():
        if values:
            result[name] = values if name in _PER_ATOM else np.concatenate(values)
    return result
