"""Screening solid electrolytes for dendrite suppression at a Li-metal anode (thesis ch. 2.5).

* :mod:`.physics` — the stability parameter χ(k) of Eq. 2.10, its critical
  wavenumber and the isotropic stability diagram;
* :mod:`.molar_volume` — the Li⁺ molar volume ratio from Voronoi coordination
  and Shannon radii (ch. 2.5.2);
* :mod:`.statistics` — per-member χ, λ_crit and the probability of stability
  (Eq. 2.11);
* :mod:`.screen` — the whole screening of many structures (``asegraph screen``);
* :mod:`.figures` — Figs. 2-4, 2-6 and 2-7.
"""

from asegraph.analysis.screening.inputs import read_inputs
from asegraph.analysis.screening.molar_volume import (
    li_coordination,
    molar_volume_ratio,
    shannon_radius,
)
from asegraph.analysis.screening.output import screen_files, write_screen
from asegraph.analysis.screening.physics import (
    K_HIGH,
    K_LOW,
    LITHIUM,
    LithiumAnode,
    StabilityTerms,
    critical_shear_ratio,
    critical_wavelength_nm,
    critical_wavenumber,
    poisson_ratio,
    stability_parameter,
)
from asegraph.analysis.screening.screen import screen
from asegraph.analysis.screening.statistics import ensemble_stability

__all__ = [
    "K_HIGH",
    "K_LOW",
    "LITHIUM",
    "LithiumAnode",
    "StabilityTerms",
    "critical_shear_ratio",
    "critical_wavelength_nm",
    "critical_wavenumber",
    "ensemble_stability",
    "li_coordination",
    "molar_volume_ratio",
    "poisson_ratio",
    "read_inputs",
    "screen",
    "screen_files",
    "shannon_radius",
    "stability_parameter",
    "write_screen",
]
