"""Site energies: the mean ``E_i`` of an element on a site (thesis Fig. 3-4, 3-10, 3-11).

* :func:`perovskite_sites` labels the atoms of ABX3 perovskites A, B or X by
  coordination: B is the cation in the anion octahedron, i.e. the one whose
  six nearest anions are closest; A sits in the 12-fold cage. The order of
  atoms in the file plays no part (in the Castelli set the A site is listed
  first in ~95 % of entries, but not in all).
* :func:`wyckoff_sites` labels the atoms of any structure by their
  Wyckoff-equivalent site class, ``"<space group> <multiplicity> <site
  symmetry>"`` (e.g. ``"Fd-3m 8 -43m"``), from pymatgen's
  ``SpacegroupAnalyzer`` (spglib).
* :func:`site_classes` combines the two: ABX3 structures keep the A/B/X
  names (the thesis' perovskite sites), every other structure gets its
  Wyckoff classes.
* :func:`site_energy_table` averages ``E_i`` per element and site class.
* :func:`environment_energies` averages ``E_i`` of centre atoms per
  (centre element, neighbour element) pair, each centre atom counting once,
  split over its neighbour elements by their share of its coordination shell
  (a centre whose neighbours are all oxygen counts fully as an "O
  environment", Fig. 3-10; the matrix is Fig. 3-11).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

ANIONS = ("N", "O", "F", "S", "Cl", "Br", "I")  # not Se, Te: cations in the Castelli set


def abx3_formula_units(numbers: Sequence[int], anions: Sequence[str] = ANIONS) -> int:
    """ABX3 formula units of a cell by composition (three anions per two cations), else 0.

    Parameters
    ----------
    numbers : sequence of int, shape (n_atoms,)
        Atomic numbers of the cell.
    anions : sequence of str
        Elements that count as X.
    """
    from ase.data import atomic_numbers

    numbers = np.asarray(numbers)
    n_anions = int(np.isin(numbers, [atomic_numbers[a] for a in anions]).sum())
    n_formula = n_anions // 3
    if n_anions != 3 * n_formula or len(numbers) - n_anions != 2 * n_formula:
        return 0
    return n_formula


def perovskite_sites(
    graphs: Sequence[Any], anions: Sequence[str] = ANIONS
) -> list[list[str] | None]:
    """A/B/X labels of the atoms of ABX3 structures, found by coordination.

    Parameters
    ----------
    graphs : sequence of CrystalGraph
        The structures' crystal graphs (12 nearest neighbours or more).
    anions : sequence of str
        Elements that count as X.

    Returns
    -------
    list
        Per structure, a list of ``"A"``/``"B"``/``"X"`` per atom, or ``None``
        when the structure is not ABX3 (one A and one B per three X).
    """
    from ase.data import atomic_numbers

    anion_z = np.array([atomic_numbers[a] for a in anions])
    out: list[list[str] | None] = []
    for graph in graphs:
        numbers = np.asarray(graph.numbers)
        n_formula = abx3_formula_units(numbers, anions)
        if not n_formula:
            out.append(None)
            continue
        is_anion = np.isin(numbers, anion_z)
        cations = np.flatnonzero(~is_anion)
        senders, receivers = graph.edge_index
        octahedron = np.full(len(numbers), np.inf)
        for i in cations:
            to_anions = (receivers == i) & is_anion[senders]
            d = np.sort(graph.distances[to_anions])[:6]
            if len(d):
                octahedron[i] = d.mean()  # Å, mean distance to the 6 nearest anions
        order = cations[np.argsort(octahedron[cations], kind="stable")]
        labels = np.where(is_anion, "X", "A").astype(object)
        labels[order[:n_formula]] = "B"  # the octahedrally coordinated half of the cations
        out.append(labels.tolist())
    return out


def wyckoff_sites(
    structures: Sequence[Any], symprec: float = 0.1, progress: bool = False
) -> list[list[str] | None]:
    """Wyckoff-equivalent site classes of the atoms of each structure.

    Parameters
    ----------
    structures : sequence of ase.Atoms or pymatgen Structure
    symprec : float, default 0.1
        Symmetry tolerance (Å) of ``SpacegroupAnalyzer``; looser than
        pymatgen's 0.01 because relaxed DFT cells keep small distortions.
    progress : bool, default False
        tqdm bar.

    Returns
    -------
    list
        Per structure, per atom ``"<space group> <multiplicity> <site
        symmetry>"`` (multiplicity per conventional cell, e.g. ``"Fd-3m 8
        -43m"`` for diamond), or ``None`` where spglib finds no symmetry.

    Notes
    -----
    The Wyckoff *letter* is left out on purpose: spglib's letter depends on
    the origin of the input cell wherever the space group's normalizer
    exchanges positions (diamond's carbon comes out as 8a or 8b, rock salt's
    Na as 4a or 4b, depending on a translation of the same crystal), so
    letters would split one site over two classes between structures.
    Multiplicity and site symmetry do not depend on the setting. Two
    inequivalent orbits of one structure with the same multiplicity and site
    symmetry (graphite's 2b and 2c) share a class; symmetry-equivalent atoms
    always do.
    """
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
    from tqdm.auto import tqdm

    out: list[list[str] | None] = []
    for structure in tqdm(structures, desc="Wyckoff sites", disable=not progress):
        if not hasattr(structure, "lattice"):  # ase.Atoms
            structure = AseAtomsAdaptor.get_structure(structure)
        try:
            analyzer = SpacegroupAnalyzer(structure, symprec=symprec)
            dataset = analyzer.get_symmetry_dataset()
            conventional = len(analyzer.get_refined_structure())
        except (TypeError, ValueError):  # spglib found no cell/symmetry
            out.append(None)
            continue
        if dataset is None:
            out.append(None)
            continue
        group = analyzer.get_space_group_symbol()
        orbit = np.asarray(dataset.equivalent_atoms)  # per input atom, its orbit's first atom
        per_conventional = conventional / len(structure)  # orbit size -> Wyckoff multiplicity
        labels = []
        for i, symmetry in enumerate(dataset.site_symmetry_symbols):
            multiplicity = round(np.count_nonzero(orbit == orbit[i]) * per_conventional)
            labels.append(f"{group} {multiplicity} {symmetry}")
        out.append(labels)
    return out


def site_classes(
    structures: Sequence[Any],
    graphs: Sequence[Any],
    symprec: float = 0.1,
    progress: bool = False,
) -> np.ndarray:
    """One site class per atom of all structures, flat: A/B/X for ABX3, else Wyckoff.

    Parameters
    ----------
    structures : sequence of ase.Atoms
    graphs : sequence of CrystalGraph
        Their crystal graphs (for the A/B/X coordination test).
    symprec : float, default 0.1
        See :func:`wyckoff_sites`.
    progress : bool, default False

    Returns
    -------
    ndarray of object, shape (N,)
        ``"A"``, ``"B"``, ``"X"`` (perovskites, by coordination), a Wyckoff
        class, or ``None`` (no symmetry found).
    """
    perovskite = perovskite_sites(graphs)
    others = [k for k, labels in enumerate(perovskite) if labels is None]
    wyckoff = dict(zip(others, wyckoff_sites([structures[k] for k in others], symprec, progress)))
    labels = []
    for k, graph in enumerate(graphs):
        found = perovskite[k] if perovskite[k] is not None else wyckoff[k]
        labels += found if found is not None else [None] * graph.n_atoms
    return np.array(labels, dtype=object)


def site_energy_table(
    symbols: Sequence[str], site_classes: Sequence[str | None], values: np.ndarray
) -> dict[str, dict[str, dict[str, float]]]:
    """Mean, spread and count of ``values`` per site class and element.

    Parameters
    ----------
    symbols : sequence of str, length N
    site_classes : sequence of str or None, length N
        Atoms labelled ``None`` are left out.
    values : ndarray, shape (N,)
        Site values ``E_i``.

    Returns
    -------
    dict
        ``{site_class: {element: {"mean": m, "std": s, "count": n}}}``.
    """
    symbols = np.asarray(symbols, dtype=object)
    classes = np.asarray(site_classes, dtype=object)
    values = np.asarray(values, dtype=np.float64)
    table: dict[str, dict[str, dict[str, float]]] = {}
    for label in sorted({c for c in classes if c is not None}):
        in_class = classes == label
        table[label] = {}
        for symbol in sorted(set(symbols[in_class])):
            v = values[in_class & (symbols == symbol)]
            table[label][symbol] = {"mean": float(v.mean()), "std": float(v.std()), "count": len(v)}
    return table


def environment_energies(
    centres: Sequence[str], neighbors: Sequence[Sequence[str]], values: np.ndarray
) -> dict[tuple[str, str], dict[str, float]]:
    """Mean ``E_i`` per (centre element, neighbour element) pair (Fig. 3-10, 3-11).

    Parameters
    ----------
    centres : sequence of str, length n
        Element of each centre atom.
    neighbors : sequence of sequences of str, length n
        Its coordination shell (e.g. CrystalNN neighbours).
    values : ndarray, shape (n,)

    Returns
    -------
    dict
        ``{(centre, neighbour): {"mean": weighted mean of E_i, "weight": sum
        of shares, "pure": number of centres whose shell is all that
        neighbour}}``.
    """
    sums: dict[tuple[str, str], list[float]] = {}
    for centre, shell, value in zip(centres, neighbors, np.asarray(values, dtype=np.float64)):
        if not len(shell):
            continue
        kinds, counts = np.unique(np.asarray(shell), return_counts=True)
        for kind, count in zip(kinds, counts):
            share = count / len(shell)
            entry = sums.setdefault((str(centre), str(kind)), [0.0, 0.0, 0])
            entry[0] += share * value
            entry[1] += share
            entry[2] += int(count == len(shell))
    return {
        key: {"mean": total / weight, "weight": weight, "pure": pure}
        for key, (total, weight, pure) in sums.items()
    }
