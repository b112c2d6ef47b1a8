"""Stability of Li electrodeposition at an isotropic solid-electrolyte interface (thesis Eq. 2.10).

A sinusoidal roughness ``f(x) = f_k cos(kx)`` of the Li-metal / solid-electrolyte
interface changes the electrochemical potential of the electron by
``Δμ_e- = χ(k) f_k cos(kx)`` (Eq. 2.8). For an isotropic Li anode (shear
modulus ``G_e``, Poisson ratio ``ν_e``) against an isotropic electrolyte
(``G_s``, ``ν_s``) the stability parameter is the closed form of Eq. 2.10,
the sum of three terms::

    χ(k) = - γ k² V_M (1+v) / (2z)                                   surface tension
           + 2 G_e G_s k V_M (1+v) N / (z D)                          deviatoric stress
           + k V_M (1-v) (G_e² (4ν_s-3) + G_s² (3-4ν_e)) / (2 z D)    hydrostatic stress

    N = ν_e (4ν_s - 3) - 3ν_s + 2
    D = G_e (ν_e - 1)(4ν_s - 3) + G_s (4ν_e - 3)(ν_s - 1)

with ``V_M`` the molar volume of Li metal, ``v = V_Li+/V_M`` the molar
volume ratio (ch. 2.5.2), ``γ`` the Li surface tension and ``z = 1``.
``χ > 0``: the peaks grow (dendrites); ``χ < 0``: deposition is stable.

Because ``χ(k) = B k - A k²`` with ``A = γ V_M (1+v) / (2z) > 0``, χ changes
sign once, at ``k_crit = B / A`` when the stress coefficient ``B > 0``, and
stays negative for every larger k; with ``B <= 0`` the stresses alone
stabilise every wavelength and there is no critical wavelength.

Units: k in 1/m, moduli in GPa, χ in kJ/(mol·nm) (as the thesis' Table 2.4;
1 kJ/(mol·nm) = 1e12 J/(mol·m)), wavelengths in nm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from asegraph.exceptions import ParameterError

#: J/(mol·m) per kJ/(mol·nm)
_CHI_UNIT = 1e12

#: Low and high roughness wavenumbers of the thesis' Table 2.4, 1/m: 1e8 m⁻¹
#: (Monroe & Newman's reference) and a 1 nm wavelength.
K_LOW = 1e8
K_HIGH = 2 * np.pi / 1e-9


@dataclass(frozen=True)
class LithiumAnode:
    """Constants of the (isotropic) Li-metal anode, with their sources.

    Attributes
    ----------
    shear_modulus_GPa : float, GPa
        ``G_Li`` = 3.4 GPa, the value used in the thesis (ch. 2.5.4, Fig. 2-4).
    poisson_ratio : float
        ``ν_Li`` = 0.42, polycrystalline Li as used by Monroe & Newman,
        J. Electrochem. Soc. 152, A396 (2005) and Ahmad & Viswanathan,
        Phys. Rev. Lett. 119, 056003 (2017).
    molar_volume_m3_per_mol : float, m³/mol
        ``V_M`` = 1.30e-5 m³/mol: M = 6.941 g/mol over ρ = 0.534 g/cm³ (CRC
        Handbook), the value of Monroe & Newman (2005).
    surface_tension_J_per_m2 : float, J/m²
        ``γ`` = 0.556 J/m², Li surface energy used by Monroe & Newman (2005).
    valence : int
        ``z`` = 1 (Li⁺).
    """

    shear_modulus_GPa: float = 3.4
    poisson_ratio: float = 0.42
    molar_volume_m3_per_mol: float = 1.30e-5
    surface_tension_J_per_m2: float = 0.556
    valence: int = 1

    def __post_init__(self) -> None:
        checks = {
            "shear_modulus_GPa": self.shear_modulus_GPa > 0,
            "poisson_ratio": -1 < self.poisson_ratio < 0.5,
            "molar_volume_m3_per_mol": self.molar_volume_m3_per_mol > 0,
            "surface_tension_J_per_m2": self.surface_tension_J_per_m2 >= 0,
            "valence": self.valence >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ParameterError(
                    f"LithiumAnode.{name} = {getattr(self, name)!r} is unphysical; expected a "
                    "positive modulus/volume/valence, γ >= 0 and -1 < ν < 0.5"
                )

    def attributes(self) -> dict[str, float]:
        """The constants under the attribute names of ``screen.nc``."""
        return {
            "G_Li_GPa": self.shear_modulus_GPa,
            "nu_Li": self.poisson_ratio,
            "V_M_m3_per_mol": self.molar_volume_m3_per_mol,
            "gamma_J_per_m2": self.surface_tension_J_per_m2,
            "z": self.valence,
        }

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


LITHIUM = LithiumAnode()


class StabilityTerms(NamedTuple):
    """Eq. 2.10 split into its terms, each in kJ/(mol·nm), broadcast shape of the inputs."""

    surface: np.ndarray
    deviatoric: np.ndarray
    hydrostatic: np.ndarray
    total: np.ndarray

    def surface_share(self) -> np.ndarray:
        """``|surface| / (|surface| + |deviatoric| + |hydrostatic|)`` (red line of Fig. 2-4)."""
        magnitude = np.abs(self.surface) + np.abs(self.deviatoric) + np.abs(self.hydrostatic)
        return np.abs(self.surface) / magnitude


def poisson_ratio(bulk_modulus_GPa, shear_modulus_GPa) -> np.ndarray:
    """Isotropic Poisson ratio ``ν = (3K - 2G) / (2 (3K + G))`` from K and G.

    Parameters
    ----------
    bulk_modulus_GPa, shear_modulus_GPa : array_like, GPa
        Broadcastable; positive.

    Returns
    -------
    numpy.ndarray
        ν, in (-1, 0.5) for positive moduli.
    """
    k = np.asarray(bulk_modulus_GPa, dtype=float)
    g = np.asarray(shear_modulus_GPa, dtype=float)
    return (3 * k - 2 * g) / (2 * (3 * k + g))


def _coefficients(shear_modulus_GPa, poisson_ratio_s, volume_ratio, anode: LithiumAnode):
    """``A`` (J m/mol) and the stress coefficients (J/mol per m²) with χ = B k - A k²."""
    g_s = np.asarray(shear_modulus_GPa, dtype=float) * 1e9  # Pa
    nu_s = np.asarray(poisson_ratio_s, dtype=float)
    v = np.asarray(volume_ratio, dtype=float)
    g_e, nu_e = anode.shear_modulus_GPa * 1e9, anode.poisson_ratio
    vm, z = anode.molar_volume_m3_per_mol, anode.valence
    surface = anode.surface_tension_J_per_m2 * vm * (1 + v) / (2 * z)
    numerator = nu_e * (4 * nu_s - 3) - 3 * nu_s + 2
    denominator = g_e * (nu_e - 1) * (4 * nu_s - 3) + g_s * (4 * nu_e - 3) * (nu_s - 1)
    deviatoric = 2 * g_e * g_s * vm * (1 + v) * numerator / (z * denominator)
    hydrostatic = (
        vm * (1 - v) * (g_e**2 * (4 * nu_s - 3) + g_s**2 * (3 - 4 * nu_e)) / (2 * z * denominator)
    )
    return surface, deviatoric, hydrostatic


def stability_parameter(
    k,
    shear_modulus_GPa,
    poisson_ratio,
    volume_ratio,
    anode: LithiumAnode = LITHIUM,
) -> StabilityTerms:
    """Stability parameter χ(k) of Eq. 2.10 and its three terms.

    All array arguments broadcast against each other (numpy rules), so one
    call covers a k grid, many materials and every ensemble member, e.g.
    ``k[:, None, None]`` with moduli of shape ``[members, materials]``.

    Parameters
    ----------
    k : array_like, 1/m
        Roughness wavenumber, positive.
    shear_modulus_GPa : array_like, GPa
        Shear modulus ``G_s`` of the electrolyte.
    poisson_ratio : array_like
        Poisson ratio ``ν_s`` of the electrolyte, in (-1, 0.5).
    volume_ratio : array_like
        ``v = V_Li+ / V_M``.
    anode : LithiumAnode, optional
        Li constants (default :data:`LITHIUM`).

    Returns
    -------
    StabilityTerms
        ``surface``, ``deviatoric``, ``hydrostatic`` and ``total`` (their
        sum) in kJ/(mol·nm), of the broadcast shape.

    Raises
    ------
    ParameterError
        Non-positive k or shear modulus, or ν outside (-1, 0.5).
    """
    k = np.asarray(k, dtype=float)
    _check(k, shear_modulus_GPa, poisson_ratio)
    a, b_dev, b_hyd = _coefficients(shear_modulus_GPa, poisson_ratio, volume_ratio, anode)
    surface = -a * k**2 / _CHI_UNIT
    deviatoric = b_dev * k / _CHI_UNIT
    hydrostatic = b_hyd * k / _CHI_UNIT
    surface, deviatoric, hydrostatic = np.broadcast_arrays(surface, deviatoric, hydrostatic)
    return StabilityTerms(
        surface.copy(), deviatoric.copy(), hydrostatic.copy(), surface + deviatoric + hydrostatic
    )


def critical_wavenumber(
    shear_modulus_GPa, poisson_ratio, volume_ratio, anode: LithiumAnode = LITHIUM
) -> np.ndarray:
    """Wavenumber ``k_crit`` above which χ < 0 (1/m), closed form of Eq. 2.10.

    χ(k) = B k - A k² is a quadratic through the origin, so with a
    destabilising stress coefficient ``B > 0`` it changes sign exactly once,
    at ``k_crit = B / A``, and stays negative beyond. A material whose
    stresses alone stabilise the interface (``B <= 0``) is stable at every
    wavelength: it gets ``k_crit = 0`` (and, in :func:`critical_wavelength_nm`,
    ``λ_crit = inf``: no roughening wavelength needs to be avoided).

    Parameters
    ----------
    shear_modulus_GPa, poisson_ratio, volume_ratio : array_like
        As :func:`stability_parameter`; broadcast.
    anode : LithiumAnode, optional

    Returns
    -------
    numpy.ndarray, 1/m
    """
    _check(np.ones(1), shear_modulus_GPa, poisson_ratio)
    a, b_dev, b_hyd = _coefficients(shear_modulus_GPa, poisson_ratio, volume_ratio, anode)
    b = b_dev + b_hyd
    if anode.surface_tension_J_per_m2 == 0:  # no surface tension: never stabilised by it
        return np.where(b > 0, np.inf, 0.0)
    return np.where(b > 0, b / a, 0.0)


def critical_wavelength_nm(
    shear_modulus_GPa, poisson_ratio, volume_ratio, anode: LithiumAnode = LITHIUM
) -> np.ndarray:
    """``λ_crit = 2π / k_crit`` in nm; ``inf`` for materials stabilised by stress alone.

    Roughness of wavelength shorter than λ_crit decays, so a larger λ_crit
    needs less nanostructuring (the ranking of Table 2.4).
    """
    k_crit = critical_wavenumber(shear_modulus_GPa, poisson_ratio, volume_ratio, anode)
    with np.errstate(divide="ignore"):
        return np.where(k_crit > 0, 2 * np.pi / k_crit * 1e9, np.inf)


def critical_shear_ratio(volume_ratio, poisson_ratio, anode: LithiumAnode = LITHIUM) -> np.ndarray:
    """``G_s / G_Li`` where the stress terms of Eq. 2.10 change sign (Fig. 2-7's lines).

    With ``g = G_s / G_Li`` the sign of the stress coefficient is that of the
    quadratic ``Q(g) = (1-v)(3-4ν_Li) g² + 4(1+v) N g + (1-v)(4ν_s-3)`` (the
    common denominator is positive for -1 < ν < 0.5). For ``v < 1`` stresses
    stabilise electrolytes *softer* than the root, for ``v > 1`` *stiffer*
    ones. At ``v = 1`` the hydrostatic term vanishes and Q = 8 N g, so no
    shear modulus stabilises the interface by stress alone (for N > 0): the
    two branches meet at 0 (v -> 1⁻) and infinity (v -> 1⁺); NaN is returned.

    Parameters
    ----------
    volume_ratio : array_like
        v.
    poisson_ratio : array_like
        ν_s of the electrolyte.
    anode : LithiumAnode, optional

    Returns
    -------
    numpy.ndarray
        The positive root of Q; NaN at v = 1.
    """
    v = np.asarray(volume_ratio, dtype=float)
    nu_s = np.asarray(poisson_ratio, dtype=float)
    nu_e = anode.poisson_ratio
    n = nu_e * (4 * nu_s - 3) - 3 * nu_s + 2
    a = (1 - v) * (3 - 4 * nu_e)
    b = 4 * (1 + v) * n
    c = (1 - v) * (4 * nu_s - 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = (-b + np.sign(a) * np.sqrt(b**2 - 4 * a * c)) / (2 * a)
    return np.where(v == 1, np.nan, root)


def _check(k, shear_modulus_GPa, poisson_ratio_s) -> None:
    k = np.asarray(k, dtype=float)
    g = np.asarray(shear_modulus_GPa, dtype=float)
    nu = np.asarray(poisson_ratio_s, dtype=float)
    if np.any(~(k > 0)):
        raise ParameterError(f"k must be positive wavenumbers in 1/m, got min {np.min(k)!r}")
    if np.any(~(g > 0)):
        raise ParameterError(
            f"shear_modulus_GPa must be positive (GPa), got min {np.nanmin(g)!r}; check the moduli"
        )
    outside = ~((nu > -1) & (nu < 0.5))
    if np.any(outside):
        raise ParameterError(
            f"poisson_ratio must lie in (-1, 0.5), got {nu[outside].ravel()[0]!r}; "
            "compute it from positive K and G with poisson_ratio(K, G)"
        )
