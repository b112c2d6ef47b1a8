"""Labelled datasets: readers for CGCNN folders, CSV with CIF text, ASE databases, extxyz.

One import per concept (loaded lazily)::

    from asegraph.data import load_dataset, read_dataset, split_indices

``load_dataset`` reads and builds the graphs (with an optional disk cache);
``read_dataset`` only reads the structures.
"""

from __future__ import annotations

from asegraph._utils.lazy import lazy_exports

_EXPORTS = {
    "load_dataset": "asegraph.data.datasets:load_graph_dataset",
    "read_dataset": "asegraph.data.datasets",
    "split_indices": "asegraph.data.datasets",
    "GraphDataset": "asegraph.data.datasets",
    "StructureDataset": "asegraph.data.datasets",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
