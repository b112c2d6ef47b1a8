"""Plain-Python copies of nested results, safe for JSON and weights-only torch files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

__all__ = ["jsonsafe", "write_json"]


def jsonsafe(value: Any) -> Any:
    """A copy of ``value`` made of dicts, lists, str, int, float, bool and None only.

    numpy scalars and arrays become Python numbers and (nested) lists, tuples
    become lists, dict keys become strings, paths become strings, and non-finite
    floats (NaN, ±inf, which strict JSON cannot hold) become ``None``.
    """
    if isinstance(value, dict):
        return {str(k): jsonsafe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonsafe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return jsonsafe(value.tolist())  # numpy scalar or array, torch tensor
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | Path, value: Any, indent: int | None = 2) -> Path:
    """Write ``jsonsafe(value)`` as strict JSON to ``path``, atomically."""
    from asegraph._utils.files import atomic_write_text

    text = json.dumps(jsonsafe(value), indent=indent, allow_nan=False)
    return atomic_write_text(path, text + "\n")
