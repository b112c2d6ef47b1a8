"""``explain``: every analysis of thesis ch. 3 for one model and one dataset, written to a folder.

Writes ``representations.nc`` (:func:`representations`), PNG figures and
``summary.json``; returns the summary. The command ``asegraph explain`` is a
thin wrapper around :func:`explain`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import chemical_symbols

from asegraph.exceptions import ParameterError

_DATASET_SUFFIXES = {".csv"}


def read_inputs(
    sources: Sequence[str | Path], target: str | None = None, rows: slice | None = None
) -> tuple[list[str], list[Any], np.ndarray | None, dict[str, str]]:
    """Structures of CSV datasets (CIF column), files, folders or ASE databases.

    Returns
    -------
    ids, structures, values, failed
        ``ids`` are unique: an id seen before (two CSV files numbered by row,
        the same file twice) becomes ``"<source>:<id>"`` (then ``#2``, ...),
        as :func:`asegraph.io.read_structures` does for files, so results map
        back to their own structure. ``values`` (n,) are the ``target``
        column/expression of CSV datasets (``None`` without ``target``);
        ``failed`` maps unreadable ids to why.
    """
    from asegraph.data.datasets import read_dataset
    from asegraph.io import read_structures

    if not sources:
        raise ParameterError("no DATA given: name at least one dataset or structure file")
    ids: list[str] = []
    structures: list[Any] = []
    values: list[float] = []
    failed: dict[str, str] = {}
    seen: set[str] = set()

    def unique(sid: str, path: Path) -> str:
        if sid in seen:  # later results are found by id: a repeat would get another's
            base = sid = f"{path}:{sid}"
            k = 2
            while sid in seen:
                sid, k = f"{base}#{k}", k + 1
        seen.add(sid)
        return sid

    for source in sources:
        path = Path(source)
        if path.suffix.lower() in _DATASET_SUFFIXES:
            data = read_dataset(path, [target] if target else [], rows=rows)
            ids += [unique(str(i), path) for i in data.ids]
            structures += list(data.structures)
            if target:
                values += data.targets[:, 0].tolist()
            failed.update({str(i): m for i, m in data.failures})
            continue
        if target or rows is not None:
            raise ParameterError(
                f"--target/--rows apply to CSV datasets; '{path}' is read as structure files"
            )
        for sid, item in read_structures([path]):
            if isinstance(item, Exception):
                failed[sid] = str(item)
            else:
                ids.append(unique(sid, path))
                structures.append(item)
    return ids, structures, (np.array(values) if target else None), failed


def explain(
    model: Any,
    sources: Sequence[str | Path],
    output: str | Path,
    element: str | None = None,
    reference: Sequence[str | Path] = (),
    target: str | None = None,
    rows: slice | None = None,
    max_points: int = 1000,
    n_random: int = 20,
    probe_elements: str = "metals",
    probe_min_atoms: int = 20,
    search: bool | None = None,
    site_energies: bool | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Interpret ``model`` on ``sources`` (thesis ch. 3) and write the results to ``output``.

    Parameters
    ----------
    model : CGCNN or str
        A model or anything :func:`asegraph.models.load` loads. Of a model
        with several targets, the site energies and the search use the first
        (``summary["target"]``).
    sources : sequence of paths
        CSV datasets, structure files, folders or ASE databases.
    output : path
        Folder for ``representations.nc``, the PNGs and ``summary.json``.
    element : str, optional
        Element whose local environments are mapped (default: the most
        common element of the data).
    reference : sequence of paths, optional
        Fit the environment map on these structures and place the atoms of
        ``sources`` into it by nearest neighbours.
    target : str, optional
        Column or expression of CSV datasets with the true values (reported
        for search candidates found in the data).
    rows : slice, optional
        Rows of CSV datasets to use.
    max_points : int, default 1000
        Atoms per t-SNE map and per coordination analysis (seeded sample).
    n_random : int, default 20
        Random draws for the probe control.
    probe_elements : {"metals", "all"}, default "metals"
        Elements in the PCA map and the probes: the metals present (as the
        thesis, "every nonradioactive metal element"), or every element
        present (anions included).
    probe_min_atoms : int, default 20
        Leave out of the PCA map and the probes elements with fewer atoms in
        the data: an element the model rarely saw keeps its (random) initial
        vector. Pass the training data so the counts are what the model saw;
        ``summary["probe_elements"]`` lists the elements used and left out.
    search : bool, optional
        Run the ABX3 combinatorial search; default when most structures are
        ABX3 perovskites.
    site_energies : bool, optional
        Site-energy maps; default when the model has site values. ``True``
        with a ``readout="pool"`` model raises after writing the embeddings.
    seed : int, default 0
    progress : bool, default True

    Returns
    -------
    dict
        The content of ``summary.json``.
    """
    from asegraph._utils.files import atomic_path
    from asegraph._utils.jsonsafe import write_json
    from asegraph.analysis.interpret.representations import representations, site_values
    from asegraph.analysis.interpret.sites import perovskite_sites
    from asegraph.models import load
    from asegraph.models.inference import model_graphs

    if max_points < 4:
        raise ParameterError(f"max_points must be >= 4 (t-SNE needs points), got {max_points}")
    if probe_elements not in ("metals", "all"):
        raise ParameterError(f"probe_elements must be 'metals' or 'all', got {probe_elements!r}")
    if probe_min_atoms < 1:
        raise ParameterError(f"probe_min_atoms must be >= 1, got {probe_min_atoms}")
    net = load(model)
    ids, structures, values, failed = read_inputs(sources, target, rows)
    if not structures:
        raise ParameterError(f"no readable structure in {list(map(str, sources))}: {failed}")
    ref = read_inputs(reference) if reference else None
    _check_requests(structures, element, None if ref is None else ref[1], search)
    ds = representations(net, structures, ids, progress=progress)
    failed.update(json.loads(ds.attrs["failed"]))
    kept = [ids.index(s) for s in ds["structure"].values.tolist()]
    run = _Run(
        model=net,
        ds=ds,
        structures=[structures[k] for k in kept],
        out=Path(output),
        units=net.config.units[0] or "target units",
        seed=seed,
        max_points=max_points,
        progress=progress,
    )
    run.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(run.out / "representations.nc", suffix=".nc") as tmp:
        ds.to_netcdf(tmp, engine="netcdf4")
    run.files.append("representations.nc")
    summary: dict[str, Any] = {
        "n_structures": len(run.structures),
        "n_atoms": int(ds.sizes["atom"]),
        "failed": failed,
        "readout": net.config.readout,
        "target": net.config.targets[0],  # site energies and search use the first target
        "files": run.files,
    }
    summary["probes"], summary["probe_elements"] = _element_maps(
        run, n_random, probe_elements, probe_min_atoms
    )
    summary["environments"] = _environment_map(run, element, reference, ref)
    has_sites = "site_value" in ds
    if site_energies and not has_sites:
        write_json(run.out / "summary.json", summary)
        site_values(ds)  # raises the explanation, after the embeddings are written
    graphs = model_graphs(net, run.structures, errors="raise")
    labels = perovskite_sites(graphs)
    is_perovskite = bool(np.mean([lab is not None for lab in labels]) >= 0.5)
    if site_energies or (site_energies is None and has_sites):
        summary.update(_site_energies(run, graphs))
    if search or (search is None and is_perovskite):
        true = None if values is None else values[kept]
        summary["search"] = _search(run, labels, true)
    run.files.append("summary.json")
    write_json(run.out / "summary.json", summary)
    return summary


@dataclass
class _Run:
    """What the sections of one explanation share."""

    model: Any
    ds: Any  # the representations dataset
    structures: list[Any]
    out: Path
    units: str
    seed: int
    max_points: int
    progress: bool
    files: list[str] = field(default_factory=list)
    shells: dict = field(default_factory=dict)  # CrystalNN results, shared by two passes

    def where(self, atoms: np.ndarray) -> list[tuple[int, int]]:
        """(structure, atom-in-structure) of flat atom indices ``atoms``."""
        ds = self.ds
        return [
            (int(ds["structure_index"].values[a]), int(ds["index_in_structure"].values[a]))
            for a in atoms
        ]


def _element_maps(
    run: _Run, n_random: int, which: str, min_atoms: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fig. 3-3: PCA map of v^(0) and the linear probes against random vectors.

    Returns the probes and which elements they used: ``{"selection",
    "min_atoms", "n_used", "used": {symbol: atoms}, "left_out": {symbol: atoms},
    "not_probed": {property: why}}`` (a property without a probe is named, not
    silently missing).
    """
    from pymatgen.core.periodic_table import Element

    from asegraph.analysis.interpret import elements, figures

    symbols = run.ds["element"].values.tolist()
    vectors = run.ds["element_embedding"].values
    names, counts = np.unique(run.ds["symbol"].values, return_counts=True)
    atoms = {str(n): int(c) for n, c in zip(names, counts)}
    candidates = [k for k, s in enumerate(symbols) if which == "all" or Element(s).is_metal]
    keep = [k for k in candidates if atoms.get(symbols[k], 0) >= min_atoms]
    used = {
        "selection": which,
        "min_atoms": min_atoms,
        "n_used": len(keep),
        "used": {symbols[k]: atoms.get(symbols[k], 0) for k in keep},
        "left_out": {symbols[k]: atoms.get(symbols[k], 0) for k in candidates if k not in keep},
    }
    symbols, vectors = [symbols[k] for k in keep], vectors[keep]
    if len(symbols) < 3:  # one or two elements: nothing to map or probe
        n = len(symbols)
        why = f"{n} element{'' if n == 1 else 's'}; the map and the 3-fold probes need 3 or more"
        used["not_probed"] = dict.fromkeys(elements.PROPERTIES, why)
        return {}, used
    coords, explained = elements.element_pca(vectors, run.seed)
    figures.element_map(coords, symbols, explained, run.out / "elements_pca.png")
    probes = elements.element_probes(vectors, symbols, n_random=n_random, seed=run.seed)
    used["not_probed"] = {
        name: "no 3-fold probe: needs two classes, one with at least 3 elements"
        for name in elements.PROPERTIES
        if name not in probes
    }
    figures.probe_bars(probes, run.out / "probes.png")
    run.files += ["elements_pca.png", "probes.png"]
    return probes, used


def _check_requests(
    structures: Sequence[Any],
    element: str | None,
    reference: Sequence[Any] | None,
    search: bool | None,
) -> None:
    """Refuse what the analyses cannot do before the representation pass (minutes)."""
    from asegraph.analysis.interpret.environments import sample_atoms
    from asegraph.analysis.interpret.sites import abx3_formula_units
    from asegraph.graph.structures import to_atoms

    cells = [to_atoms(s).numbers for s in structures]
    if element is not None:
        checks = [(cells, "the data")]
        if reference is not None:
            where = "the reference structures (--reference)"
            checks.append(([to_atoms(s).numbers for s in reference], where))
        for numbers, where in checks:
            present = np.array(sorted({chemical_symbols[z] for n in numbers for z in n}))
            sample_atoms(present, element, 1, where=where)  # raises, naming what is there
    if search and not any(abx3_formula_units(n) for n in cells):
        raise ParameterError(
            "search: no ABX3 structure (three anions per two cations) in the data; the "
            "combinatorial search needs a perovskite dataset (leave out --search)"
        )


def _environment_map(
    run: _Run,
    element: str | None,
    reference: Sequence[str | Path],
    reference_read: tuple[list[str], list[Any], Any, Any] | None,
) -> dict[str, Any]:
    """Fig. 3-5, 3-7, 3-9: t-SNE of one element's v_i^(R), coloured; new atoms projected."""
    from asegraph.analysis.interpret import environments as env
    from asegraph.analysis.interpret import figures
    from asegraph.analysis.interpret.representations import representations, site_values

    ds = run.ds
    symbols = ds["symbol"].values
    if element is None:
        names, counts = np.unique(symbols, return_counts=True)
        element = str(names[np.argmax(counts)])
    projected = None
    if reference:  # the map is the reference set's; this data is placed into it
        r_ids, r_structures, _, _ = reference_read
        map_ds = representations(run.model, r_structures, r_ids, progress=run.progress)
        map_structures = [r_structures[r_ids.index(s)] for s in map_ds["structure"].values]
        new = env.sample_atoms(symbols, element, run.max_points, run.seed)
        cache = None  # other structures: nothing to share with the site-energy pass
    else:
        map_ds, map_structures, new, cache = ds, run.structures, None, run.shells
    source = "the reference structures (--reference)" if reference else "the data"
    chosen = env.sample_atoms(map_ds["symbol"].values, element, run.max_points, run.seed, source)
    vectors = map_ds["atom_vector"].values[chosen, -1]  # [n, A] v_i^(R)
    coords = env.environment_map(vectors, run.seed)
    if new is not None:
        projected = env.project(vectors, coords, ds["atom_vector"].values[new, -1])
    where = [
        (int(map_ds["structure_index"].values[a]), int(map_ds["index_in_structure"].values[a]))
        for a in chosen
    ]
    shell = env.coordination(map_structures, where, run.progress, cache)
    site = site_values(map_ds)[chosen] if "site_value" in map_ds else None
    colours = {
        f"E_i ({run.units})": site,
        "coordination number (CrystalNN)": shell["cn"].astype(float),
        "octahedral order parameter": shell["oct"],
        "tetrahedral order parameter": shell["tet"],
    }
    name = f"environments_{element}.png"
    title = f"local environments of {element} (t-SNE of v_i^(R))"
    figures.environment_maps(coords, colours, run.out / name, title, projected)
    run.files.append(name)
    return {
        "element": element,
        "n_points": len(chosen),
        "reference": [str(r) for r in reference],
        "n_projected": 0 if projected is None else len(projected),
        "coordination_numbers": dict(zip(*np.unique(shell["cn"], return_counts=True))),
    }


def _site_energies(run: _Run, graphs: list) -> dict[str, Any]:
    """Fig. 3-4, 3-10, 3-11: E_i per element and site class, per (centre, neighbour) pair.

    Site classes: A/B/X of ABX3 perovskites (by coordination), Wyckoff classes
    of every other structure (:func:`~asegraph.analysis.interpret.sites.site_classes`).
    Heat maps: the A and B sites, the (up to) four most populated Wyckoff
    classes with three or more elements, and all sites when the data holds
    no perovskite.
    """
    import re

    from asegraph.analysis.interpret import environments as env
    from asegraph.analysis.interpret import figures
    from asegraph.analysis.interpret.representations import site_values
    from asegraph.analysis.interpret.sites import (
        environment_energies,
        site_classes,
        site_energy_table,
    )

    site = site_values(run.ds)
    symbols = run.ds["symbol"].values
    classes = site_classes(run.structures, graphs, progress=run.progress)
    table = site_energy_table(symbols, classes, site)
    counts = {c: sum(e["count"] for e in table[c].values()) for c in table}
    wyckoff = [c for c in table if c not in ("A", "B", "X") and len(table[c]) >= 3]
    maps = {c: f"the {c} site" for c in ("A", "B") if c in table}
    maps.update({c: f"Wyckoff class {c}" for c in sorted(wyckoff, key=counts.get)[::-1][:4]})
    if not any(c in table for c in ("A", "B", "X")):  # no perovskite: one map of every site
        table_all = site_energy_table(symbols, ["all"] * len(site), site)
        table = {**table, "all": table_all["all"]}
        maps["all"] = "any site"
    for name, where in maps.items():
        means = {s: v["mean"] for s, v in table[name].items()}
        file = f"site_energy_{re.sub(r'[^A-Za-z0-9_-]+', '_', name)}.png"
        title = f"mean site energy E_i on {where}"
        figures.periodic_table(means, run.out / file, title, f"E_i ({run.units})")
        run.files.append(file)
    rng = np.random.default_rng(run.seed)
    sample = np.sort(rng.choice(len(site), min(run.max_points, len(site)), replace=False))
    shells = env.coordination(run.structures, run.where(sample), run.progress, run.shells)
    pairs = environment_energies(symbols[sample], shells["neighbors"], site[sample])
    figures.pair_matrix(pairs, run.out / "environment_pairs.png", f"mean E_i ({run.units})")
    run.files.append("environment_pairs.png")
    anions = [a for a in ("O", "S") if any(n == a for _, n in pairs)]
    if anions:
        figures.anion_environments(pairs, anions, run.out / "anion_environments.png")
        run.files.append("anion_environments.png")
    ranked = sorted(
        ({"centre": c, "neighbour": n, **e} for (c, n), e in pairs.items() if e["weight"] >= 2),
        key=lambda e: e["mean"],
    )
    return {
        "site_energies": table,
        "site_classes": dict(sorted(counts.items(), key=lambda kv: -kv[1])),
        "most_stable_environments": ranked[:10],
        "least_stable_environments": ranked[::-1][:10],
    }


def _search(run: _Run, labels: list, true: np.ndarray | None) -> dict[str, Any]:
    """Ch. 3.3.2: the ABX3 combinatorial search, ranked, with Table 3.1 hits."""
    from asegraph.analysis.interpret.search import TABLE_3_1, count_found, perovskite_search

    ids = run.ds["structure"].values.tolist()
    ranked = perovskite_search(run.model, run.structures, labels, ids, true)
    _write_csv(run.out / "search.csv", ranked)
    run.files.append("search.csv")
    return {
        "n_candidates": len(ranked),
        "top30": ranked[:30],
        "table_3_1_in_top30": count_found(ranked, TABLE_3_1, 30),
        "n_in_dataset": sum(c["in_dataset"] is not None for c in ranked),
    }


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import csv
    import io

    from asegraph._utils.files import atomic_write_text

    columns = [
        "rank",
        "formula",
        "a_site",
        "b_site",
        "predicted",
        "in_dataset",
        "true",
        "prototype",
        "scale",
    ]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in columns})
    atomic_write_text(path, text.getvalue())
