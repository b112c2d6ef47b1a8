"""The one place asegraph reads structures: CIF (fast P1 path), ASE formats, ASE databases.

Prediction sources (:func:`read_structures`: files, folders, databases) and the
labelled dataset readers of :mod:`asegraph.data.datasets` use the same CIF
parser and the same entry ids, so a structure reads the same way everywhere.

CIF
    Generated datasets (Materials Project dumps, perov_5, carbon_24, ...) store
    every structure as a P1 CIF: atoms listed explicitly, the identity as the
    only symmetry operation. For those, gemmi's C++ reader gives cell and
    coordinates about 80x faster than pymatgen's parser; like pymatgen (the
    reference reader of the original CGCNN) it snaps fractional coordinates
    within a relative 1e-4 of 1/3 and 2/3 to those values and wraps them into
    [0, 1), so both give the same structure and graph to float precision.
    Anything else — other space groups (whose operations must be applied and
    duplicates merged), partial occupancies, missing type symbols — goes
    through pymatgen.

Entry ids
    A CIF file's id is its stem; a one-frame file's id is its name; frame
    ``k`` of a multi-frame file is ``NAME@k`` (or its ``atoms.info["id"]``);
    an ASE database row is its ``uid`` key if it has one, else ``NAME@ROW_ID``.

Readers never stop at a bad entry: each yields ``(id, structure_or_error)``
so that a caller can report the failure and go on with the rest.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from ase import Atoms

from asegraph.exceptions import InputFileError

#: Files in a folder that are data of the original CGCNN layout, not structures.
_SKIPPED_NAMES = {"id_prop.csv", "atom_init.json"}
_DATABASE_SUFFIXES = {".db", ".json"}
#: pymatgen's CifParser snaps fractions within this relative tolerance of 1/3, 2/3.
_FRAC_TOLERANCE = 1e-4


def read_cif_text(text: str) -> Atoms:
    """Parse one CIF data block (text) into Atoms.

    Raises whatever the underlying parser raises for an unreadable file; the
    callers turn that into a per-entry error.
    """
    atoms = _read_p1_with_gemmi(text)
    if atoms is not None:
        return atoms
    from pymatgen.io.cif import CifParser

    from asegraph.graph.structures import to_atoms

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return to_atoms(CifParser.from_str(text).parse_structures(primitive=False)[0])
    except Exception as exc:
        explained = explain_cif_error(text)
        if explained is None:
            raise
        raise InputFileError(explained) from exc


def explain_cif_error(text: str) -> str | None:
    """Say what is wrong with a CIF pymatgen refused ("no structures", ...), or None.

    pymatgen's own messages ("Invalid CIF file with no structures!", "integer
    modulo by zero") name neither the cause nor the fix; the two common
    causes are a file without atom sites and two sites at one position.
    """
    try:
        import gemmi

        small = gemmi.make_small_structure_from_block(gemmi.cif.read_string(text).sole_block())
    except Exception:  # noqa: BLE001 - not even gemmi can read it: keep pymatgen's message
        return None
    if not small.sites:
        return (
            "the CIF has no atoms (no _atom_site_ loop with fractional coordinates); "
            "add the atom sites"
        )
    fract = np.array([site.fract.tolist() for site in small.sites]) % 1.0
    for i in range(len(fract)):
        delta = fract[i + 1 :] - fract[i]
        delta -= np.round(delta)  # periodic images are the same site
        same = np.flatnonzero(np.abs(delta).max(axis=1) < 1e-4)
        if len(same):
            j = i + 1 + int(same[0])
            where = ", ".join(f"{x:.4f}" for x in fract[i])
            return (
                f"the CIF has two atoms on one site: {small.sites[i].label} and "
                f"{small.sites[j].label} at fractional ({where}); remove the duplicated site "
                "(or give both partial occupancies)"
            )
    return None


def read_cif(path: str | Path) -> Atoms:
    """Read a CIF file (see :func:`read_cif_text`)."""
    return read_cif_text(Path(path).read_text(errors="replace"))


def _read_p1_with_gemmi(text: str) -> Atoms | None:
    """Atoms for an ordered P1 CIF, else None (so the caller falls back)."""
    try:
        import gemmi
    except ImportError:  # gemmi is optional: pymatgen reads everything
        return None
    try:
        block = gemmi.cif.read_string(text).sole_block()
        small = gemmi.make_small_structure_from_block(block)
    except (RuntimeError, ValueError):
        return None
    identity = gemmi.Op("x,y,z")
    operations = [gemmi.Op(op) for op in small.symops] if small.symops else []
    if any(op != identity for op in operations) or len(operations) > 1 or not small.sites:
        return None
    if not operations and small.spacegroup_hm.replace(" ", "") not in ("P1", ""):
        return None
    sites = small.sites
    if any(site.occ != 1.0 or site.element.atomic_number == 0 for site in sites):
        return None
    cell = np.array(small.cell.orth.mat.tolist()).T  # rows are lattice vectors, Å
    fractional = np.array([site.fract.tolist() for site in sites])  # [N, 3]
    for ideal in (1 / 3, 2 / 3):  # as pymatgen does (0.3333 -> 1/3)
        fractional[np.abs(fractional / ideal - 1.0) <= _FRAC_TOLERANCE] = ideal
    # and into [0, 1) as pymatgen does: the image shifts of the graph, and so the
    # original's tie order ("truncate"), depend on it
    fractional -= np.floor(fractional)
    delta = fractional[:, None, :] - fractional[None, :, :]  # [N, N, 3]
    delta -= np.round(delta)
    if np.count_nonzero(np.abs(delta).max(axis=2) < 1e-4) > len(sites):
        return None  # two sites on one position: pymatgen refuses it, with a message
    numbers = [site.element.atomic_number for site in sites]
    # pymatgen lists the sites grouped by element, by increasing electronegativity
    # (then symbol), keeping file order within an element; the original tie rule
    # ("truncate") breaks ties by atom index, so keep that order too
    keys = [_pymatgen_rank(z) for z in numbers]
    if any(key is None for key in keys):
        return None  # an element without electronegativity: let pymatgen order it
    order = sorted(range(len(numbers)), key=keys.__getitem__)
    numbers = [numbers[k] for k in order]
    return Atoms(numbers=numbers, scaled_positions=fractional[order], cell=cell, pbc=True)


_RANKS: dict[int, tuple[float, str] | None] = {}


def _pymatgen_rank(z: int) -> tuple[float, str] | None:
    """pymatgen's site order key of element ``z``: (electronegativity, symbol)."""
    if z not in _RANKS:
        from pymatgen.core import Element

        element = Element.from_Z(z)
        x = element.X
        _RANKS[z] = (float(x), element.symbol) if x == x else None  # NaN: unknown
    return _RANKS[z]


def frame_id(path: Path, index: int, n_frames: int, atoms: Atoms) -> str:
    """Id of frame ``index`` of ``n_frames`` read from ``path`` (see the module doc)."""
    if "id" in atoms.info:
        return str(atoms.info["id"])
    return path.name if n_frames == 1 else f"{path.name}@{index}"


def row_id(path: Path, row) -> str:
    """Id of an ASE database row: its ``uid`` key, else ``NAME@ROW_ID``."""
    uid = row.key_value_pairs.get("uid") if hasattr(row, "key_value_pairs") else None
    return str(uid) if uid is not None else f"{Path(path).name}@{row.id}"


def read_file(path: str | Path) -> Iterator[tuple[str, Atoms | Exception]]:
    """Yield every structure in a file as ``(id, Atoms)``, or ``(id, error)``.

    CIFs with :func:`read_cif`; everything else with :func:`ase.io.read`
    (all frames of multi-frame files); ASE databases row by row. Ids: see the
    module doc.
    """
    path = Path(path)
    stem = path.stem if path.suffix.lower() == ".cif" else path.name
    try:
        if path.suffix.lower() == ".cif":
            yield stem, read_cif(path)
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
    for k, frame in enumerate(frames):
        yield frame_id(path, k, len(frames), frame), frame


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
                yield row_id(path, row), row.toatoms()
            except Exception as exc:  # noqa: BLE001
                yield (
                    row_id(path, row),
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
