"""Atomic file writes: a temporary file beside the target, then ``os.replace``.

A reader never sees half a file, and a crash leaves the previous version in
place. The temporary file is created with mode ``0o666`` so that the kernel
applies the process umask, exactly as for ``open(path, "w")``:
``tempfile.mkstemp`` would make it ``0o600`` and the rename would keep that
mode, so users and group members could not read model files they were given.

Only regular files are replaced. A symbolic link is followed and its target
rewritten (the link stays a link); a FIFO, a device (``/dev/stdout``,
``/dev/full``) or a socket is written directly, since renaming over it would
remove it. A full disk, a quota or a read-only file system becomes an
:class:`~asegraph.exceptions.OutputFileError` naming the file, and the previous
version stays in place.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from asegraph.exceptions import OutputFileError

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


#: errno values that say the output cannot take the data (not a bug of the caller).
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def _target(path: str | Path) -> tuple[Path, bool]:
    """The file really written (symlinks followed) and whether to replace it atomically.

    A missing file or a regular file is replaced by rename; anything else
    (FIFO, character or block device, socket) is written in place.
    """
    real = Path(os.path.realpath(path))
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        return real, True
    return real, stat.S_ISREG(mode) or stat.S_ISDIR(mode)  # a folder: os.replace says so


@contextmanager
def _no_room_is_a_user_error(path: str | Path) -> Iterator[None]:
    """Turn "disk full" and its kin into one clear error naming the output."""
    try:
        yield
    except (OSError, RuntimeError) as exc:
        # torch.save reports a failed write as a RuntimeError raised during the OSError
        cause = exc if isinstance(exc, OSError) else (exc.__cause__ or exc.__context__)
        if not isinstance(cause, OSError) or cause.errno not in _NO_ROOM:
            raise
        raise OutputFileError(
            f"output '{path}' could not be written: {os.strerror(cause.errno)}; free some space "
            "or write it elsewhere (the previous version, if any, is unchanged)"
        ) from exc


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
    given = path
    path, replace = _target(path)
    if not replace:  # write elsewhere, then copy the bytes into the FIFO or device
        fd, name = tempfile.mkstemp(suffix=suffix)
        os.close(fd)
        tmp = Path(name)
        try:
            with _no_room_is_a_user_error(given):
                yield tmp
                with open(tmp, "rb") as source, open(path, "wb") as target:
                    shutil.copyfileobj(source, target)
        finally:
            tmp.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_beside(path, suffix)
    os.close(fd)
    try:
        with _no_room_is_a_user_error(given):
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
    given = Path(path)
    path, replace = _target(path)
    if not replace:  # FIFO or device: renaming over it would remove it
        with _no_room_is_a_user_error(given), open(path, "wb") as handle:
            write(handle)
        return given
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_beside(path, ".tmp")
    try:
        with _no_room_is_a_user_error(given), os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return given


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return ``path``."""
    return atomic_write_bytes(path, lambda handle: handle.write(text.encode()))
