"""What `-o` may point at: symlinks, FIFOs, devices, and a full disk (issue 9, item 8)."""

from __future__ import annotations

import os
import stat
import subprocess
import threading

import pytest
import torch

from asegraph._utils.files import atomic_path, atomic_write_bytes, atomic_write_text
from asegraph.exceptions import OutputFileError

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def full_device(tmp_path):
    """A /dev/full: a private copy of the node as root (an unfixed helper replaced it)."""
    if ROOT:
        node = tmp_path / "full"
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
        return node
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    return "/dev/full"


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs holding model.pt ("old"), then filled up (needs root and mount)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if (
        not ROOT
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
        ).returncode
    ):
        pytest.skip("mounting a small tmpfs needs root")
    try:
        (mount / "model.pt").write_bytes(b"old")
        with open(mount / "filler", "wb") as handle, pytest.raises(OSError):
            handle.write(b"\0" * 128 * 1024)
            handle.flush()
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_symlink_stays_a_link_and_its_target_is_written(tmp_path):
    (tmp_path / "real.csv").write_text("old")
    (tmp_path / "link.csv").symlink_to("real.csv")
    atomic_write_text(tmp_path / "link.csv", "new")
    assert (tmp_path / "link.csv").is_symlink()  # before: replaced by a plain file
    assert (tmp_path / "real.csv").read_text() == "new"  # before: "old"
    with atomic_path(tmp_path / "link.csv") as tmp:
        tmp.write_text("newer")
    assert (tmp_path / "link.csv").is_symlink() and (tmp_path / "real.csv").read_text() == "newer"


def test_a_fifo_is_written_to_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    atomic_write_text(fifo, "id,value\n")
    reader.join(timeout=10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # before: a regular file
    assert received == [b"id,value\n"]  # before: the reader got nothing


def test_a_device_is_written_to_not_replaced(tmp_path):
    if not ROOT:
        pytest.skip("creating a device node needs root")
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    atomic_write_bytes(null, lambda handle: torch.save({"x": torch.zeros(3)}, handle))
    with atomic_path(null, suffix=".nc") as tmp:
        tmp.write_bytes(b"data")
    assert stat.S_ISCHR(os.stat(null).st_mode)  # before: replaced by a regular file


@pytest.mark.parametrize("size", [10, 100_000])
def test_a_full_device_is_a_clear_error(full_device, size):
    with pytest.raises(OutputFileError, match=r"could not be written: No space left on device"):
        atomic_write_bytes(full_device, lambda handle: torch.save(torch.zeros(size), handle))
    with pytest.raises(OutputFileError, match=r"could not be written: No space left on device"):
        with atomic_path(full_device, suffix=".nc") as tmp:
            tmp.write_bytes(b"x" * size)
    assert stat.S_ISCHR(os.stat(full_device).st_mode)


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary(full_disk):
    target = full_disk / "model.pt"
    with pytest.raises(OutputFileError, match=r"output '.*model.pt' could not be written: No spa"):
        atomic_write_bytes(target, lambda handle: torch.save(torch.zeros(100_000), handle))
    with pytest.raises(OutputFileError, match=r"the previous version, if any, is unchanged"):
        atomic_write_text(target, "x" * 100_000)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler", "model.pt"]


# -- the commands: -o on a full disk is one line and exit code 2 -------------------


@pytest.fixture
def tiny_model(tmp_path):
    import ase.io
    from ase.build import bulk

    from asegraph.models.cgcnn import CGCNN, CGCNNConfig
    from asegraph.models.checkpoint import save_model

    config = CGCNNConfig(atom_dim=8, n_conv=1, hidden_dim=8, cutoff=5.0)
    ase.io.write(tmp_path / "cu.cif", bulk("Cu", "fcc", a=3.6))
    return save_model(CGCNN(config), tmp_path / "m.pt"), tmp_path / "cu.cif"


def _one_line_exit_2(result):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    assert "could not be written: No space left on device" in result.stderr


def test_predict_to_a_full_device(tiny_model, full_device):
    from click.testing import CliRunner

    from asegraph.cli.main import cli

    model, cif = tiny_model
    args = ["predict", str(model), str(cif), "-o", str(full_device), "--no-progress"]
    _one_line_exit_2(CliRunner().invoke(cli, args))  # before: device removed


def test_train_onto_a_full_disk(full_disk, tmp_path):
    import ase.io
    from ase.build import bulk
    from click.testing import CliRunner

    from asegraph.cli.main import cli

    frames = [bulk("Cu", "fcc", a=3.5 + 0.05 * k) for k in range(8)]
    for k, atoms in enumerate(frames):
        atoms.info["e"] = float(k)
    ase.io.write(tmp_path / "cu.extxyz", frames)
    args = ["train", str(tmp_path / "cu.extxyz"), "--target", "e", "--cutoff", "5"]
    args += ["--atom-dim", "8", "--n-conv", "1", "--epochs", "1", "--no-progress"]
    result = CliRunner().invoke(cli, [*args, "-o", str(full_disk / "m.pt")])
    _one_line_exit_2(result)  # before: RuntimeError traceback from torch.save


@pytest.mark.slow
def test_dynamics_to_a_full_device(full_device):
    from click.testing import CliRunner

    from asegraph.cli.dynamics import main
    from asegraph.examples.li_fcc import SHIPPED_TOPOLOGY, SHIPPED_TRAJECTORY

    args = [SHIPPED_TRAJECTORY, "--topology", SHIPPED_TOPOLOGY, "--select", "name Li"]
    args += ["--environment", "name S", "--states", "2", "--lag", "500fs", "-o", full_device]
    args += ["--epochs", "1", "--blocks", "2", "--ck-steps", "3", "--quiet", "--stop", "400"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    _one_line_exit_2(result)  # before: RuntimeError traceback from torch.save
