"""Atomic file writes: a temporary file beside the target, then ``os.replace``.

A reader never sees half a file, and a crash leaves the previous version in
place. The temporary file is created with mode ``0o666`` so that the kernel
applies the process umask, exactly as for ``open(path, "w")``:
``tempfile.mkstemp`` would make it ``0o600`` and the rename would keep that
mode, so users and group members could not read model files they were given.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]


def _create_beside(path: Path, suffix: str) -> tuple[int, Path]:
    """Create a new, empty temporary file next to ``path``; return (fd, name)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}")
        try:
            # 0o666: the umask is applied by the kernel, as for any new file
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside '{path}'")


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    For libraries that write by file name (netCDF, MDAnalysis writers). The
    parent folder is created. On an exception the temporary file is removed and
    ``path`` is left as it was.

    Parameters
    ----------
    path : path
        The file to (re)write.
    suffix : str
        Suffix of the temporary name, for writers that pick a format from it
        (e.g. ``".dcd"``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_beside(path, suffix)
    os.close(fd)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(handle)`` on a binary temporary file beside ``path``, then rename.

    Parameters
    ----------
    path : path
        The file to (re)write; its folder is created.
    write : callable
        Called once with an open binary file handle (``torch.save(obj, handle)``,
        ``figure.savefig(handle, format="png")``, ``handle.write(data)``).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_beside(path, ".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return ``path``."""
    return atomic_write_bytes(path, lambda handle: handle.write(text.encode()))
