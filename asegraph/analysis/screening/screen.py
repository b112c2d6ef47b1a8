"""Screening Li-containing crystals for dendrite suppression (thesis ch. 2.5.4, Table 2.4).

:func:`screen` takes structures, predicts their shear and bulk moduli with
CGCNN models or ensembles (or takes moduli a researcher already has),
finds the Li molar volume ratio, and returns every member's stability
parameters and the ensemble statistics as an :class:`xarray.Dataset`,
ranked by the critical roughening wavelength λ_crit.
:func:`~asegraph.analysis.screening.output.write_screen` writes the CSV table,
the netCDF file and the figures.

Prediction goes through :func:`asegraph.calculators.predict.predict` (one
batched path for models and ensembles); with ``scheduler`` the structures
are cut into chunks that run on a dask.distributed cluster, so a large
screen is not bound to one machine.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from asegraph.analysis.screening.inputs import band_gap_model, label, modulus_model, read_moduli
from asegraph.analysis.screening.molar_volume import molar_volume_ratio
from asegraph.analysis.screening.output import build_dataset
from asegraph.analysis.screening.physics import (
    K_HIGH,
    K_LOW,
    LITHIUM,
    LithiumAnode,
)
from asegraph.analysis.screening.statistics import ensemble_stability, rank_order
from asegraph.exceptions import ParameterError


#: Columns of ``screen.csv``, in order.
def screen(
    entries: Sequence[tuple[str, Any]],
    bulk: Any = "bulk-moduli",
    shear: Any = "shear-moduli",
    moduli: str | Path | None = None,
    band_gap: Any = None,
    min_band_gap: float = 0.1,
    anode: LithiumAnode = LITHIUM,
    k_low: float = K_LOW,
    k_high: float = K_HIGH,
    scheduler: str | None = None,
    chunk_size: int = 256,
    batch_size: int = 64,
    progress: bool = True,
) -> Any:
    """Screen structures for stable Li electrodeposition (thesis ch. 2.5).

    Parameters
    ----------
    entries : sequence of (str, ase.Atoms or Exception)
        Ids and structures, e.g. from
        :func:`~asegraph.analysis.screening.inputs.read_inputs`; an exception
        marks an unreadable entry (it gets a row with its error).
    bulk, shear : model spec, default the published "bulk-moduli"/"shear-moduli"
        A registry name, model file, ensemble file or folder, or a loaded
        model/ensemble predicting the modulus in GPa (log10 models are
        converted per member). Ignored with ``moduli``.
    moduli : path, optional
        CSV with columns ``id``, ``shear_modulus_GPa``, ``bulk_modulus_GPa``
        (DFT or experimental values); replaces the models, so predicted and
        reference screenings run through the same code.
    band_gap : model spec, optional
        Band-gap model (eV); structures predicted below ``min_band_gap`` are
        dropped as electronic conductors (the thesis removed zero-gap
        materials) and counted.
    min_band_gap : float, eV, default 0.1
    anode : LithiumAnode, optional
        Li constants (:data:`~asegraph.analysis.screening.physics.LITHIUM`).
    k_low, k_high : float, 1/m
        Wavenumbers of the ``chi_low``/``chi_high`` columns.
    scheduler : str, optional
        dask.distributed scheduler address; chunks of ``chunk_size``
        structures then run on its workers.
    chunk_size, batch_size : int
        Structures per chunk (progress, dask tasks) and per forward pass.
    progress : bool
        tqdm progress bar over structures.

    Returns
    -------
    xarray.Dataset
        Dimension ``structure`` (ranked: decreasing λ_crit, then excluded and
        failed rows), ``member`` (joint samples of the moduli ensembles) and
        ``k`` (grid for the three terms of Eq. 2.10). See
        :func:`~asegraph.analysis.screening.output.write_screen`.

    Raises
    ------
    ParameterError
        A model that does not predict the modulus asked for, or bad options.
    InputFileError
        A ``moduli`` file without the required columns.
    """
    from tqdm import tqdm

    if chunk_size < 1 or batch_size < 1:
        raise ParameterError(
            f"chunk_size and batch_size must be >= 1, got {chunk_size}, {batch_size}"
        )
    models: dict[str, Any] = {}
    given = None
    if moduli is not None:
        given = read_moduli(moduli)
    else:
        models["bulk_modulus"] = modulus_model(bulk, "bulk_modulus")
        models["shear_modulus"] = modulus_model(shear, "shear_modulus")
    if band_gap is not None:
        models["band_gap"] = band_gap_model(band_gap)
    specs = {"bulk_modulus": bulk, "shear_modulus": shear, "band_gap": band_gap}

    ids = [str(sid) for sid, _ in entries]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise ParameterError(f"structure id {duplicate!r} occurs twice; ids must be unique")
    unreadable = {sid: str(item) for sid, item in entries if isinstance(item, Exception)}
    readable = [(sid, item) for sid, item in entries if not isinstance(item, Exception)]
    li = [(sid, atoms) for sid, atoms in readable if "Li" in atoms.get_chemical_symbols()]
    without_li = [sid for sid, atoms in readable if "Li" not in atoms.get_chemical_symbols()]

    chunks = [li[i : i + chunk_size] for i in range(0, len(li), chunk_size)]
    args = dict(models=models, molar_volume=anode.molar_volume_m3_per_mol, batch_size=batch_size)
    bar = tqdm(total=len(li), unit="structure", desc="screening", disable=not progress)
    results = []
    if scheduler:
        results = _run_on_cluster(scheduler, chunks, args, bar)
    else:
        for chunk in chunks:
            results.append(screen_chunk(chunk, **args))
            bar.update(len(chunk))
    bar.close()
    merged = _merge(results, len(li))
    names = [sid for sid, _ in li]
    errors = list(merged["error"])

    dropped: list[str] = []
    if band_gap is not None:
        gap = merged["band_gap"]
        keep = ~(gap < min_band_gap)
        dropped = [names[i] for i in np.flatnonzero(~keep)]
        for key in merged:
            merged[key] = merged[key][..., keep] if key != "error" else merged[key][keep]
        names = [n for n, k in zip(names, keep) if k]
        errors = [e for e, k in zip(errors, keep) if k]
    n = len(names)
    if given is not None:
        shear_m, bulk_m = np.full((1, n), np.nan), np.full((1, n), np.nan)
        for i, sid in enumerate(names):
            if sid not in given["values"]:
                errors[i] = errors[i] or (
                    f"no moduli for id {sid!r} in '{moduli}'; add a row for it or leave it out"
                )
            elif given["errors"].get(sid):
                errors[i] = errors[i] or given["errors"][sid]
            else:
                shear_m[0, i], bulk_m[0, i] = given["values"][sid]
    else:
        shear_m, bulk_m = merged["shear_modulus"], merged["bulk_modulus"]
    v = merged["molar_volume_ratio"]
    stats = ensemble_stability(shear_m, bulk_m, np.where(v > 1, np.nan, v), anode, k_low, k_high)
    too_big = v > 1
    if too_big.any():  # computed for the record, but excluded from the ranking (thesis)
        big = ensemble_stability(
            shear_m, bulk_m, np.where(too_big, v, np.nan), anode, k_low, k_high
        )
        for key, value in big.items():
            stats[key] = np.where(too_big, value, stats[key])
        for i in np.flatnonzero(too_big):
            errors[i] = errors[i] or (
                f"excluded from the ranking: molar volume ratio v = {v[i]:.3g} > 1 (Li "
                f"coordination {merged['li_coordination'][i]:.3g} is beyond Shannon's table)"
            )
    failed = np.array([bool(e) for e in errors], dtype=bool)
    order = rank_order(stats["lambda_crit"], failed | too_big)
    return build_dataset(
        names,
        order,
        merged,
        stats,
        errors,
        unreadable,
        without_li,
        dropped,
        anode,
        k_low,
        k_high,
        {p: label(spec) for p, spec in specs.items() if p in models},
        moduli,
        min_band_gap,
    )


def screen_chunk(
    chunk: Sequence[tuple[str, Any]],
    models: dict[str, Any],
    molar_volume: float,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Molar volume ratio and predictions for one chunk of Li structures (a dask task).

    Returns a dict of arrays over the chunk's structures: ``li_coordination``,
    ``molar_volume_ratio``, ``formula``, ``n_atoms``, ``error``, and for each
    model's property ``<prop>`` [members, n] (GPa or eV).
    """
    from asegraph.calculators.predict import predict
    from asegraph.exceptions import AsegraphError

    names = [sid for sid, _ in chunk]
    structures = [atoms for _, atoms in chunk]
    n = len(chunk)
    out: dict[str, Any] = {
        "li_coordination": np.full(n, np.nan),
        "molar_volume_ratio": np.full(n, np.nan),
        "formula": np.array([a.get_chemical_formula() for a in structures], dtype=object),
        "n_atoms": np.array([len(a) for a in structures], dtype=np.int64),
        "error": np.array([""] * n, dtype=object),
    }
    for i, (sid, atoms) in enumerate(chunk):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pymatgen's Voronoi warnings
                cn, v = molar_volume_ratio(atoms, molar_volume, label=sid)
            out["li_coordination"][i], out["molar_volume_ratio"][i] = cn, v
        except AsegraphError as exc:
            out["error"][i] = str(exc)
    for prop, spec in models.items():
        ds = predict(structures, {prop: spec}, batch_size=batch_size, names=names, progress=False)
        members = ds[f"{prop}_members"].values if f"{prop}_members" in ds else ds[prop].values[None]
        out[prop] = np.asarray(members, dtype=float)
        for i, message in enumerate(ds["error"].values):
            if message and not out["error"][i]:
                out["error"][i] = str(message)
    return out


def _run_on_cluster(scheduler: str, chunks: list, args: dict, bar) -> list:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise ParameterError(
            "--scheduler needs dask.distributed; pip install 'dask[distributed]'"
        ) from exc
    try:
        client = Client(scheduler, timeout=10)
    except OSError as exc:
        raise ParameterError(
            f"--scheduler {scheduler!r}: cannot connect ({exc}); check the address"
        ) from exc
    try:
        models = client.scatter(args["models"], broadcast=True) if args["models"] else {}
        rest = {k: v for k, v in args.items() if k != "models"}
        futures = [
            client.submit(screen_chunk, chunk, models, **rest, pure=False) for chunk in chunks
        ]
        index = {future.key: k for k, future in enumerate(futures)}
        results: list = [None] * len(chunks)
        for future in as_completed(futures):
            k = index[future.key]
            results[k] = future.result()
            bar.update(len(chunks[k]))
        return results
    finally:
        client.close()


def _merge(results: list[dict], n: int) -> dict[str, Any]:
    if not results:
        empty = {
            "li_coordination": np.zeros(0),
            "molar_volume_ratio": np.zeros(0),
            "formula": np.array([], dtype=object),
            "n_atoms": np.zeros(0, dtype=np.int64),
            "error": np.array([], dtype=object),
        }
        for prop in ("shear_modulus", "bulk_modulus", "band_gap"):
            empty[prop] = np.zeros((1, 0))
        return empty
    merged = {key: np.concatenate([r[key] for r in results], axis=-1) for key in results[0]}
    if "band_gap" in merged:
        merged["band_gap"] = merged["band_gap"].mean(axis=0)
    return merged
