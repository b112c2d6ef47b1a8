"""Combinatorial search for ABX3 perovskites guided by the site energies (thesis ch. 3.3.2).

The A-site map of the perovskite model shows large group 13–15 metals as
stable A cations; the thesis then enumerated A from groups 13–15 and B from
groups 4–6 with the anion sets of the data, predicted them and found 33
candidates below 0.2 eV/atom, 7x the rate of the whole dataset (Table 3.1).

:func:`perovskite_search` does that for any ABX3 dataset and model: every
candidate is built by element substitution into a relaxed structure of the
dataset with the same anions (the prototype whose A and B atomic radii are
closest to the candidate's), with the cell scaled by the cube root of the
ratio of summed atomic volumes ``sum(r_i^3)`` of candidate and prototype
(pymatgen's empirical atomic radii; fractional positions kept; ``rescale=False``
keeps the prototype's cell), predicted with the model, and ranked. Candidates
present in the dataset (same A, B and anions, sites found by coordination) are
reported with their true values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from asegraph.exceptions import ParameterError

ANION_ORDER = ("O", "F", "N", "S", "Cl", "Se", "Br", "Te", "I")  # Table 3.1's order


def formula(a_site: str, b_site: str, anions: Sequence[str]) -> str:
    """``A B X...`` written as in Table 3.1 (e.g. ``TlTaO2F``, ``TlTaOFN``)."""
    counts = Counter(anions)
    rank = {x: k for k, x in enumerate(ANION_ORDER)}
    parts = [f"{x}{counts[x] if counts[x] > 1 else ''}" for x in sorted(counts, key=rank.get)]
    return f"{a_site}{b_site}{''.join(parts)}"


def parse_formula(text: str) -> tuple[str, str, tuple[str, ...]]:
    """``"TlTaO2F"`` -> ``("Tl", "Ta", ("F", "O", "O"))``: A first, B second, then anions."""
    import re

    tokens = re.findall(r"([A-Z][a-z]?)(\d*)", text)
    if len(tokens) < 3 or any(int(n or 1) != 1 for _, n in tokens[:2]):
        raise ParameterError(f"formula {text!r} is not written A B X3 (e.g. 'PbTiO3', 'TlTaO2F')")
    anions = tuple(sorted(x for x, n in tokens[2:] for _ in range(int(n or 1))))
    if len(anions) != 3:
        raise ParameterError(f"formula {text!r} has {len(anions)} anions; ABX3 needs 3")
    return tokens[0][0], tokens[1][0], anions


def _elements_in_groups(candidates: Sequence[str], groups: Sequence[int]) -> list[str]:
    from pymatgen.core.periodic_table import Element

    chosen = [s for s in candidates if Element(s).group in groups and Element(s).is_metal]
    return sorted(chosen, key=lambda s: Element(s).Z)


def perovskite_search(
    model: Any,
    structures: Sequence[Any],
    site_labels: Sequence[Sequence[str] | None],
    ids: Sequence[str],
    values: np.ndarray | None = None,
    a_groups: Sequence[int] = (13, 14, 15),
    b_groups: Sequence[int] = (4, 5, 6),
    batch_size: int = 256,
    rescale: bool = True,
) -> list[dict[str, Any]]:
    """Enumerate, build, predict and rank ABX3 candidates.

    Parameters
    ----------
    model : CGCNN
        Predicts an energy-like target (lower = more stable).
    structures : sequence of ase.Atoms
        The dataset (relaxed perovskites).
    site_labels : sequence
        :func:`~asegraph.analysis.interpret.sites.perovskite_sites` of
        ``structures`` (``None`` for entries that are not ABX3).
    ids : sequence of str
    values : ndarray, shape (n,), optional
        True target values of ``structures`` (reported for known candidates).
    a_groups, b_groups : sequence of int
        Groups of the A and B candidates (metals seen in the data).
    batch_size : int, default 256
    rescale : bool, default True
        Scale the prototype's cell isotropically so its volume follows the
        atomic volumes: ``s = (sum r_new^3 / sum r_proto^3)^(1/3)`` over the
        five atoms (only A and B change). A crude stand-in for relaxation;
        without it a small A in a large A's cell has stretched bonds.

    Returns
    -------
    list of dict
        Ranked by prediction (ascending): ``formula``, ``a_site``, ``b_site``,
        ``anions``, ``predicted``, ``prototype`` (id), ``scale`` (cell
        scale factor applied), ``in_dataset`` (id or None), ``true`` (value
        or None), ``rank`` (1-based).
    """
    from pymatgen.core.periodic_table import Element

    from asegraph.graph.structures import to_atoms
    from asegraph.models.inference import model_graphs, predict_graphs

    entries = []  # (index, A, B, anions, A atom index, B atom index)
    for k, labels in enumerate(site_labels):
        if labels is None:
            continue
        atoms = to_atoms(structures[k])
        symbols = atoms.get_chemical_symbols()
        a_index = [i for i, lab in enumerate(labels) if lab == "A"]
        b_index = [i for i, lab in enumerate(labels) if lab == "B"]
        if len(a_index) != 1 or len(b_index) != 1:
            continue  # supercells of ABX3: leave them out of the prototypes
        anions = tuple(sorted(symbols[i] for i, lab in enumerate(labels) if lab == "X"))
        entries.append((k, symbols[a_index[0]], symbols[b_index[0]], anions, a_index, b_index))
    if not entries:
        raise ParameterError(
            "no ABX3 perovskite (one A, one B, three anions per cell) in the data; the "
            "combinatorial search needs a perovskite dataset"
        )
    cations = sorted({e[1] for e in entries} | {e[2] for e in entries})
    a_elements = _elements_in_groups(cations, a_groups)
    b_elements = _elements_in_groups(cations, b_groups)
    anion_sets = sorted({e[3] for e in entries})
    known = {(e[1], e[2], e[3]): e[0] for e in entries}
    radius = {s: float(Element(s).atomic_radius or np.nan) for s in cations}
    candidates, built = [], []
    for anions in anion_sets:
        protos = [e for e in entries if e[3] == anions]
        pr = np.array([[radius[e[1]], radius[e[2]]] for e in protos])  # Å
        for a_site in a_elements:
            for b_site in b_elements:
                if a_site == b_site:
                    continue
                gap = np.nansum((pr - [radius[a_site], radius[b_site]]) ** 2, axis=1)
                proto = protos[int(np.argmin(gap))]
                atoms = to_atoms(structures[proto[0]]).copy()
                symbols = atoms.get_chemical_symbols()
                symbols[proto[4][0]] = a_site
                symbols[proto[5][0]] = b_site
                atoms.set_chemical_symbols(symbols)
                scale = 1.0
                if rescale:
                    old = to_atoms(structures[proto[0]]).get_chemical_symbols()
                    scale = float(_volume(symbols) / _volume(old)) ** (1.0 / 3.0)
                    atoms.set_cell(atoms.cell * scale, scale_atoms=True)
                match = known.get((a_site, b_site, anions))
                candidates.append(
                    {
                        "formula": formula(a_site, b_site, anions),
                        "a_site": a_site,
                        "b_site": b_site,
                        "anions": list(anions),
                        "prototype": str(ids[proto[0]]),
                        "scale": scale,
                        "in_dataset": None if match is None else str(ids[match]),
                        "true": None
                        if match is None or values is None
                        else float(np.asarray(values)[match]),
                    }
                )
                built.append(atoms)
    graphs = model_graphs(model, built, [c["formula"] for c in candidates], errors="raise")
    predicted = predict_graphs(model, graphs, batch_size)["y"][:, 0]
    for candidate, value in zip(candidates, predicted):
        candidate["predicted"] = float(value)
    ranked = sorted(candidates, key=lambda c: c["predicted"])
    for rank, candidate in enumerate(ranked, start=1):
        candidate["rank"] = rank
    return ranked


def _volume(symbols: Sequence[str]) -> float:
    """Sum of atomic radii cubed (Å^3, up to 4π/3) of ``symbols``; radius 1.5 Å if unknown."""
    from pymatgen.core.periodic_table import Element

    return float(sum((Element(s).atomic_radius or 1.5) ** 3 for s in symbols))


def count_found(ranked: Sequence[dict[str, Any]], formulas: Sequence[str], top: int) -> list[str]:
    """Which of ``formulas`` (A B X3, e.g. Table 3.1's) are among the ``top`` candidates."""
    wanted = {parse_formula(f): f for f in formulas}
    hits = []
    for candidate in ranked[:top]:
        key = (candidate["a_site"], candidate["b_site"], tuple(sorted(candidate["anions"])))
        if key in wanted:
            hits.append(wanted[key])
    return hits


TABLE_3_1 = (
    "TlNbO3 SnTiO3 PbVO3 SnTaO3 TlWO3 PbMoO3 PbCrO3 SnNbO3 SnTaO2N TlTaOFN TlTaO2F TlHfO2F "
    "PbTiO3 InNbO3 InWO3 InTaO3 InNbO2F InTaO2S TlNbO2F TlZrO2F SnVO3 TlTiO2F PbNbO2N PbZrO3 "
    "PbNbO3 BiCrO3 PbVO2F SnNbO2N PbHfO3 TlTaO3 PbTaO3 InTaO2F InZrO2F"
).split()
"""The 33 formulas of Table 3.1 (the issue's list is its first 23)."""
