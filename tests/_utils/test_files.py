"""The one atomic-write helper: file mode, atomicity, and every writer using it."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from asegraph._utils.files import atomic_path, atomic_write_bytes, atomic_write_text


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield 0o644
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_get_the_usual_mode_not_mkstemps_0600(tmp_path, umask_022):
    # defect 3: temp file + rename kept mkstemp's 0600
    assert _mode(atomic_write_text(tmp_path / "a.txt", "x")) == umask_022
    with atomic_path(tmp_path / "b.nc", suffix=".nc") as tmp:
        tmp.write_bytes(b"y")
    assert _mode(tmp_path / "b.nc") == umask_022


def test_mode_follows_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        assert _mode(atomic_write_text(tmp_path / "private.txt", "x")) == 0o600
    finally:
        os.umask(old)


def test_saved_model_file_is_readable_by_others(tmp_path, umask_022):
    from asegraph.models.cgcnn import CGCNN, CGCNNConfig
    from asegraph.models.checkpoint import save_model

    path = save_model(CGCNN(CGCNNConfig(atom_dim=8, n_conv=1, hidden_dim=8)), tmp_path / "m.pt")
    assert _mode(path) == umask_022


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = atomic_write_text(tmp_path / "keep.txt", "old")

    def fail(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write_bytes(path, fail)
    with pytest.raises(RuntimeError, match="boom"), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_creates_the_folder_and_writes_torch_payloads(tmp_path):
    path = atomic_write_bytes(tmp_path / "sub" / "t.pt", lambda h: torch.save({"a": 1}, h))
    assert torch.load(path, weights_only=True) == {"a": 1}
