"""Fixtures of the interpretation tests."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from interpret_models import make_model, perovskite  # noqa: E402


@pytest.fixture
def site_model():
    return make_model("site")


@pytest.fixture
def pool_model():
    return make_model("pool")


@pytest.fixture
def perovskites():
    rng = np.random.default_rng(3)
    out = []
    for a_site, b_site, a in [("Sr", "Ti", 3.9), ("Ba", "Zr", 4.2), ("Pb", "Ti", 3.97)]:
        atoms = perovskite(a_site, b_site, a=a)
        atoms.positions += rng.normal(scale=0.03, size=atoms.positions.shape)  # break ties
        out.append(atoms)
    out.append(perovskite("La", "Al", ("O", "O", "N"), a=3.8))
    return out
