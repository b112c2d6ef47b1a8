"""Append-only campaign store: one JSON object per line, fsync'd on every append.

Record types (``"type"``):

``header``
    First line: configuration, design space, program version, creation time.
``proposed``
    An evaluation is about to be submitted: ``id``, unit-cube ``x``,
    physical ``params``, ``seed``, ``strategy``.
``result``
    An evaluation finished: ``id``, ``status`` (``"ok"`` | ``"failed"``),
    ``value``, ``uncertainty``, ``result`` (evaluator output), ``error``,
    ``wall_s``, ``backend``, ``seed``, ``host``, ``finished``.

Each record is written by one ``os.write`` on an ``O_APPEND`` descriptor and
fsync'd before the campaign goes on, so a killed campaign loses at most the
line being written; :func:`CampaignStore.load` drops such a torn last line
(rewriting the file via a temporary file and ``os.replace``).  An exclusive
``flock`` on ``campaign.lock`` keeps two processes from running one campaign.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from asegraph._utils.files import atomic_write_text
from asegraph._utils.jsonsafe import jsonsafe
from asegraph.exceptions import InputFileError, ParameterError

__all__ = ["CampaignStore"]

STORE_NAME = "campaign.jsonl"


class CampaignStore:
    """The persistent record of one campaign directory.

    Parameters
    ----------
    directory : path
        Campaign directory (created if missing).
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.path = self.directory / STORE_NAME
        self._lock_fd: int | None = None

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    def lock(self) -> None:
        """Take the campaign's exclusive lock (released on exit, also after SIGKILL)."""
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / "campaign.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise ParameterError(
                f"campaign {str(self.directory)!r} is being run by another process; wait for it "
                "or choose another --campaign directory"
            ) from exc
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def append(self, record: dict) -> dict:
        """Append one record durably (single write + fsync); return it as stored."""
        record = jsonsafe(record)
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return record

    def load(self) -> list[dict]:
        """All records; a torn last line (killed mid-write) is dropped and the file repaired."""
        if not self.exists:
            raise InputFileError(
                f"campaign store {str(self.path)!r} does not exist; run "
                "'asegraph optimize run CONFIG' first or check the directory"
            )
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        records = []
        for k, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                if k >= len(lines) - 2 and not raw.endswith(b"\n"):
                    warnings.warn(
                        f"{self.path}: dropped a torn last record ({len(line)} bytes)", stacklevel=2
                    )
                    self._rewrite(records)
                    break
                raise InputFileError(
                    f"campaign store {str(self.path)!r}: line {k + 1} is not JSON ({exc}); the "
                    "file was edited or corrupted - restore it or start a new campaign"
                ) from exc
        if not records or records[0].get("type") != "header":
            raise InputFileError(
                f"campaign store {str(self.path)!r}: expected a header record first; "
                "this is not a campaign file"
            )
        return records

    def _rewrite(self, records: list[dict]) -> None:
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        atomic_write_text(self.path, text)

    @staticmethod
    def summarize(records: list[dict]) -> tuple[dict, dict[int, dict], dict[int, dict]]:
        """Split records into header, proposals by id and results by id.

        A result recorded twice (should never happen) raises, so duplicates are
        caught by tests rather than silently averaged.
        """
        header = records[0]
        proposed: dict[int, dict] = {}
        results: dict[int, dict] = {}
        for r in records[1:]:
            if r.get("type") == "proposed":
                proposed[int(r["id"])] = r
            elif r.get("type") == "result":
                i = int(r["id"])
                if i in results:
                    raise InputFileError(f"campaign store: evaluation {i} has two results")
                results[i] = r
        return header, proposed, results
