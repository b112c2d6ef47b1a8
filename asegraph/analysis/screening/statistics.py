"""Ensembles of moduli -> ensembles of stability parameters (thesis ch. 2.5.3, Eq. 2.11).

Every ensemble member's moduli go through Eq. 2.10 on their own; means,
spreads and the probability of stability ``P_s`` are taken afterwards over
the members, as the thesis does with its 100 CGCNNs.
"""

from __future__ import annotations

import numpy as np

from asegraph.analysis.screening.physics import (
    K_HIGH,
    K_LOW,
    LITHIUM,
    LithiumAnode,
    critical_wavelength_nm,
    poisson_ratio,
    stability_parameter,
)
from asegraph.exceptions import ParameterError


def combine_members(shear_GPa: np.ndarray, bulk_GPa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair shear and bulk members into joint samples ``[samples, materials]``.

    Equal numbers of members are paired one to one (as the thesis' members,
    each predicting both moduli); a single model (or given moduli) is used
    with every member of the other; different ensemble sizes are combined in
    every pair (the two ensembles are independent samples).

    Parameters
    ----------
    shear_GPa : numpy.ndarray [members_G, materials], GPa
    bulk_GPa : numpy.ndarray [members_K, materials], GPa

    Returns
    -------
    shear, bulk : numpy.ndarray [samples, materials]
    """
    shear_GPa, bulk_GPa = np.atleast_2d(shear_GPa), np.atleast_2d(bulk_GPa)
    if shear_GPa.shape[1] != bulk_GPa.shape[1]:
        raise ParameterError(
            f"shear and bulk moduli cover {shear_GPa.shape[1]} and {bulk_GPa.shape[1]} "
            "materials; give both for the same materials"
        )
    m_g, m_k = shear_GPa.shape[0], bulk_GPa.shape[0]
    if m_g == m_k or 1 in (m_g, m_k):
        shear, bulk = np.broadcast_arrays(shear_GPa, bulk_GPa)
        return shear.copy(), bulk.copy()
    return np.repeat(shear_GPa, m_k, axis=0), np.tile(bulk_GPa, (m_g, 1))


def ensemble_stability(
    shear_GPa: np.ndarray,
    bulk_GPa: np.ndarray,
    volume_ratio: np.ndarray,
    anode: LithiumAnode = LITHIUM,
    k_low: float = K_LOW,
    k_high: float = K_HIGH,
) -> dict[str, np.ndarray]:
    """Per-member stability at two wavenumbers, λ_crit, and their ensemble statistics.

    Parameters
    ----------
    shear_GPa : numpy.ndarray [members_G, materials], GPa
        Shear moduli, one row per ensemble member (one row for a single
        model or given moduli). NaN where a material has no prediction.
    bulk_GPa : numpy.ndarray [members_K, materials], GPa
        Bulk moduli, likewise.
    volume_ratio : numpy.ndarray [materials]
        ``v = V_Li+ / V_Li`` (NaN where unknown).
    anode : LithiumAnode, optional
    k_low, k_high : float, 1/m
        Wavenumbers of the two χ columns (thesis: 1e8 m⁻¹ and 2π/1 nm).

    Returns
    -------
    dict of numpy.ndarray
        ``*_members`` [samples, materials]: ``shear_modulus``,
        ``bulk_modulus``, ``poisson_ratio``, ``chi_low``, ``chi_high``
        (kJ/(mol·nm)), ``lambda_crit`` (nm, ``inf`` for a member that finds
        the material stabilised by stress alone). Per material
        [materials]: ``shear_modulus``/``bulk_modulus`` and their ``_std``
        over the model's own members, ``poisson_ratio`` (mean), ``chi_low``,
        ``chi_high``, ``lambda_crit`` and their ``_std`` (population std over
        samples), ``p_stable_low``/``p_stable_high`` (Eq. 2.11: fraction of
        samples with χ < 0), and ``stress_stabilised`` (fraction of samples
        with no critical wavelength). ``lambda_crit`` is ``inf`` (and its std
        ``inf``) when any sample is stabilised by stress alone. NaN for
        materials without moduli or v.
    """
    shear_GPa = np.atleast_2d(np.asarray(shear_GPa, dtype=float))
    bulk_GPa = np.atleast_2d(np.asarray(bulk_GPa, dtype=float))
    v = np.asarray(volume_ratio, dtype=float)
    g, k = combine_members(shear_GPa, bulk_GPa)  # [S, n]
    ok = np.all(np.isfinite(g) & np.isfinite(k), axis=0) & np.isfinite(v)
    if np.any((g[:, ok] <= 0) | (k[:, ok] <= 0)):
        raise ParameterError("moduli must be positive (GPa); a model or file gave a value <= 0")
    n = g.shape[1]
    members = {
        "shear_modulus": g,
        "bulk_modulus": k,
        "poisson_ratio": np.full(g.shape, np.nan),
        "chi_low": np.full(g.shape, np.nan),
        "chi_high": np.full(g.shape, np.nan),
        "lambda_crit": np.full(g.shape, np.nan),
    }
    if ok.any():
        nu = poisson_ratio(k[:, ok], g[:, ok])
        members["poisson_ratio"][:, ok] = nu
        for name, wavenumber in (("chi_low", k_low), ("chi_high", k_high)):
            members[name][:, ok] = stability_parameter(wavenumber, g[:, ok], nu, v[ok], anode).total
        members["lambda_crit"][:, ok] = critical_wavelength_nm(g[:, ok], nu, v[ok], anode)
    result = {f"{name}_members": value for name, value in members.items()}
    for name, source in (("shear_modulus", shear_GPa), ("bulk_modulus", bulk_GPa)):
        result[name] = np.where(ok, source.mean(axis=0), np.nan)
        result[f"{name}_std"] = np.where(ok, source.std(axis=0), np.nan)
    result["poisson_ratio"] = members["poisson_ratio"].mean(axis=0)
    for name in ("chi_low", "chi_high"):
        result[name] = members[name].mean(axis=0)
        result[f"{name}_std"] = members[name].std(axis=0)
    lam = members["lambda_crit"]
    stress_only = np.isinf(lam)
    with np.errstate(invalid="ignore"):
        result["lambda_crit"] = np.where(stress_only.any(axis=0), np.inf, lam.mean(axis=0))
        result["lambda_crit_std"] = np.where(stress_only.any(axis=0), np.inf, lam.std(axis=0))
    result["stress_stabilised"] = np.where(ok, stress_only.mean(axis=0), np.nan)
    for name in ("low", "high"):
        chi = members[f"chi_{name}"]
        result[f"p_stable_{name}"] = np.where(ok, (chi < 0).mean(axis=0), np.nan)
    for key, value in result.items():
        if value.shape[-1] != n:
            raise AssertionError(key)  # internal consistency
    return result


def rank_order(lambda_crit: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """Indices by decreasing λ_crit (thesis Table 2.4); excluded and NaN last, in input order.

    ``inf`` (stabilised by stress alone, no roughening limit) ranks first.
    """
    lam = np.asarray(lambda_crit, dtype=float)
    rankable = ~np.asarray(excluded, dtype=bool) & ~np.isnan(lam)
    ranked = np.flatnonzero(rankable)
    ranked = ranked[np.argsort(-lam[ranked], kind="stable")]
    return np.concatenate([ranked, np.flatnonzero(~rankable)])
