"""Inputs of a screening: structures, moduli models and given moduli, checked at the door."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from asegraph.exceptions import InputFileError, ParameterError

_MODULI = {"shear_modulus": "--shear", "bulk_modulus": "--bulk"}


def read_inputs(
    sources: Sequence[str | Path], structure_column: str = "cif"
) -> list[tuple[str, Any]]:
    """``(id, ase.Atoms | error)`` for files, folders, ASE databases and CSVs with a CIF column.

    Raises
    ------
    FileNotFoundError
        A source does not exist.
    """
    from asegraph.data.datasets import read_dataset
    from asegraph.io import read_structures

    entries: list[tuple[str, Any]] = []
    for source in sources:
        path = Path(source)
        if path.suffix.lower() == ".csv" and path.is_file():
            data = read_dataset(path, structure_column=structure_column)
            entries += list(zip(data.ids, data.structures))
            entries += [
                (sid, InputFileError(f"'{path}' {sid}: {msg}")) for sid, msg in data.failures
            ]
        else:
            entries += list(read_structures([path]))
    return entries


def modulus_model(spec: Any, prop: str) -> Any:
    """Check that ``spec`` predicts ``prop`` ("bulk_modulus"/"shear_modulus") in GPa.

    Returns the registry name or the loaded model, for :func:`predict`.
    """
    option = _MODULI[prop]
    other = "bulk" if prop == "shear_modulus" else "shear"
    target, units, loaded = _describe(spec, option)
    if units != "GPa" or other in target.lower():
        raise ParameterError(
            f"{option} model {label(spec)!r} predicts {target!r} in {units or 'no units'!r}, not "
            f"the {prop.replace('_', ' ')} in GPa; pass a {prop.split('_')[0]}-modulus model (e.g. "
            f"'{prop.split('_')[0]}-moduli', or one trained with --units GPa) or use --moduli"
        )
    return loaded


def band_gap_model(spec: Any) -> Any:
    """Check that ``spec`` predicts a band gap in eV; returns what :func:`predict` takes."""
    target, units, loaded = _describe(spec, "--band-gap")
    if units != "eV" or "gap" not in target.lower():
        raise ParameterError(
            f"--band-gap model {label(spec)!r} predicts {target!r} in {units or 'no units'!r}, "
            "not a band gap in eV; pass e.g. 'band-gap'"
        )
    return loaded


def _describe(spec: Any, option: str) -> tuple[str, str, Any]:
    """(target name, units, what to hand to predict) of a single-target regression model."""
    from asegraph.exceptions import AsegraphError
    from asegraph.models import load

    if isinstance(spec, (str, Path)):
        # load now, so a missing file or an offline registry is one clear message
        # before any structure is analysed
        try:
            model = load(spec)
        except (AsegraphError, FileNotFoundError) as exc:
            raise ParameterError(f"{option} {str(spec)!r}: {exc}") from exc
    else:
        model = spec
    config = getattr(model, "config", None)
    if config is not None and config.task == "regression" and len(config.targets) > 1:
        # a multi-target model (e.g. shear and bulk moduli learnt together): the one
        # target that names the property this option asks for
        from asegraph.models.transfer import select_target

        word = {"--shear": "shear", "--bulk": "bulk", "--band-gap": "gap"}.get(option, "")
        matches = [t for t in config.targets if word and word in t.lower()]
        if len(matches) == 1:
            model = select_target(model, matches[0])
            config = model.config
    if config is None or config.task != "regression" or len(config.targets) != 1:
        what = (
            "a classifier"
            if config is not None and config.task != "regression"
            else f"a model of several targets {config.targets}"
        )
        raise ParameterError(
            f"{option} model {label(spec)!r} is {what}; give a single-target regression model "
            "(or a multi-target one with exactly one target naming the property)"
        )
    return config.targets[0], config.units[0], model


def label(spec: Any) -> str:
    return str(spec) if isinstance(spec, (str, Path)) else type(spec).__name__


def read_moduli(path: str | Path) -> dict[str, Any]:
    """Read a ``--moduli`` CSV: ``{"values": {id: (G, K)}, "errors": {id: message}}``.

    Raises
    ------
    FileNotFoundError
        No such file.
    InputFileError
        Missing columns or an unreadable file.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"moduli file '{path}' does not exist; check the path")
    try:
        frame = pd.read_csv(path, dtype={"id": str})
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds
        raise InputFileError(f"moduli file '{path}' could not be read as CSV ({exc})") from exc
    need = ["id", "shear_modulus_GPa", "bulk_modulus_GPa"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise InputFileError(
            f"moduli file '{path}' lacks column(s) {', '.join(missing)}; expected columns "
            f"{', '.join(need)} (got {', '.join(map(str, frame.columns))})"
        )
    values, errors = {}, {}
    for row in frame.itertuples(index=False):
        sid = str(row.id)
        g = pd.to_numeric(row.shear_modulus_GPa, errors="coerce")
        k = pd.to_numeric(row.bulk_modulus_GPa, errors="coerce")
        values[sid] = (float(g), float(k))
        if not (np.isfinite(g) and np.isfinite(k) and g > 0 and k > 0):
            errors[sid] = (
                f"moduli file '{path}': id {sid!r} has shear_modulus_GPa="
                f"{row.shear_modulus_GPa!r}, bulk_modulus_GPa={row.bulk_modulus_GPa!r}; both must "
                "be positive numbers (GPa)"
            )
    return {"values": values, "errors": errors}
