"""Crystal graphs: periodic k-nearest neighbours, atom and edge features, batching.

One import per concept (loaded lazily)::

    from asegraph.graph import build_graph, build_graphs, CrystalGraph, collate
"""

from __future__ import annotations

from asegraph._utils.lazy import lazy_exports

_EXPORTS = {
    "build_graph": "asegraph.graph.crystal_graph",
    "build_graphs": "asegraph.graph.crystal_graph",
    "CrystalGraph": "asegraph.graph.crystal_graph",
    "GraphBatch": "asegraph.graph.batch",
    "collate": "asegraph.graph.batch",
    "AtomFeatureTable": "asegraph.graph.features",
    "GaussianDistance": "asegraph.graph.features",
    "to_atoms": "asegraph.graph.structures",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
