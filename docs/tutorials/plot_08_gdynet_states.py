"""
What GDyNet's states are: per-state structure, charge and transport
===================================================================

GDyNet (thesis ch. 4, :doc:`plot_04_gdynet`) gives each target atom a
probability ``χ_k(t)`` of being in each of a few slow states. Thesis ch. 4.4
then asks what the states *are*: which neighbours surround a target in each
state, how much charge its solvation shell carries, and how much each
transition contributes to transport. Each analysis here weights every
target-frame by its state probability, so nothing depends on an arbitrary
hard assignment.

On the shipped toy system (16 Li hopping between tetrahedral and octahedral
sites of an FCC S lattice) the answer is known: one state should have 4 S
neighbours, the other 6. The command-line equivalent of this page is::

    asegraph-dynamics li_fcc_s.dcd --topology li_fcc_s.pdb \\
        --select "name Li" --environment "name S" --states 2 --lag 1ps -o li.nc
    asegraph-dynamics analyze li.nc li_fcc_s.dcd --topology li_fcc_s.pdb \\
        --charges Li=1,S=-0.5 --temperature 400 --no-unwrap -o states.nc

Here a short GDyNet run (the first 1,000 frames, a few epochs) keeps the page
fast; its states are therefore rougher than a full run's. Even a fully trained
model gives probability-weighted coordination numbers between 4 and 6 (4.09 and
5.55 on the whole toy trajectory), because the four-fold frames outnumber the
six-fold ones and each carries a little weight into the octahedral state; the
crisp ``membership="assignment"`` below gives 4.01 and 6.04.
"""

# %%
# A GDyNet result to analyse
# --------------------------
# Any GDyNet result works: the :class:`~asegraph.analysis.dynamics.GDyNetAnalysis`
# object, its ``results.dataset`` or the netCDF file ``asegraph-dynamics`` wrote.
import warnings

import MDAnalysis as mda
import torch

from asegraph.analysis.dynamics import GDyNetAnalysis
from asegraph.examples.li_fcc import shipped_trajectory

warnings.filterwarnings("ignore", message="DCDReader currently makes independent timesteps")
torch.set_num_threads(1)
topology, trajectory = shipped_trajectory()
universe = mda.Universe(str(topology), str(trajectory))
gd = GDyNetAnalysis(
    universe,
    select="name Li",
    environment="name S",
    n_states=2,
    lag="1ps",
    max_epochs=4,
    seed=0,
).run(stop=1000)
result = gd.results.dataset
print(result["state_probability"].mean(("time", "target")).round(3).to_series())

# %%
# State-resolved RDFs and coordination numbers
# --------------------------------------------
# :class:`~asegraph.analysis.dynamics.states.StateRDF` is MDAnalysis'
# ``InterRDF`` with every target-frame weighted by ``χ_k(t)``: one
# ``g_k(r)`` per state and its integral, the coordination number ``n_k(r)``.
import matplotlib.pyplot as plt
import numpy as np

from asegraph.analysis.dynamics.states import StateRDF

rdf = StateRDF(universe, result, "name S", nbins=60, range=(0.0, 5.0)).run()
r = rdf.results
shell = 3.5  # Å, past the first S shell (Li–S: 2.47 Å tetrahedral, 2.85 Å octahedral)
edges = r.bins + 0.5 * (r.bins[1] - r.bins[0])  # n_k(r) is counted to each bin's upper edge
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
twin = ax.twinx()
for k in range(len(r.rdf)):
    n_shell = np.interp(shell, edges, r.cumulative[k])
    ax.plot(r.bins, r.rdf[k], f"C{k}", label=f"state {k}: n(<{shell:g} Å) = {n_shell:.1f}")
    twin.plot(edges, r.cumulative[k], f"C{k}--", lw=1)
ax.set_xlabel("r, Li–S (Å)")
ax.set_ylabel("g_k(r) (solid)")
twin.set_ylabel("coordination number n_k(r) (dashed)")
twin.set_ylim(0, 12)
ax.legend(loc="upper left", fontsize=8)
plt.show()

# %%
# Each target-frame counts with its probability, so a state that is not
# perfectly separated mixes its neighbours' averages: the soft octahedral
# state counts fewer than 6 S. ``membership="assignment"`` weights each
# target-frame by its most probable state only (crisp states);
# ``"softmax"`` uses the network's raw outputs (the thesis' definition).
crisp = StateRDF(
    universe, result, "name S", nbins=60, range=(0.0, 5.0), membership="assignment"
).run()
for k in range(len(r.rdf)):
    soft_n = np.interp(shell, edges, r.cumulative[k])
    crisp_n = np.interp(shell, edges, crisp.results.cumulative[k])
    print(f"state {k}: n(<{shell:g} Å) = {soft_n:.2f} (probabilities), {crisp_n:.2f} (assignment)")

# %%
# Every analysis at once
# ----------------------
# :func:`~asegraph.analysis.dynamics.state_report.analyze_states` runs the RDFs
# against every species, the solvation charge
# (:class:`~asegraph.analysis.dynamics.states.StateSolvationCharge`: the
# target's charge plus all charges within r, and the net charge of its first
# shell — thesis Fig. 4-5c, Table 4.1), the transport decomposition
# (:class:`~asegraph.analysis.dynamics.state_transport.StateTransport`: each
# (i → j) transition's share of the MSD over the lag and of the
# Nernst–Einstein conductivity — thesis Fig. 4-6) and Steinhardt order
# parameters per state (:class:`~asegraph.analysis.dynamics.state_order.StateOrder`).
# The toy's charges are not in its topology, so they are given per species
# (Li⁺ and S at -1/2 keep the cell neutral). The result is again a labelled
# :class:`xarray.Dataset`.
from asegraph.analysis.dynamics.state_report import analyze_states, summary_table

states, snapshots = analyze_states(
    universe,
    result,
    charges={"Li": 1.0, "S": -0.5},
    temperature_K=400,
    unwrap=False,  # the toy's positions are not wrapped into the box
    rdf_range=6.0,
    nbins=60,
    n_snapshots=1,
)
print(summary_table(states))
states

# %%
# The table's columns: each state's weight (fraction of target-frames), its
# coordination numbers within the first shell, the shell's net charge, mean
# q3/q4/q6 and the MSD of the targets that stay in that state over the lag.
# Below: the cumulative charge around a Li per state and the transition
# matrix of MSD contributions. Their sum is the state-free MSD (printed last
# in the table), because ``Σ_k χ_k = 1`` at both ends of the lag.
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
for k in states["state"].values:
    ax0.plot(states["radius"], states["cumulative_charge"].sel(state=k), label=f"state {k}")
ax0.axvline(states.attrs["shell_radius_angstrom"], color="grey", ls=":", label="first shell")
ax0.axhline(0, color="grey", lw=0.6)
ax0.set_xlabel("r (Å)")
ax0.set_ylabel("charge within r (e)")
ax0.legend(fontsize=8)
fraction = states["msd_fraction"].values
image = ax1.imshow(fraction, cmap="viridis", vmin=0)
for (i, j), value in np.ndenumerate(fraction):
    ax1.text(j, i, f"{value:.2f}", ha="center", va="center", color="w")
ax1.set_xticks(states["state_to"].values)
ax1.set_yticks(states["state"].values)
ax1.set_xlabel("state after the lag")
ax1.set_ylabel("state before")
ax1.set_title(f"share of the MSD over {states.attrs['transport_lag_ps']:g} ps")
fig.colorbar(image, ax=ax1)
plt.show()

# %%
# Written to disk
# ---------------
# :func:`~asegraph.analysis.dynamics.state_report.save_states` writes what
# ``asegraph-dynamics analyze`` writes: the netCDF file, the figures and the
# most probable configuration of each state as extended XYZ (the target and
# its neighbours within 6 Å), to open in ASE's GUI or OVITO.
import tempfile
from pathlib import Path

from asegraph.analysis.dynamics.state_report import save_states

out = Path(tempfile.mkdtemp()) / "states.nc"
for path in save_states(states, snapshots, out):
    print("wrote", path.name)
for k, frames in enumerate(snapshots):
    print(f"state {k}: {frames[0].get_chemical_formula()} around the most probable Li")
