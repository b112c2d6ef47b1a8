"""Where a workflow's labelled data come from: :class:`DataSource`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from asegraph.exceptions import InputFileError, ParameterError
from asegraph.models.cgcnn import CGCNNConfig

__all__ = ["DataSource"]

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class DataSource:
    """A labelled dataset on disk and how to read it.

    Parameters
    ----------
    path : path
        CGCNN folder (``id_prop.csv`` + CIFs), CSV with a CIF column, ASE
        database or extxyz (see :func:`asegraph.data.datasets.read_dataset`).
    targets : sequence of str
        Column / info key / expression per target (empty: the folder's).
    structure_column, id_column : str
        CSV columns of the CIF text and the ids.
    selection : str, optional
        ASE database selection.
    rows : slice, optional
        Entries to use (CSV rows are cut before any CIF is parsed).
    cache_dir : path, optional
        Keep built graphs here so later runs skip parsing.
    """

    path: str | Path
    targets: Sequence[str] = ()
    structure_column: str = "cif"
    id_column: str | None = None
    selection: str | None = None
    rows: slice | None = None
    cache_dir: str | Path | None = None

    def read(
        self,
        cutoff: float,
        max_neighbors: int,
        ties: str,
        report: Report = _quiet,
        count: bool = True,
    ):
        """The :class:`~asegraph.data.datasets.GraphDataset` with these graph settings.

        Skipped entries are reported through ``report``, and (``count``) the
        number of structures read.

        Raises
        ------
        InputFileError
            No entry could be used; the message names the first failure.
        """
        from asegraph.data.datasets import load_graph_dataset

        suffix = Path(self.path).suffix.lower()
        options: dict[str, Any] = {}
        if suffix == ".csv":  # rows are cut before parsing, so unused CIFs are never read
            options = {
                "structure_column": self.structure_column,
                "id_column": self.id_column,
                "rows": self.rows,
            }
        elif suffix == ".db":
            options = {"selection": self.selection}
        graph = {"cutoff": cutoff, "max_neighbors": max_neighbors, "ties": ties}
        data = load_graph_dataset(
            self.path, list(self.targets), **graph, cache_dir=self.cache_dir, **options
        )
        if self.rows is not None and suffix != ".csv":
            from asegraph.data.datasets import check_rows

            data = data.subset(range(len(data))[check_rows(self.rows, len(data), self.path)])
        if len(data) == 0:
            first = (
                f"; first: {data.failures[0][0]}: {data.failures[0][1]}" if data.failures else ""
            )
            raise InputFileError(
                f"dataset '{self.path}' has no usable entries ({len(data.failures)} skipped"
                f"{first}); check --target and the file"
            )
        if data.failures:
            report(f"{self.path}: skipped {len(data.failures)} entries:")
            for sid, message in data.failures[:10]:
                report(f"  {sid}: {message}")
        if count:
            report(f"{self.path}: {len(data)} structures")
        return data


def _with_targets(config: CGCNNConfig, names: Sequence[str]) -> CGCNNConfig:
    """``config`` for the dataset's target names; one unit / transform is repeated."""
    n = len(names)
    units, transforms = list(config.units), list(config.target_transform)
    if len(units) != n:
        if len(units) != 1:
            raise ParameterError(
                f"units needs one unit per target ({n}: {list(names)}), got {config.units}"
            )
        units = units * n
    transforms = transforms if len(transforms) == n else transforms[:1] * n
    return replace(config, targets=list(names), units=units, target_transform=transforms)
