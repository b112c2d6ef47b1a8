"""Eq. 2.10 against hand calculations (thesis ch. 2.5.2, Fig. 2-4, Fig. 2-7)."""

from __future__ import annotations

import numpy as np
import pytest

from asegraph.analysis.screening.physics import (
    K_HIGH,
    K_LOW,
    LITHIUM,
    LithiumAnode,
    critical_shear_ratio,
    critical_wavelength_nm,
    critical_wavenumber,
    poisson_ratio,
    stability_parameter,
)
from asegraph.exceptions import ParameterError


def test_fig_2_4_material_is_unstable_at_low_k_by_hand():
    """G/G_Li = 1, ν = 0.33, v = 0.1 (Fig. 2-4) at k = 1e8 1/m, Li: ν = 0.42, V = 1.3e-5, γ = 0.556.

    N = 0.42 (4·0.33 − 3) − 3·0.33 + 2 = 0.3044
    D / G = (0.42 − 1)(4·0.33 − 3) + (4·0.42 − 3)(0.33 − 1) = 0.9744 + 0.8844 = 1.8588
    G k V = 3.4e9 · 1e8 · 1.3e-5 = 4.42e12 J/(mol m) = 4.42 kJ/(mol nm)
    deviatoric = 2 · 1.1 · 0.3044 / 1.8588 · 4.42 = 1.59245
    hydrostatic = 0.9 · (−1.68 + 1.32) / (2 · 1.8588) · 4.42 = −0.385218
    surface = −0.556 · 1e16 · 1.3e-5 · 1.1 / 2 / 1e12 = −0.0397540
    χ = 1.16748 > 0: unstable, as the caption of Fig. 2-4 says.
    """
    terms = stability_parameter(K_LOW, 3.4, 0.33, 0.1)
    assert terms.deviatoric == pytest.approx(1.59245, rel=1e-4)
    assert terms.hydrostatic == pytest.approx(-0.385218, rel=1e-4)
    assert terms.surface == pytest.approx(-0.0397540, rel=1e-4)
    assert terms.total == pytest.approx(1.16748, rel=1e-4)
    assert terms.total > 0
    # closed-form k_crit = B / A = (1.59245 − 0.385218) 1e12 / 1e8 / (0.0397540 1e12 / 1e16)
    k_crit = (1.59245 - 0.385218) * 1e4 / 3.97540e-6
    assert critical_wavenumber(3.4, 0.33, 0.1) == pytest.approx(k_crit, rel=1e-4)
    assert critical_wavelength_nm(3.4, 0.33, 0.1) == pytest.approx(
        2 * np.pi / k_crit * 1e9, rel=1e-4
    )


def test_terms_sum_to_chi_and_broadcast_over_k_materials_members(rng):
    k = np.logspace(7, 10, 31)[:, None, None]
    g = rng.uniform(1, 60, size=(5, 7))  # [members, materials]
    nu = rng.uniform(0.1, 0.45, size=(5, 7))
    v = rng.uniform(0.02, 0.6, size=7)
    terms = stability_parameter(k, g, nu, v)
    assert terms.total.shape == (31, 5, 7)
    np.testing.assert_allclose(
        terms.surface + terms.deviatoric + terms.hydrostatic, terms.total, rtol=1e-12
    )
    one = stability_parameter(k[:, 0, 0], g[2, 3], nu[2, 3], v[3])
    np.testing.assert_allclose(one.total, terms.total[:, 2, 3], rtol=1e-12)


def test_surface_share_grows_with_k():
    terms = stability_parameter(np.logspace(6, 13, 200), 30.0, 0.3, 0.1)
    share = terms.surface_share()
    assert np.all(np.diff(share) > 0)
    assert share[0] < 0.01 and share[-1] > 0.9


def test_once_negative_chi_stays_negative_and_k_crit_is_the_sign_change(rng):
    k = np.logspace(6, 13, 700)  # up to 1e13: stiff materials turn stable only at k ~ 1e11
    for _ in range(20):
        g, nu, v = rng.uniform(0.5, 100), rng.uniform(0.0, 0.49), rng.uniform(0.01, 0.9)
        chi = stability_parameter(k, g, nu, v).total
        negative = np.flatnonzero(chi < 0)
        assert negative.size and np.all(chi[negative[0] :] < 0)
        k_crit = critical_wavenumber(g, nu, v)
        if k_crit > 0:
            assert k[negative[0] - 1] <= k_crit <= k[negative[0]]
            assert stability_parameter(k_crit, g, nu, v).total == pytest.approx(0, abs=1e-9)


def test_stress_stabilised_material_has_no_critical_wavelength():
    # soft electrolyte, small v: below the critical line of Fig. 2-7, χ < 0 at every k
    assert critical_shear_ratio(0.1, 0.33) > 0.5
    chi = stability_parameter(np.logspace(3, 11, 50), 0.1 * LITHIUM.shear_modulus_GPa, 0.33, 0.1)
    assert np.all(chi.total < 0)
    assert critical_wavenumber(0.34, 0.33, 0.1) == 0.0
    assert np.isinf(critical_wavelength_nm(0.34, 0.33, 0.1))


def test_critical_shear_ratio_by_hand():
    """Sign of the stress coefficient: Q(g) = (1−v)(3−4ν_Li) g² + 4(1+v) N g + (1−v)(4ν−3).

    v = 0.1, ν = 0.33: a = 0.9·1.32 = 1.188, b = 4·1.1·0.3044 = 1.33936,
    c = 0.9·(−1.68) = −1.512, g = (−b + √(b² − 4ac)) / 2a = 0.697442.
    v = 1: Q = 8 N g > 0 for every g: no shear modulus stabilises by stress
    alone; the critical line drops to 0 as v → 1⁻ (g ≈ −c/b = 0.00168 / 2.43398
    at v = 0.999) and rises to infinity as v → 1⁺.
    """
    assert critical_shear_ratio(0.1, 0.33) == pytest.approx(0.697442, rel=1e-5)
    assert critical_shear_ratio(0.999, 0.33) == pytest.approx(6.902e-4, rel=1e-3)
    assert np.isnan(critical_shear_ratio(1.0, 0.33))
    assert critical_shear_ratio(1.001, 0.33) > 1e3
    # at v = 1 the stress terms destabilise every electrolyte
    for ratio in (1e-3, 1.0, 1e3):
        terms = stability_parameter(K_LOW, ratio * 3.4, 0.33, 1.0)
        assert terms.hydrostatic == pytest.approx(0, abs=1e-15)
        assert terms.deviatoric > 0
    # against the numbers: stress coefficient changes sign at the closed-form root
    for v in (0.05, 0.3, 0.8, 1.5):
        root = critical_shear_ratio(v, 0.33)
        below = stability_parameter(1.0, 0.999 * root * 3.4, 0.33, v)
        above = stability_parameter(1.0, 1.001 * root * 3.4, 0.33, v)
        stress = lambda t: t.deviatoric + t.hydrostatic  # noqa: E731
        assert stress(below) * stress(above) < 0
        assert (stress(below) < 0) == (v < 1)  # v < 1: softer is stable; v > 1: stiffer


def test_thesis_table_2_4_magnitudes():
    """Table 2.4: χ_low of a few kJ/(mol nm), χ_high of ±100, λ_crit of ~1 nm for G ~ 10 GPa."""
    g, k = 10.0, 20.0
    nu = poisson_ratio(k, g)
    assert nu == pytest.approx((60 - 20) / (2 * 70))
    low = stability_parameter(K_LOW, g, nu, 0.1).total
    high = stability_parameter(K_HIGH, g, nu, 0.1).total
    assert 1 < low < 10 and 50 < high < 500 and 0.3 < critical_wavelength_nm(g, nu, 0.1) < 3


def test_bad_parameters_are_named():
    with pytest.raises(ParameterError, match="shear_modulus_GPa must be positive"):
        stability_parameter(K_LOW, -1.0, 0.3, 0.1)
    with pytest.raises(ParameterError, match=r"poisson_ratio must lie in \(-1, 0.5\)"):
        stability_parameter(K_LOW, 3.0, 0.7, 0.1)
    with pytest.raises(ParameterError, match="k must be positive"):
        stability_parameter(0.0, 3.0, 0.3, 0.1)
    with pytest.raises(ParameterError, match="LithiumAnode.poisson_ratio"):
        LithiumAnode(poisson_ratio=0.6)
