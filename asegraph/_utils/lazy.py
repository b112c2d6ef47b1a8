"""Lazy re-exports for package ``__init__`` modules (PEP 562).

``import asegraph.models`` stays cheap; ``from asegraph.models import CGCNN``
imports the defining module only then.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package`` exporting ``{name: "module[:attribute]"}``.

    Without ``:attribute`` the exported name is the attribute's own name.
    """

    def __getattr__(name: str):
        if name in exports:
            module, _, attribute = exports[name].partition(":")
            return getattr(importlib.import_module(module), attribute or name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
