"""CGCNN inside ASE: the calculator, batched prediction and an EOS consistency check.

``from asegraph.calculators import CGCNNCalculator, eos_check, with_envelope``
(imported lazily, so ``import asegraph.calculators`` stays light; ``with_envelope``
lives in :mod:`asegraph.models.envelope`). The batched
``predict`` shares its name with its module: import it as
``from asegraph.calculators.predict import predict``.
"""

from __future__ import annotations

_EXPORTS = {
    "CGCNNCalculator": "asegraph.calculators.cgcnn",
    "eos_check": "asegraph.calculators.elastic",
    "with_envelope": "asegraph.models.envelope",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'asegraph.calculators' has no attribute {name!r}")
