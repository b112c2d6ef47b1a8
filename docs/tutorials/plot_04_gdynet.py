"""
GDyNet on a trajectory, read back with xarray
=============================================

A graph dynamical network (thesis ch. 4) learns, from an MD trajectory alone,
a few slow states of each target atom and the timescales of the hops between
them: a Koopman model of the local dynamics, trained on the VAMP-2 score.

The toy system shipped with asegraph is the thesis' test case: 16 Li atoms
hopping between the tetrahedral and octahedral sites of an FCC sulfur lattice
(3,000 frames 0.1 ps apart, ``python -m asegraph.examples.li_fcc``
regenerates it). The command-line equivalent of this page is::

    asegraph-dynamics li_fcc_s.dcd --topology li_fcc_s.pdb \\
        --select "name Li" --environment "name S" --states 2 --lag 1ps -o li.nc

Here the first 1,500 frames and a few epochs keep the page fast; the numbers
are therefore rougher than the full run's.
"""

# %%
# An MDAnalysis analysis
# ----------------------
# :class:`~asegraph.analysis.dynamics.GDyNetAnalysis` follows MDAnalysis'
# ``AnalysisBase``: construct it on a ``Universe``, call ``run(start, stop,
# step)``, read ``results``. Any trajectory MDAnalysis reads works (and ASE
# ``.traj``/extxyz through :func:`~asegraph.analysis.dynamics.trajectory.load_universe`).
import MDAnalysis as mda
import torch

from asegraph.analysis.dynamics import GDyNetAnalysis
from asegraph.examples.li_fcc import shipped_trajectory

torch.set_num_threads(1)
topology, trajectory = shipped_trajectory()
universe = mda.Universe(str(topology), str(trajectory))
print(universe, f"{universe.trajectory.n_frames} frames, dt = {universe.trajectory.dt:g} ps")

gd = GDyNetAnalysis(
    universe,
    select="name Li",  # the targets: one state vector per Li per frame
    environment="name S",  # neighbours: S only (the Li walk independently)
    n_states=2,
    lag="1ps",
    max_epochs=8,
    seed=0,
).run(stop=1500)

# %%
# The result is an xarray Dataset
# -------------------------------
# Named dimensions (``time``, ``target``, ``state``, ``lag``...), ``units`` and
# ``long_name`` on every variable, and the settings in the attributes.
ds = gd.results.dataset
ds  # the last expression of a cell: shown as xarray shows it in a notebook

# %%
# Written to netCDF, read back with xarray
# ----------------------------------------
# ``save`` writes the netCDF file, the trained model beside it (``li.pt``,
# reusable with ``model_file=``) and PNG figures.
import tempfile
from pathlib import Path

import xarray as xr

out = Path(tempfile.mkdtemp()) / "li.nc"
for path in gd.save(out):
    print("wrote", path.name)
with xr.open_dataset(out) as back:
    its = back["implied_timescale"].load()
    probability = back["state_probability"].load()
print(its.sel(lag=1.0, method="nearest").to_series().round(2))

# %%
# Timescales and states
# ---------------------
# Left: the implied timescales converge with the lag time, the sign of a
# Markovian model. Right: one Li atom's state probability over time — the hops
# between tetrahedral and octahedral sites.
import matplotlib.pyplot as plt

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
for process in its["process"].values:
    ax0.plot(its["lag"], its.sel(process=process), "o-", label=f"process {process}")
ax0.plot(its["lag"], its["lag"], "k--", lw=1, label="lag = timescale")
ax0.set_xlabel(f"lag ({its['lag'].attrs['units']})")
ax0.set_ylabel(f"implied timescale ({its.attrs['units']})")
ax0.legend()
one = probability.isel(target=0, state=0)
ax1.plot(one["time"], one, lw=0.7)
ax1.set_xlabel(f"time ({one['time'].attrs['units']})")
ax1.set_ylabel("P(state 0)")
ax1.set_title(f"Li atom {int(ds['target'][0])}")
plt.show()
