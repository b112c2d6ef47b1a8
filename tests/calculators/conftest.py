"""Fixtures of the calculator tests: the toy potentials."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


@pytest.fixture
def toy_smooth() -> Path:
    """A per-atom CGCNN with the smooth envelope fitted to the toy rock-salt potential."""
    return HERE / "data" / "toy_smooth.pt"


@pytest.fixture
def toy_knn() -> Path:
    """The same, with the published models' 12-nearest-neighbour graph and no envelope."""
    return HERE / "data" / "toy_knn.pt"
