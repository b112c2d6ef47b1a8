"""Reading structures from files, folders and ASE databases for prediction.

Readers never stop at a bad entry: each yields ``(id, structure_or_error)``
so that a caller can report the failure and go on with the rest.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

from ase import Atoms

from asegraph.exceptions import InputFileError

#: Files in a folder that are data of the original CGCNN layout, not structures.
_SKIPPED_NAMES = {"id_prop.csv", "atom_init.json"}
_DATABASE_SUFFIXES = {".db", ".json"}


def _read_cif(path: Path) -> Atoms:
    # The original CGCNN read CIFs with pymatgen; keep that for identical graphs.
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_file(str(path))
    except Exception as exc:
        from asegraph.cif import explain_cif_error

        explained = explain_cif_error(path.read_text(errors="replace"))
        if explained is None:
            raise
        raise InputFileError(explained) from exc
    return AseAtomsAdaptor.get_atoms(structure)


def read_file(path: str | Path) -> Iterator[tuple[str, Atoms | Exception]]:
    """Yield every structure in a file as ``(id, Atoms)``, or ``(id, error)``.

    CIFs are read with pymatgen; everything else with :func:`ase.io.read`
    (all frames of multi-frame files, ids ``name@k``); ASE databases row by
    row (ids ``name@row_id``).
    """
    path = Path(path)
    stem = path.stem if path.suffix.lower() == ".cif" else path.name
    try:
        if path.suffix.lower() == ".cif":
            yield stem, _read_cif(path)
            return
        if path.suffix.lower() in _DATABASE_SUFFIXES and _is_ase_database(path):
            yield from _read_database(path)
            return
        import ase.io

        frames = ase.io.read(str(path), index=":")
    except InputFileError as exc:  # already says what is wrong and how to fix it
        yield stem, InputFileError(f"structure file '{path}' could not be read: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - any reader failure is reported per file
        yield (
            stem,
            InputFileError(
                f"structure file '{path}' could not be read ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); check the file format"
            ),
        )
        return
    if len(frames) == 1:
        yield stem, frames[0]
    else:
        for k, frame in enumerate(frames):
            yield f"{stem}@{k}", frame


def _is_ase_database(path: Path) -> bool:
    if path.suffix.lower() == ".db":
        return True
    try:  # an ASE JSON database starts with {"1": {... or {"ids": ...
        head = path.read_text(errors="ignore")[:200]
    except OSError:
        return False
    return '"ids"' in head or '"nextid"' in head


def _read_database(path: Path) -> Iterator[tuple[str, Atoms | Exception]]:
    import ase.db

    with ase.db.connect(str(path)) as db:
        for row in db.select():
            try:
                yield f"{path.name}@{row.id}", row.toatoms()
            except Exception as exc:  # noqa: BLE001
                yield (
                    f"{path.name}@{row.id}",
                    InputFileError(f"database '{path}' row {row.id} could not be read: {exc}"),
                )


def read_structures(sources: list[str | Path]) -> Iterator[tuple[str, Atoms | Exception]]:
    """Yield ``(id, Atoms | error)`` for files, folders (their files) and ASE databases.

    Every source is checked before anything is read (this call raises at
    once, not at the first iteration).

    Raises
    ------
    FileNotFoundError
        A source does not exist.
    """
    paths = [Path(s) for s in sources]
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"structure source '{path}' does not exist; check the path")
    return _iterate(paths)


def _iterate(paths: list[Path]) -> Iterator[tuple[str, Atoms | Exception]]:
    """Every entry once, with a unique id: a repeated id gets its file's path (then ``#n``)."""
    seen: set[str] = set()
    for file, sid, item in _entries(paths):
        if sid in seen:  # same name in two folders, or the same file given twice
            sid = str(file.with_name(sid)) if file.parent != Path(".") else sid
            base, k = sid, 2
            while sid in seen:
                sid, k = f"{base}#{k}", k + 1
        seen.add(sid)
        yield sid, item


def _entries(paths: list[Path]) -> Iterator[tuple[Path, str, Atoms | Exception]]:
    for path in paths:
        if path.is_dir():
            files = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and not p.name.startswith(".") and p.name not in _SKIPPED_NAMES
            )
            if not files:
                raise InputFileError(f"folder '{path}' holds no structure files")
            for file in files:
                yield from ((file, sid, item) for sid, item in read_file(file))
        else:
            yield from ((path, sid, item) for sid, item in read_file(path))
