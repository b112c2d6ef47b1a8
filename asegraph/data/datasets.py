"""Labelled structure datasets: readers, graph caching and splits.

Readers (:func:`read_dataset` picks one from the path):

* a folder in the original CGCNN layout: ``id_prop.csv`` (``id,target[,target...]``,
  no header) beside ``ID.cif`` files;
* a CSV file with a column of CIF text (``--structure-column``, default
  ``cif``), an id column and target columns; a target may be an expression of
  columns, e.g. ``"heat_ref / 5"`` or ``"ind_gap == 0"`` (``pandas.eval``);
* an ASE database (``.db``), targets from key-value pairs or ``row.data``,
  rows chosen by an ASE selection string;
* extxyz (``.xyz``/``.extxyz``) with targets in ``atoms.info``;
* lists of ase/pymatgen objects (:meth:`StructureDataset.from_structures`).

Entries that cannot be read are reported by id and skipped — never silently
dropped: they stay in :attr:`StructureDataset.failures` and are counted.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from asegraph.exceptions import InputFileError, ParameterError
from asegraph.graph.crystal_graph import CrystalGraph, build_graphs

_EXTXYZ = {".xyz", ".extxyz"}


@dataclass
class StructureDataset:
    """Structures with ids and targets.

    Attributes
    ----------
    ids : list of str
    structures : list of ase.Atoms
    targets : ndarray, shape (n, n_targets), or None
    target_names : list of str
    failures : list of (id, message)
        Entries that could not be read or turned into graphs.
    source : str
        Where the data came from (for messages and cache keys).
    """

    ids: list[str]
    structures: list[Atoms]
    targets: np.ndarray | None
    target_names: list[str]
    failures: list[tuple[str, str]] = field(default_factory=list)
    source: str = "<memory>"
    _graphs: dict[tuple, list[CrystalGraph]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_structures(
        cls,
        structures: Sequence[Any],
        targets: np.ndarray | Sequence | None = None,
        ids: Sequence[str] | None = None,
        target_names: Sequence[str] = ("target",),
    ) -> StructureDataset:
        """A dataset from ase.Atoms or pymatgen objects and an array of targets [n] or [n, t]."""
        from asegraph.graph.structures import to_atoms

        atoms = [s if isinstance(s, Atoms) else to_atoms(s) for s in structures]
        ids = list(ids) if ids is not None else [str(k) for k in range(len(atoms))]
        y = None
        if targets is not None:
            y = np.asarray(targets, dtype=np.float64).reshape(len(atoms), -1)
            if len(y) != len(atoms):
                raise ParameterError(f"got {len(atoms)} structures but {len(y)} targets")
        return cls(ids, atoms, y, list(target_names))

    def subset(self, indices: Sequence[int]) -> StructureDataset:
        """A new dataset of the given rows (graphs already built are shared).

        ``failures`` are kept: they describe the source, not the rows chosen.
        """
        indices = list(indices)
        subset = StructureDataset(
            [self.ids[i] for i in indices],
            [self.structures[i] for i in indices],
            None if self.targets is None else self.targets[indices],
            list(self.target_names),
            list(self.failures),
            source=self.source,
        )
        for key, graphs in self._graphs.items():
            subset._graphs[key] = [graphs[i] for i in indices]
        return subset

    def graphs(
        self, cutoff: float = 8.0, max_neighbors: int = 12, ties: str = "keep"
    ) -> list[CrystalGraph]:
        """Crystal graphs of every structure, built once per setting and kept in memory.

        A structure whose graph cannot be built raises
        :class:`~asegraph.exceptions.StructureError` naming it; call
        :meth:`drop_invalid` first to report and skip such entries. For a disk
        cache across runs use :func:`load_graph_dataset`.
        """
        key = (float(cutoff), int(max_neighbors), ties)
        if key not in self._graphs:
            self._graphs[key] = build_graphs(self.structures, *key, names=self.ids)
        return self._graphs[key]

    def drop_invalid(
        self, cutoff: float = 8.0, max_neighbors: int = 12, ties: str = "keep"
    ) -> StructureDataset:
        """Build graphs, move entries whose graph fails into ``failures``, return self."""
        key = (float(cutoff), int(max_neighbors), ties)
        results = build_graphs(self.structures, *key, names=self.ids, errors="return")
        good = [k for k, r in enumerate(results) if isinstance(r, CrystalGraph)]
        for k, result in enumerate(results):
            if not isinstance(result, CrystalGraph):
                self.failures.append((self.ids[k], str(result)))
        kept = self.subset(good)
        self.ids, self.structures, self.targets = kept.ids, kept.structures, kept.targets
        self._graphs = {key: [results[k] for k in good]}
        return self


@dataclass
class GraphDataset:
    """Crystal graphs with ids and targets: what training needs, nothing more.

    Attributes
    ----------
    ids : list of str
    graphs : list of CrystalGraph
    targets : ndarray, shape (n, n_targets), or None
    target_names : list of str
    failures : list of (id, message)
        Entries skipped because they could not be read or graphed.
    """

    ids: list[str]
    graphs: list[CrystalGraph]
    targets: np.ndarray | None
    target_names: list[str]
    failures: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, indices: Sequence[int]) -> GraphDataset:
        """A new dataset of the given rows; ``failures`` (of the source) are kept."""
        indices = list(indices)
        return GraphDataset(
            [self.ids[i] for i in indices],
            [self.graphs[i] for i in indices],
            None if self.targets is None else self.targets[indices],
            list(self.target_names),
            list(self.failures),
        )

    @classmethod
    def from_structure_dataset(
        cls, data: StructureDataset, cutoff: float, max_neighbors: int, ties: str
    ) -> GraphDataset:
        """Build graphs; entries whose graph fails are reported in ``failures`` and skipped."""
        data.drop_invalid(cutoff, max_neighbors, ties)
        graphs = data.graphs(cutoff, max_neighbors, ties)
        return cls(data.ids, graphs, data.targets, data.target_names, list(data.failures))


def load_graph_dataset(
    path: str | Path,
    targets: Sequence[str] = (),
    cutoff: float = 8.0,
    max_neighbors: int = 12,
    ties: str = "keep",
    cache_dir: str | Path | None = None,
    progress: bool = False,
    **reader_options: Any,
) -> GraphDataset:
    """Read a dataset (see :func:`read_dataset`) and build its graphs, with a disk cache.

    With ``cache_dir`` the result is stored under a key made of the input
    file's bytes, the reader options and the graph settings; a second call
    with the same key loads it without parsing a single CIF.
    """
    key = _file_key(Path(path), list(targets), (cutoff, max_neighbors, ties), reader_options)
    cache = Path(cache_dir) / f"dataset-{key}.npz" if cache_dir is not None else None
    if cache is not None and cache.is_file():
        loaded = _load_cache(cache, (float(cutoff), int(max_neighbors), ties))
        if loaded is not None:
            return loaded
    data = read_dataset(path, targets, **reader_options)
    result = GraphDataset.from_structure_dataset(data, cutoff, max_neighbors, ties)
    if cache is not None:
        _save_cache(cache, result)
    return result


def _file_key(path: Path, targets, settings, options) -> str:
    digest = hashlib.sha256(repr((targets, settings, sorted(options.items()))).encode())
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    for file in files:
        if file.is_file():
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:24]


def _save_cache(path: Path, data: GraphDataset) -> None:
    import json

    from asegraph._utils.files import atomic_write_bytes

    graphs = data.graphs
    arrays = {
        "n_atoms": np.array([g.n_atoms for g in graphs], dtype=np.int64),
        "n_edges": np.array([g.n_edges for g in graphs], dtype=np.int64),
        "numbers": np.concatenate([g.numbers for g in graphs]),
        "positions": np.concatenate([g.positions for g in graphs]),
        "cells": np.stack([g.cell for g in graphs]),
        "pbc": np.stack([g.pbc for g in graphs]),
        "edge_index": np.concatenate([g.edge_index for g in graphs], axis=1),
        "unit_shifts": np.concatenate([g.unit_shifts for g in graphs]),
        "distances": np.concatenate([g.distances for g in graphs]),
        "ids": np.array(data.ids, dtype=str),
        "meta": np.array(json.dumps({"names": data.target_names, "failures": data.failures})),
    }
    if data.targets is not None:
        arrays["targets"] = data.targets
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, lambda handle: handle.write(buffer.getvalue()))


def _load_cache(path: Path, key: tuple) -> GraphDataset | None:
    """The cached dataset, or None when the entry is unreadable (it is then rebuilt)."""
    try:
        return _read_cache(path, key)
    except Exception:  # noqa: BLE001 - truncated zip, garbage, wrong shapes: rebuild, never trust
        return None


def _read_cache(path: Path, key: tuple) -> GraphDataset:
    import json

    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    atom_ends = np.cumsum(arrays["n_atoms"])
    edge_ends = np.cumsum(arrays["n_edges"])
    graphs = []
    for k, sid in enumerate(arrays["ids"].tolist()):
        a0, a1 = (atom_ends[k - 1] if k else 0), atom_ends[k]
        e0, e1 = (edge_ends[k - 1] if k else 0), edge_ends[k]
        graphs.append(
            CrystalGraph(
                numbers=arrays["numbers"][a0:a1],
                positions=arrays["positions"][a0:a1],
                cell=arrays["cells"][k],
                pbc=arrays["pbc"][k],
                edge_index=arrays["edge_index"][:, e0:e1],
                unit_shifts=arrays["unit_shifts"][e0:e1],
                distances=arrays["distances"][e0:e1],
                cutoff=key[0],
                max_neighbors=key[1],
                ties=key[2],
                name=sid,
            )
        )
    return GraphDataset(
        arrays["ids"].tolist(),
        graphs,
        arrays.get("targets"),
        meta["names"],
        [tuple(f) for f in meta["failures"]],
    )


# -- readers ------------------------------------------------------------------


def read_dataset(
    path: str | Path,
    targets: Sequence[str] = (),
    structure_column: str = "cif",
    id_column: str | None = None,
    selection: str | None = None,
    rows: slice | None = None,
) -> StructureDataset:
    """Read a labelled dataset; the format is chosen from ``path`` (see the module doc).

    Parameters
    ----------
    path : path
        Folder (CGCNN layout), ``.csv``, ``.db`` or ``.xyz``/``.extxyz`` file.
    targets : sequence of str
        Target columns, keys or expressions; empty for unlabelled data (and
        ignored for the CGCNN layout, whose targets are the columns of
        ``id_prop.csv``).
    structure_column, id_column : str
        CSV only: the CIF text column and the id column (default: the first
        of ``material_id``/``id``, else the row number).
    selection : str
        ASE database selection string.
    rows : slice
        CSV only: keep these rows (e.g. ``slice(0, 3000)``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset '{path}' does not exist; check the path")
    suffix = path.suffix.lower()
    if path.is_dir():
        data = _read_cgcnn_folder(path)
    elif suffix == ".csv":
        data = _read_csv(path, list(targets), structure_column, id_column, rows)
    elif suffix == ".db":
        data = _read_database(path, list(targets), selection)
    elif suffix in _EXTXYZ:
        data = _read_extxyz(path, list(targets))
    else:
        data = None
    if data is not None:
        return _skip_nonfinite_targets(data)
    raise InputFileError(
        f"dataset '{path}': unknown format {suffix!r}; expected a folder with id_prop.csv, "
        "a .csv with a CIF column, an ASE .db or an .extxyz file"
    )


def _skip_nonfinite_targets(data: StructureDataset) -> StructureDataset:
    """Move entries with a blank, NaN or infinite target into ``failures``."""
    if data.targets is None or not len(data.targets):
        return data
    targets = np.asarray(data.targets, dtype=np.float64).reshape(len(data.ids), -1)
    bad = ~np.isfinite(targets)
    if not bad.any():
        return data
    for k in np.flatnonzero(bad.any(axis=1)):
        names = [data.target_names[c] for c in np.flatnonzero(bad[k])]
        data.failures.append(
            (data.ids[k], f"target {', '.join(map(repr, names))} is {targets[k, bad[k]][0]}")
        )
    kept = data.subset(np.flatnonzero(~bad.any(axis=1)))
    data.ids, data.structures, data.targets = kept.ids, kept.structures, kept.targets
    return data


def _parse_cif(text: str) -> Atoms:
    from asegraph.io import read_cif_text  # the one CIF reader (fast P1 path)

    return read_cif_text(text)


def _read_cgcnn_folder(folder: Path) -> StructureDataset:
    table = folder / "id_prop.csv"
    if not table.is_file():
        raise InputFileError(
            f"dataset folder '{folder}' has no id_prop.csv; the CGCNN layout is id_prop.csv "
            "(id,target rows) beside ID.cif files"
        )
    ids, structures, values, failures = [], [], [], []
    with open(table, newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            sid = row[0].strip()
            try:
                target = [float(v) for v in row[1:]]
                text = (folder / f"{sid}.cif").read_text()
                structures.append(_parse_cif(text))
            except Exception as exc:  # noqa: BLE001 - reported per entry
                failures.append((sid, f"{table.name} line {line_no}: {exc}"))
                continue
            ids.append(sid)
            values.append(target)
    n_targets = len(values[0]) if values else 1
    names = ["target"] if n_targets == 1 else [f"target{k}" for k in range(n_targets)]
    return StructureDataset(ids, structures, np.array(values), names, failures, str(folder))


def _read_csv(path, targets, structure_column, id_column, rows) -> StructureDataset:
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputFileError(
            f"dataset '{path}' could not be read as CSV ({str(exc).splitlines()[0]}); expected a "
            "header row with a column of CIF text and the target columns"
        ) from exc
    if rows is not None:
        frame = frame.iloc[check_rows(rows, len(frame), path)]
    if structure_column not in frame.columns:
        raise InputFileError(
            f"dataset '{path}': no column {structure_column!r} of CIF text (columns: "
            f"{', '.join(map(str, frame.columns))}); pass --structure-column"
        )
    if id_column is None:
        id_column = next((c for c in ("material_id", "id") if c in frame.columns), None)
    elif id_column not in frame.columns:
        raise InputFileError(f"dataset '{path}': no id column {id_column!r}; pass --id-column")
    ids = frame[id_column].astype(str).tolist() if id_column else [str(i) for i in frame.index]
    target_values = []
    for expression in targets:
        try:
            values = (
                frame.eval(expression) if expression not in frame.columns else frame[expression]
            )
            target_values.append(np.asarray(values, dtype=np.float64))
        except Exception as exc:  # noqa: BLE001 - pandas raises many kinds
            raise InputFileError(
                f"dataset '{path}': target {expression!r} is neither a column nor an expression "
                f"of columns ({exc}); columns are {', '.join(map(str, frame.columns))}"
            ) from exc
    y = np.stack(target_values, axis=1) if target_values else None
    keep, structures, failures = [], [], []
    for k, (sid, text) in enumerate(zip(ids, frame[structure_column])):
        try:
            structures.append(_parse_cif(str(text)))
            keep.append(k)
        except Exception as exc:  # noqa: BLE001
            failures.append((sid, f"CIF could not be parsed: {exc}"))
    return StructureDataset(
        [ids[k] for k in keep],
        structures,
        None if y is None else y[keep],
        list(targets),
        failures,
        str(path),
    )


def check_rows(rows: slice, n_rows: int, path) -> slice:
    """``rows`` if it selects at least one of ``n_rows`` entries, else an error naming the size."""
    if len(range(n_rows)[rows]) == 0:
        start = "" if rows.start is None else rows.start
        stop = "" if rows.stop is None else rows.stop
        raise ParameterError(
            f"--rows {start}:{stop} selects no entries: dataset '{path}' has {n_rows} rows "
            f"(0:{n_rows}); choose a range inside it"
        )
    return rows


def _read_database(path, targets, selection) -> StructureDataset:
    import ase.db

    from asegraph.io import row_id

    ids, structures, values, failures = [], [], [], []
    with ase.db.connect(str(path)) as db:
        for row in db.select(selection or ""):
            sid = row_id(path, row)
            try:
                target = [_db_value(row, key) for key in targets]
                structures.append(row.toatoms())
            except Exception as exc:  # noqa: BLE001
                failures.append((sid, str(exc)))
                continue
            ids.append(sid)
            values.append(target)
    y = np.array(values, dtype=np.float64).reshape(len(ids), len(targets)) if targets else None
    return StructureDataset(ids, structures, y, list(targets), failures, str(path))


def _db_value(row, key: str) -> float:
    if key in row.key_value_pairs:
        return float(row.key_value_pairs[key])
    if key in row.data:
        return float(np.asarray(row.data[key]).reshape(-1)[0])
    if key == "energy" and row.get("energy") is not None:
        return float(row.energy)
    raise KeyError(f"row {row.id} has no key {key!r} in key_value_pairs or data")


def _read_extxyz(path, targets) -> StructureDataset:
    import ase.io

    try:
        frames = ase.io.read(str(path), index=":")
    except Exception as exc:  # noqa: BLE001
        raise InputFileError(f"dataset '{path}' could not be read as extxyz: {exc}") from exc
    from asegraph.io import frame_id

    ids, structures, values, failures = [], [], [], []
    for k, atoms in enumerate(frames):
        sid = frame_id(Path(path), k, len(frames), atoms)
        try:
            values.append([float(atoms.info[key]) for key in targets])
        except KeyError as exc:
            failures.append((sid, f"frame {k} has no info key {exc}"))
            continue
        ids.append(sid)
        structures.append(atoms)
    y = np.array(values, dtype=np.float64).reshape(len(ids), len(targets)) if targets else None
    return StructureDataset(ids, structures, y, list(targets), failures, str(path))


# -- splits -------------------------------------------------------------------


def split_indices(
    n: int, fractions: Sequence[float] = (0.6, 0.2, 0.2), seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded random train/validation/test indices by fractions (thesis: 60/20/20)."""
    fractions = np.asarray(fractions, dtype=float)
    if len(fractions) != 3 or (fractions < 0).any() or abs(fractions.sum() - 1) > 1e-6:
        raise ParameterError(
            f"split fractions must be three non-negative numbers summing to 1, got "
            f"{fractions.tolist()}"
        )
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    return order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
