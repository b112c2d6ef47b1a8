"""Molar volume ratio ``v = V_Li+ / V_Li`` of Li in a crystal (thesis ch. 2.5.2).

The partial molar volume of Li⁺ in the electrolyte is estimated as the
volume of a sphere of Shannon's ionic radius, ``V_Li+ = N_A 4/3 π r³``, with
the radius for the Li coordination number found by Voronoi analysis
(pymatgen), linearly interpolated between Shannon's tabulated coordinations
(IV, VI, VIII for Li⁺, taken from pymatgen's :class:`~pymatgen.core.Species`
data) and extrapolated linearly beyond them. ``v`` is averaged over the Li
sites of the structure.

Coordination number: O'Keeffe's effective coordination (Acta Cryst. A35,
772 (1979)) as pymatgen's :class:`~pymatgen.analysis.local_env.VoronoiNN`
computes it — every Voronoi face weighted by its solid angle relative to
the largest face — counting faces towards the counter-ions (the non-Li
atoms), so that a Li⁺ ion's cation neighbours do not count. It is an
integer for regular polyhedra (4 in antifluorite Li2O, 6 in rock-salt LiF)
and fractional for distorted sites, hence the interpolation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from asegraph.exceptions import StructureError

AVOGADRO = 6.02214076e23  # 1/mol

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9}


def shannon_table() -> tuple[np.ndarray, np.ndarray]:
    """Shannon's ionic radii of Li⁺ by coordination, from pymatgen.

    Returns
    -------
    coordination : numpy.ndarray [n_tabulated], int
    radius : numpy.ndarray [n_tabulated], Å
    """
    from pymatgen.core import Element, Species

    li = Species("Li", 1)
    numerals = sorted(Element("Li").data["Shannon radii"]["1"], key=_ROMAN.__getitem__)
    cn = np.array([_ROMAN[n] for n in numerals])
    radius = np.array([li.get_shannon_radius(n, radius_type="ionic") for n in numerals])
    return cn, radius


def shannon_radius(coordination) -> np.ndarray:
    """Li⁺ ionic radius (Å) at a (possibly fractional) coordination number.

    Linear interpolation between Shannon's tabulated coordinations; linear
    extrapolation from the first/last pair of tabulated values outside them
    (the thesis' treatment; very high coordinations then give v > 1, which
    the screening flags).
    """
    cn_table, r_table = shannon_table()
    cn = np.asarray(coordination, dtype=float)
    radius = np.interp(cn, cn_table, r_table)
    low_slope = (r_table[1] - r_table[0]) / (cn_table[1] - cn_table[0])
    high_slope = (r_table[-1] - r_table[-2]) / (cn_table[-1] - cn_table[-2])
    radius = np.where(cn < cn_table[0], r_table[0] + low_slope * (cn - cn_table[0]), radius)
    return np.where(cn > cn_table[-1], r_table[-1] + high_slope * (cn - cn_table[-1]), radius)


def li_coordination(
    structure: Any,
    cutoff: float = 8.0,
    max_bond_length: float = 5.0,
    label: str | None = None,
) -> np.ndarray:
    """Effective coordination number of every Li site towards its counter-ions.

    Parameters
    ----------
    structure : ase.Atoms or pymatgen Structure
    cutoff : float, Å
        Radius of the atoms that enter the Voronoi tessellation. A Li cell is
        fixed by atoms within twice its circumradius, so 8 Å is ample for
        crystals and ~5x faster than pymatgen's 13 Å (pymatgen enlarges it
        itself when the cell does not close).
    max_bond_length : float, Å
        Faces towards counter-ions farther than this do not count, so a Li
        atom far from everything is reported as isolated rather than
        "coordinated" through vacuum.
    label : str, optional
        Name used in error messages.

    Returns
    -------
    numpy.ndarray [n_li_sites]
        O'Keeffe coordination numbers (see the module docstring).

    Raises
    ------
    StructureError
        No Li in the structure, no counter-ion, or a Li site without any
        counter-ion face within ``cutoff`` (an isolated Li atom).
    """
    from pymatgen.analysis.local_env import VoronoiNN

    struct = _pymatgen(structure)
    label = label or struct.composition.reduced_formula
    li_sites = [i for i, site in enumerate(struct) if site.specie.symbol == "Li"]
    if not li_sites:
        raise StructureError(f"structure {label!r} contains no Li; nothing to screen")
    others = sorted({site.specie.symbol for site in struct} - {"Li"})
    if not others:
        raise StructureError(
            f"structure {label!r} contains only Li (no counter-ions), so Li has no Li⁺ "
            "coordination; screen Li compounds, not Li metal"
        )
    from pymatgen.core import Element

    targets = [Element(symbol) for symbol in others]
    voronoi = VoronoiNN(targets=targets, cutoff=cutoff, compute_adj_neighbors=False)
    cns = []
    for i in li_sites:
        try:
            faces = voronoi.get_nn_info(struct, i)
        except (ValueError, RuntimeError) as exc:  # pymatgen: no Voronoi neighbours found
            raise _isolated(label, i, max_bond_length) from exc
        # face_dist is half the Li-neighbour distance
        cn = sum(f["weight"] for f in faces if 2 * f["poly_info"]["face_dist"] <= max_bond_length)
        if cn <= 0:
            raise _isolated(label, i, max_bond_length)
        cns.append(cn)
    return np.asarray(cns, dtype=float)


def molar_volume_ratio(
    structure: Any,
    li_molar_volume_m3_per_mol: float = 1.30e-5,
    cutoff: float = 8.0,
    max_bond_length: float = 5.0,
    label: str | None = None,
) -> tuple[float, float]:
    """``v = V_Li+ / V_Li`` of a structure, averaged over its Li sites.

    Parameters
    ----------
    structure : ase.Atoms or pymatgen Structure
    li_molar_volume_m3_per_mol : float, m³/mol
        Molar volume of Li metal (``LithiumAnode.molar_volume_m3_per_mol``).
    cutoff, max_bond_length : float, Å
        As :func:`li_coordination`.
    label : str, optional
        Name used in error messages.

    Returns
    -------
    coordination : float
        Mean effective Li coordination number over the Li sites.
    volume_ratio : float
        Mean over the Li sites of ``N_A 4/3 π r(CN)³ / V_Li``.
    """
    cn = li_coordination(structure, cutoff, max_bond_length, label)
    radius_m = shannon_radius(cn) * 1e-10
    v = AVOGADRO * 4.0 / 3.0 * np.pi * radius_m**3 / li_molar_volume_m3_per_mol
    return float(cn.mean()), float(v.mean())


def _isolated(label: str, index: int, max_bond_length: float) -> StructureError:
    return StructureError(
        f"structure {label!r}: Li site {index} shares no Voronoi face with a counter-ion within "
        f"{max_bond_length:g} Å (isolated Li), so it has no Li⁺ coordination; check the "
        "structure or raise max_bond_length"
    )


def _pymatgen(structure: Any):
    from pymatgen.core import Structure

    if isinstance(structure, Structure):
        return structure
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(structure)
