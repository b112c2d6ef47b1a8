"""CGCNN inside ASE: the calculator, batched prediction and an EOS consistency check.

``from asegraph.calculators import CGCNNCalculator, eos_check, with_envelope``
(imported lazily, so ``import asegraph.calculators`` stays light; ``with_envelope``
lives in :mod:`asegraph.models.envelope`). The batched
``predict`` shares its name with its module: import it as
``from asegraph.calculators.predict import predict``.
"""

from __future__ import annotations

from asegraph._utils.lazy import lazy_exports

_EXPORTS = {
    "CGCNNCalculator": "asegraph.calculators.cgcnn",
    "eos_check": "asegraph.calculators.elastic",
    "with_envelope": "asegraph.models.envelope",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
