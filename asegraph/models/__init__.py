"""CGCNN models: the network, ensembles, files and the published models.

One import per concept (loaded lazily, so ``import asegraph.models`` is cheap)::

    from asegraph.models import CGCNN, CGCNNConfig, Ensemble, load, save, load_pretrained
    from asegraph.models import model_graphs, predict_graphs, with_envelope
"""

from __future__ import annotations

from asegraph._utils.lazy import lazy_exports

_EXPORTS = {
    "CGCNN": "asegraph.models.cgcnn",
    "CGCNNConfig": "asegraph.models.cgcnn",
    "Ensemble": "asegraph.models.ensemble",
    "load": "asegraph.models.loader",
    "save": "asegraph.models.loader",
    "load_pretrained": "asegraph.models.registry",
    "PRETRAINED": "asegraph.models.registry",
    "model_graph": "asegraph.models.inference",
    "model_graphs": "asegraph.models.inference",
    "predict_graphs": "asegraph.models.inference",
    "with_envelope": "asegraph.models.envelope",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
