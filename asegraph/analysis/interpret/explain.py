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

from asegraph.exceptions import ParameterError

_DATASET_SUFFIXES = {".csv"}


def read_inputs(
    sources: Sequence[str | Path], target: str | None = None, rows: slice | None = None
) -> tuple[list[str], list[Any], np.ndarray | None, dict[str, str]]:
    """Structures of CSV datasets (CIF column), files, folders or ASE databases.

    Returns
    -------
    ids, structures, values, failed
        ``values`` (n,) are the ``target`` column/expression of CSV datasets
        (``None`` without ``target``); ``failed`` maps unreadable ids to why.
    """
    from asegraph.data.datasets import read_dataset
    from asegraph.io import read_structures

    if not sources:
        raise ParameterError("no DATA given: name at least one dataset or structure file")
    ids: list[str] = []
    structures: list[Any] = []
    values: list[float] = []
    failed: dict[str, str] = {}
    for source in sources:
        path = Path(source)
        if path.suffix.lower() in _DATASET_SUFFIXES:
            data = read_dataset(path, [target] if target else [], rows=rows)
            ids += [str(i) for i in data.ids]
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
                ids.append(sid)
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
    search: bool | None = None,
    site_energies: bool | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Interpret ``model`` on ``sources`` (thesis ch. 3) and write the results to ``output``.

    Parameters
    ----------
    model : CGCNN or str
        A model or anything :func:`asegraph.models.load` loads.
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
    net = load(model)
    ids, structures, values, failed = read_inputs(sources, target, rows)
    if not structures:
        raise ParameterError(f"no readable structure in {list(map(str, sources))}: {failed}")
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
        "files": run.files,
    }
    summary["probes"] = _element_maps(run, n_random, probe_elements)
    summary["environments"] = _environment_map(run, element, reference)
    has_sites = "site_value" in ds
    if site_energies and not has_sites:
        write_json(run.out / "summary.json", summary)
        site_values(ds)  # raises the explanation, after the embeddings are written
    graphs = model_graphs(net, run.structures, errors="raise")
    labels = perovskite_sites(graphs)
    is_perovskite = bool(np.mean([lab is not None for lab in labels]) >= 0.5)
    if site_energies or (site_energies is None and has_sites):
        summary.update(_site_energies(run, graphs, labels if is_perovskite else None))
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


def _element_maps(run: _Run, n_random: int, which: str) -> dict[str, Any]:
    """Fig. 3-3: PCA map of v^(0) and the linear probes against random vectors."""
    from pymatgen.core.periodic_table import Element

    from asegraph.analysis.interpret import elements, figures

    symbols = run.ds["element"].values.tolist()
    vectors = run.ds["element_embedding"].values
    if which == "metals":
        keep = [k for k, s in enumerate(symbols) if Element(s).is_metal]
        symbols, vectors = [symbols[k] for k in keep], vectors[keep]
    if len(symbols) < 3:
        return {}  # one or two elements: nothing to map or probe
    coords, explained = elements.element_pca(vectors, run.seed)
    figures.element_map(coords, symbols, explained, run.out / "elements_pca.png")
    probes = elements.element_probes(vectors, symbols, n_random=n_random, seed=run.seed)
    figures.probe_bars(probes, run.out / "probes.png")
    run.files += ["elements_pca.png", "probes.png"]
    return probes


def _environment_map(
    run: _Run, element: str | None, reference: Sequence[str | Path]
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
        r_ids, r_structures, _, _ = read_inputs(reference)
        map_ds = representations(run.model, r_structures, r_ids, progress=run.progress)
        map_structures = [r_structures[r_ids.index(s)] for s in map_ds["structure"].values]
        new = env.sample_atoms(symbols, element, run.max_points, run.seed)
        cache = None  # other structures: nothing to share with the site-energy pass
    else:
        map_ds, map_structures, new, cache = ds, run.structures, None, run.shells
    chosen = env.sample_atoms(map_ds["symbol"].values, element, run.max_points, run.seed)
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


def _site_energies(run: _Run, graphs: list, labels: list | None) -> dict[str, Any]:
    """Fig. 3-4, 3-10, 3-11: E_i per element and site, per (centre, neighbour) pair."""
    from asegraph.analysis.interpret import environments as env
    from asegraph.analysis.interpret import figures
    from asegraph.analysis.interpret.representations import site_values
    from asegraph.analysis.interpret.sites import environment_energies, site_energy_table

    site = site_values(run.ds)
    symbols = run.ds["symbol"].values
    if labels is not None:  # perovskites: A/B/X by coordination
        classes = np.concatenate(
            [lab if lab is not None else [None] * g.n_atoms for lab, g in zip(labels, graphs)]
        )
    else:
        classes = np.full(len(site), "all", dtype=object)
    table = site_energy_table(symbols, classes, site)
    for name in sorted(k for k in table if k != "X"):
        means = {s: v["mean"] for s, v in table[name].items()}
        where = f"the {name} site" if labels is not None else "any site"
        title = f"mean site energy E_i on {where}"
        figures.periodic_table(
            means, run.out / f"site_energy_{name}.png", title, f"E_i ({run.units})"
        )
        run.files.append(f"site_energy_{name}.png")
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
    ]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in columns})
    atomic_write_text(path, text.getvalue())
