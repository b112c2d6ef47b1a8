"""Shared fixtures. Reference data in ../shared is optional: tests using it skip."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # two cores: avoid oversubscription (see DESIGN.md)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASEGRAPH_SHARED", REPO.parent / "shared"))
CGCNN_REF = SHARED / "reference" / "cgcnn"


@pytest.fixture(autouse=True, scope="session")
def one_blas_thread():
    """numpy's BLAS threads oversubscribe two cores too: ASE's BFGS diagonalises with
    numpy at every step, and a 22-step relaxation took 8x longer with two threads."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture
def shared_cgcnn() -> Path:
    """The original authors' CGCNN files; skip when ../shared is absent."""
    if not (CGCNN_REF / "pre-trained").is_dir():
        pytest.skip("../shared/reference/cgcnn is not available")
    return CGCNN_REF


@pytest.fixture
def published_model_dir(shared_cgcnn, monkeypatch, tmp_path) -> Path:
    """Point the registry at the shared checkpoints and an empty cache."""
    dirs = [shared_cgcnn / "pre-trained", shared_cgcnn / "data" / "sample-regression"]
    monkeypatch.setenv("ASEGRAPH_MODEL_DIR", os.pathsep.join(map(str, dirs)))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("ASEGRAPH_OFFLINE", "1")
    return shared_cgcnn


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261129)
