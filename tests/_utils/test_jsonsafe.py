"""Plain data for JSON: numpy values, tuples, keys and non-finite floats."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from asegraph._utils.jsonsafe import jsonsafe, write_json


def test_jsonsafe_converts_numpy_tuples_keys_paths_and_nonfinite():
    value = {
        1: np.float32(0.5),
        "a": (np.int64(3), np.arange(2)),
        "nan": math.nan,
        "inf": np.inf,
        "p": Path("x/y"),
        "s": "text",
    }
    out = jsonsafe(value)
    assert out == {"1": 0.5, "a": [3, [0, 1]], "nan": None, "inf": None, "p": "x/y", "s": "text"}
    assert type(out["a"][0]) is int and type(out["1"]) is float


def test_write_json_writes_strict_json(tmp_path):
    path = write_json(tmp_path / "m.json", {"r2": float("nan"), "mae": np.float64(0.25)})
    text = path.read_text()
    assert "NaN" not in text
    assert json.loads(text) == {"r2": None, "mae": 0.25}
