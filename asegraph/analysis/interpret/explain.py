"""``explain``: every analysis of thesis ch. 3 for one model and one dataset, written to a folder.

Writes ``representations.nc`` (:func:`representations`), PNG figures and
``summary.json``; returns the summary. The command ``asegraph explain`` is a
thin wrapper around :func:`explain`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
    from asegraph.analysis.interpret import elements as el
    from asegraph.analysis.interpret import environments as env
    from asegraph.analysis.interpret import figures
    from asegraph.analysis.interpret.representations import representations, site_values
    from asegraph.analysis.interpret.search import TABLE_3_1, count_found, perovskite_search
    from asegraph.analysis.interpret.sites import (
        environment_energies,
        perovskite_sites,
        site_energy_table,
    )
    from asegraph.models import load
    from asegraph.models.inference import model_graphs

    if max_points < 4:
        raise ParameterError(f"max_points must be >= 4 (t-SNE needs points), got {max_points}")
    net = load(model)
    out = Path(output)
    ids, structures, values, failed = read_inputs(sources, target, rows)
    if not structures:
        raise ParameterError(f"no readable structure in {list(map(str, sources))}: {failed}")
    ds = representations(net, structures, ids, progress=progress)
    failed.update(json.loads(ds.attrs["failed"]))
    kept = [ids.index(s) for s in ds["structure"].values.tolist()]
    structures = [structures[k] for k in kept]
    values = None if values is None else values[kept]
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "representations.nc", suffix=".nc") as tmp:
        ds.to_netcdf(tmp, engine="netcdf4")
    units = net.config.units[0] or "target units"
    summary: dict[str, Any] = {
        "n_structures": len(structures),
        "n_atoms": int(ds.sizes["atom"]),
        "failed": failed,
        "readout": net.config.readout,
        "files": ["representations.nc"],
    }

    # elements (Fig. 3-3): PCA map and linear probes
    symbols = ds["element"].values.tolist()
    vectors = ds["element_embedding"].values
    if len(symbols) >= 3:
        coords, explained = el.element_pca(vectors, seed)
        figures.element_map(coords, symbols, explained, out / "elements_pca.png")
        summary["files"].append("elements_pca.png")
        summary["probes"] = el.element_probes(vectors, symbols, n_random=n_random, seed=seed)
        figures.probe_bars(summary["probes"], out / "probes.png")
        summary["files"].append("probes.png")
    else:
        summary["probes"] = {}

    has_sites = "site_value" in ds
    if site_energies is None:
        site_energies = has_sites
    site = site_values(ds) if has_sites else None

    # local environments (Fig. 3-5, 3-7, 3-9)
    atom_symbols = ds["symbol"].values
    if element is None:
        names, counts = np.unique(atom_symbols, return_counts=True)
        element = str(names[np.argmax(counts)])
    last = ds["atom_vector"].values[:, -1]  # [N, A] v_i^(R)
    where = np.stack([ds["structure_index"].values, ds["index_in_structure"].values], axis=1)
    if reference:
        r_ids, r_structures, _, _ = read_inputs(reference)
        rds = representations(net, r_structures, r_ids, progress=progress)
        r_structures = [r_structures[r_ids.index(s)] for s in rds["structure"].values.tolist()]
        chosen = env.sample_atoms(rds["symbol"].values, element, max_points, seed)
        r_where = np.stack([rds["structure_index"].values, rds["index_in_structure"].values], 1)
        map_vectors = rds["atom_vector"].values[chosen, -1]
        map_site = site_values(rds)[chosen] if has_sites else None
        map_structures, map_where = r_structures, r_where[chosen]
        new = env.sample_atoms(atom_symbols, element, max_points, seed)
        coords_2d = env.environment_map(map_vectors, seed)
        projected = env.project(map_vectors, coords_2d, last[new])
    else:
        chosen = env.sample_atoms(atom_symbols, element, max_points, seed)
        map_vectors, map_site = last[chosen], (site[chosen] if has_sites else None)
        map_structures, map_where = structures, where[chosen]
        coords_2d, projected = env.environment_map(map_vectors, seed), None
    shells_known: dict = {}  # CrystalNN results shared by the two coordination passes
    shell = env.coordination(
        map_structures, [tuple(w) for w in map_where], progress, None if reference else shells_known
    )
    colours = {
        f"E_i ({units})": map_site,
        "coordination number (CrystalNN)": shell["cn"].astype(float),
        "octahedral order parameter": shell["oct"],
        "tetrahedral order parameter": shell["tet"],
    }
    figures.environment_maps(
        coords_2d, colours, out / f"environments_{element}.png",
        f"local environments of {element} (t-SNE of v_i^(R))", projected,
    )  # fmt: skip
    summary["files"].append(f"environments_{element}.png")
    summary["environments"] = {
        "element": element,
        "n_points": len(chosen),
        "reference": [str(r) for r in reference],
        "coordination_numbers": dict(zip(*np.unique(shell["cn"], return_counts=True))),
    }

    # site energies (Fig. 3-4, 3-10, 3-11)
    if site_energies and not has_sites:
        write_json(out / "summary.json", summary)
        site_values(ds)  # raises the explanation, after the embeddings are written
    graphs = model_graphs(net, structures, errors="raise")
    labels = perovskite_sites(graphs)
    is_perovskite = np.mean([lab is not None for lab in labels]) >= 0.5
    if site_energies:
        if is_perovskite:
            classes = np.concatenate(
                [lab if lab is not None else [None] * g.n_atoms for lab, g in zip(labels, graphs)]
            )
        else:
            classes = np.full(len(site), "all", dtype=object)
        table = site_energy_table(atom_symbols, classes, site)
        summary["site_energies"] = table
        for name in sorted(k for k in table if k != "X"):
            means = {s: v["mean"] for s, v in table[name].items()}
            where_ = "the " + name + " site" if is_perovskite else "any site"
            figures.periodic_table(
                means, out / f"site_energy_{name}.png",
                f"mean site energy E_i on {where_}", f"E_i ({units})",
            )  # fmt: skip
            summary["files"].append(f"site_energy_{name}.png")
        sample = np.sort(
            np.random.default_rng(seed).choice(len(site), min(max_points, len(site)), replace=False)
        )
        shells = env.coordination(
            structures, [tuple(w) for w in where[sample]], progress, shells_known
        )
        pairs = environment_energies(atom_symbols[sample], shells["neighbors"], site[sample])
        figures.pair_matrix(pairs, out / "environment_pairs.png", f"mean E_i ({units})")
        summary["files"].append("environment_pairs.png")
        anions = [a for a in ("O", "S") if any(n == a for _, n in pairs)]
        if anions:
            figures.anion_environments(pairs, anions, out / "anion_environments.png")
            summary["files"].append("anion_environments.png")
        ranked = sorted(
            ({"centre": c, "neighbour": n, **e} for (c, n), e in pairs.items() if e["weight"] >= 2),
            key=lambda e: e["mean"],
        )
        summary["most_stable_environments"] = ranked[:10]
        summary["least_stable_environments"] = ranked[::-1][:10]

    # combinatorial search (ch. 3.3.2)
    if search is None:
        search = bool(is_perovskite)
    if search:
        ranked = perovskite_search(net, structures, labels, ds["structure"].values.tolist(), values)
        found = count_found(ranked, TABLE_3_1, 30)
        summary["search"] = {
            "n_candidates": len(ranked),
            "top30": ranked[:30],
            "table_3_1_in_top30": found,
            "n_in_dataset": sum(c["in_dataset"] is not None for c in ranked),
        }
        _write_csv(out / "search.csv", ranked)
        summary["files"].append("search.csv")
    summary["files"].append("summary.json")
    write_json(out / "summary.json", summary)
    return summary


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
