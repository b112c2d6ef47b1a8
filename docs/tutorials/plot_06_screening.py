"""
Screening solid electrolytes against a Li-metal anode
=====================================================

Thesis ch. 2.5 ranks Li-containing crystals by how well they suppress Li
dendrites. A rough Li/electrolyte interface ``f(x) = f_k cos(kx)`` grows
(dendrites) when the stability parameter χ(k) of Eq. 2.10 is positive and
flattens when it is negative. χ depends only on the electrolyte's shear
modulus ``G``, its Poisson ratio ``ν`` (from ``G`` and the bulk modulus
``K``) and the Li⁺ molar volume ratio ``v`` (from the crystal structure).

This page screens five Li halides and Li₂O built with ASE. Their moduli are
*given* here (the ``--moduli`` route of ``asegraph screen``: DFT or
measured values you already have), so the page needs no trained model; the
command-line equivalent is::

    asegraph screen structures/ --moduli moduli.csv -o screen.csv

Without ``--moduli`` the command predicts ``G`` and ``K`` with the published
CGCNN models or with your own ensembles (``--shear ens/ --bulk ens/``).
"""

# %%
# The three terms of χ(k)
# -----------------------
# :func:`~asegraph.analysis.screening.physics.stability_parameter` returns
# Eq. 2.10 split into its surface-tension, deviatoric-stress and
# hydrostatic-stress terms (kJ/(mol·nm)). Stress terms grow like ``k``, the
# stabilising surface term like ``-k²``: every interface is stable beyond a
# critical wavenumber ``k_crit``, i.e. for roughness shorter than
# ``λ_crit = 2π/k_crit``. This is thesis Fig. 2-4: ``G = G_Li = 3.4 GPa``,
# ``ν = 0.33``, ``v = 0.1``.
import matplotlib.pyplot as plt
import numpy as np

from asegraph.analysis.screening import (
    LITHIUM,
    critical_wavelength_nm,
    stability_parameter,
)

print(LITHIUM)  # the anode's constants (G_Li, ν_Li, V_M, γ, z), sources in the docstring
k = np.logspace(7.5, 10, 200)  # 1/m
terms = stability_parameter(k, shear_modulus_GPa=3.4, poisson_ratio=0.33, volume_ratio=0.1)
lam = critical_wavelength_nm(3.4, 0.33, 0.1)
print(f"λ_crit = {float(lam):.2f} nm (k_crit = {2 * np.pi / float(lam) * 1e9:.3g} 1/m)")

fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
for name, style in [("hydrostatic", "C0"), ("deviatoric", "C2"), ("surface", "C1")]:
    ax.plot(k, getattr(terms, name), style, label=name)
ax.plot(k, terms.total, "k", lw=2, label="χ (total)")
ax.axhline(0, color="grey", lw=0.6)
ax.axvline(2 * np.pi / float(lam) * 1e9, color="k", ls=":", lw=1, label="k_crit")
ax.set_xscale("log")
ax.set_yscale("symlog", linthresh=1)  # the terms span four decades
ax.set_xlabel("k (1/m)")
ax.set_ylabel("χ (kJ/(mol·nm))")
ax.legend(fontsize=8)
plt.show()

# %%
# Structures and their molar volume ratio
# ---------------------------------------
# ``v = V_Li⁺ / V_Li`` is the volume of a Li⁺ ion (Shannon radius at its
# coordination number, found by Voronoi analysis) over the molar volume of Li
# metal (ch. 2.5.2). Any structure ASE or pymatgen reads works; here they are
# built from their lattice constants (Å).
from ase.build import bulk
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from asegraph.analysis.screening import molar_volume_ratio

li2o = Structure.from_spacegroup(
    "Fm-3m", Lattice.cubic(4.61), ["O", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]]
)
structures = {
    "LiF": bulk("LiF", "rocksalt", a=4.03),
    "LiCl": bulk("LiCl", "rocksalt", a=5.13),
    "LiBr": bulk("LiBr", "rocksalt", a=5.50),
    "LiI": bulk("LiI", "rocksalt", a=6.00),
    "Li2O": AseAtomsAdaptor.get_atoms(li2o.get_primitive_structure()),
    "Cu": bulk("Cu", "fcc", a=3.61),  # no Li: counted and left out
}
for name, atoms in structures.items():
    if "Li" in atoms.get_chemical_symbols():
        cn, v = molar_volume_ratio(atoms)
        print(f"{name:5s} Li coordination {cn:.1f}, v = {v:.3f}")

# %%
# Screening with given moduli
# ---------------------------
# The moduli below are Voigt-Reuss-Hill averages of measured single-crystal
# elastic constants, rounded (GPa) — *illustrative values*: use your own DFT
# or experimental data. :func:`~asegraph.analysis.screening.screen` takes
# ``(id, structure)`` pairs and returns an :class:`xarray.Dataset` ranked by
# λ_crit (thesis Table 2.4); ``write_screen`` writes the CSV table, the
# netCDF file and Figs. 2-4, 2-6 and 2-7.
import tempfile
from pathlib import Path

import pandas as pd

from asegraph.analysis.screening import screen, write_screen

work = Path(tempfile.mkdtemp())
moduli = pd.DataFrame(
    {
        "id": ["LiF", "LiCl", "LiBr", "LiI", "Li2O"],
        "shear_modulus_GPa": [48, 19, 15, 11, 70],
        "bulk_modulus_GPa": [70, 32, 26, 19, 82],
    }
)
moduli.to_csv(work / "moduli.csv", index=False)
ds = screen(list(structures.items()), moduli=work / "moduli.csv", progress=False)
print(f"{ds.attrs['n_screened']} screened, {ds.attrs['n_without_li']} without Li left out")
columns = ["formula", "shear_modulus", "poisson_ratio", "molar_volume_ratio"]
columns += ["chi_low", "chi_high", "lambda_crit"]
ds[columns].to_dataframe().round(3)

# %%
# ``chi_low`` is χ at ``k = 1e8 1/m``, ``chi_high`` at a 1 nm wavelength
# (kJ/(mol·nm)); ``lambda_crit`` in nm. As for every compound of the thesis,
# χ > 0 at low k: stresses alone stabilise none of these crystals, and
# deposition is stable only for roughness shorter than λ_crit. These simple
# salts need sub-nanometre smoothness (χ > 0 even at 1 nm); the softest, LiI,
# comes first — iodides are among the thesis' candidates (Table 2.4).
written = write_screen(ds, work / "screen.csv")
print("wrote", ", ".join(p.name for p in written))

# %%
# The stability diagram
# ---------------------
# Thesis Fig. 2-7: in the plane of ``G/G_Li`` and ``v``, the line
# :func:`~asegraph.analysis.screening.critical_shear_ratio` separates
# electrolytes whose stresses alone stabilise the interface (below the line,
# for ``v < 1``) from those that need surface tension. Like all 12,950
# compounds of the thesis, these lie far above it.
from asegraph.analysis.screening import critical_shear_ratio

v_grid = np.linspace(0.02, 0.98, 100)
fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
for nu, ls in [(0.2, "--"), (0.33, "-")]:
    ax.plot(v_grid, critical_shear_ratio(v_grid, nu), "k", ls=ls, label=f"critical, ν = {nu}")
ranked = ds["error"].values == ""
g_ratio = ds["shear_modulus"].values[ranked] / LITHIUM.shear_modulus_GPa
v_mat = ds["molar_volume_ratio"].values[ranked]
ax.scatter(v_mat, g_ratio, c="C3", zorder=3)
for x, y, name in zip(v_mat, g_ratio, ds["structure"].values[ranked]):
    ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=8)
ax.set_yscale("log")
ax.set_xlabel("molar volume ratio v")
ax.set_ylabel("G / G_Li")
ax.legend(fontsize=8)
plt.show()

# %%
# Uncertainty: an ensemble and P_s
# --------------------------------
# The thesis predicts the moduli with 100 CGCNNs and reports the probability
# of stability ``P_s`` (Eq. 2.11): the fraction of members with χ < 0.
# :func:`~asegraph.analysis.screening.ensemble_stability` takes one row of
# moduli per member. To show what it does without trained models, the members
# here are the given moduli scattered log-normally by the thesis' test RMSE
# (Table 2.3: 0.127 in log10 G, 0.101 in log10 K) — a stand-in for the
# ensemble's spread. With models, ``screen(..., shear=ensemble,
# bulk=ensemble)`` does this with each member's own predictions.
from asegraph.analysis.screening import ensemble_stability

rng = np.random.default_rng(0)
n_members = 100
g_members = moduli["shear_modulus_GPa"].to_numpy() * 10 ** rng.normal(0, 0.127, (n_members, 5))
k_members = moduli["bulk_modulus_GPa"].to_numpy() * 10 ** rng.normal(0, 0.101, (n_members, 5))
v_all = np.array([molar_volume_ratio(structures[i])[1] for i in moduli["id"]])
stats = ensemble_stability(g_members, k_members, v_all)
summary = pd.DataFrame(
    {
        "lambda_crit (nm)": stats["lambda_crit"],
        "± std": stats["lambda_crit_std"],
        "chi_high": stats["chi_high"],
        "P_s (k = 1e8/m)": stats["p_stable_low"],
        "P_s (λ = 1 nm)": stats["p_stable_high"],
    },
    index=moduli["id"],
)
summary.round(3)

# %%
# The distributions behind those numbers (thesis Fig. 2-6 shows the same
# quantities over 12,950 compounds):
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(8, 3.2), layout="constrained")
for j, name in enumerate(moduli["id"]):
    ax0.hist(stats["chi_low_members"][:, j], bins=20, histtype="step", label=name)
    ax1.hist(stats["lambda_crit_members"][:, j], bins=20, histtype="step", label=name)
ax0.set_xlabel("χ at k = 1e8 1/m (kJ/(mol·nm))")
ax1.set_xlabel("λ_crit (nm)")
ax0.set_ylabel("members")
ax1.legend(fontsize=8)
plt.show()
