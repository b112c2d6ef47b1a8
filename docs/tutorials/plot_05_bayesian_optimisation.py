"""
Bayesian optimisation on a synthetic evaluator
==============================================

``asegraph optimize`` searches a design space for the best simulated material
(thesis ch. 5): a Gaussian process (Matérn-5/2, one length scale per
parameter) models the objective, and batches of points are proposed by
local penalisation of the expected improvement, so a batch can run in
parallel. Every evaluation is appended to ``campaign.jsonl`` as it finishes, so
a campaign that is stopped resumes where it was.

An evaluation in a real campaign is a coarse-grained MD simulation of a polymer
electrolyte (by default 2 ns of CG time, long enough for diffusive ion motion
in 6 of 8 runs of the reference point, and continued once to 4 ns when not:
~8 CPU-minutes with the LAMMPS backend, 16 when extended, ~4.5x more with the
pure-ASE one, at 660 beads). To see the optimiser itself, this page replaces it by the Hartmann-6
test function with noise, through the same campaign machinery, and compares it
with random search.
"""

# %%
# A design space and a campaign
# -----------------------------
# The evaluator is any ``"module:function"`` taking ``(params, settings, seed)``
# and returning ``{"value": ...}``; :func:`asegraph.optimize.testfunctions.synthetic`
# is one.
import tempfile
from pathlib import Path

import numpy as np
import torch

from asegraph.optimize.campaign import Campaign, CampaignConfig
from asegraph.optimize.space import DesignSpace, Parameter

torch.set_num_threads(1)
space = DesignSpace([Parameter(f"x{k}", 0.0, 1.0) for k in range(6)])
root = Path(tempfile.mkdtemp())


def campaign(strategy: str) -> dict:
    config = CampaignConfig(
        space=space,
        name=f"hartmann6-{strategy}",
        seed=0,
        strategy=strategy,
        n_initial=8,
        batch=4,
        budget=24,
        objective="value",  # the synthetic evaluator returns "value" (to maximise)
        evaluator="asegraph.optimize.testfunctions:synthetic",
        simulation={"function": "hartmann6", "noise_sd": 0.05},
    )
    return Campaign(config, root / strategy).run(executor="threads", progress=False)


results = {strategy: campaign(strategy) for strategy in ("lp-logei", "random")}
for strategy, records in results.items():
    best = max(r["value"] for r in records.values() if r["status"] == "ok")
    print(f"{strategy:9s} {len(records)} evaluations, best {best:.3f} (maximum 3.322)")

# %%
# Best so far
# -----------
# After the 8 initial Sobol points, each batch of 4 is chosen by the model.
import matplotlib.pyplot as plt

from asegraph.optimize.report import best_so_far

fig, ax = plt.subplots(figsize=(5, 3.4), layout="constrained")
for strategy, records in results.items():
    values = np.array([records[i]["value"] for i in sorted(records)])
    ax.plot(np.arange(1, len(values) + 1), best_so_far(values), "o-", label=strategy)
ax.axhline(3.322, color="k", ls="--", lw=1, label="optimum")
ax.axvline(8.5, color="grey", lw=0.8)
ax.set_xlabel("evaluations")
ax.set_ylabel("best value so far")
ax.legend()
plt.show()

# %%
# Resuming and reporting
# ----------------------
# Running the same campaign again reads ``campaign.jsonl`` and does nothing more:
# all 24 evaluations are there. ``asegraph optimize report DIR`` (or
# :func:`~asegraph.optimize.report.make_report`) draws the report figures:
# best-so-far against random search, inverse length scales (which parameters
# matter), posterior slices and cross sections.
again = campaign("lp-logei")
print(len(again), "evaluations after resuming (none re-run)")
print(sorted(p.name for p in (root / "lp-logei").iterdir()))

# %%
# What a CG-MD campaign looks like
# --------------------------------
# The real evaluator builds a bead-spring polymer electrolyte with ASE (PEO-like
# chains, Li⁺ and anion beads, Lennard-Jones plus Ewald Coulomb), runs MD and
# returns the Li-ion conductivity σ_Li = σ·t_Li (S/cm) by the Einstein/Onsager
# route. The design space of the thesis varies the force-field parameters
# around PEO-LiTFSI; the ``anion`` group has five:
from asegraph.optimize.space import peo_litfsi_space

for p in peo_litfsi_space("anion").parameters:
    print(f"{p.name:12s} [{p.lower:g}, {p.upper:g}] {p.unit:8s} reference {p.reference}")

# %%
# A campaign file (TOML or YAML) names the space, the strategy and the
# simulation settings; ``examples/optimize_small.toml`` in the repository is a
# small one::
#
#     [campaign]
#     name = "small-anion"
#     strategy = "lp-logei"
#     n_initial = 6
#     batch = 2
#     budget = 12
#     objective = "sigma_li"        # S/cm
#     evaluator = "cgmd"
#
#     [space]
#     builtin = "peo_litfsi"
#     group = "anion"
#
#     [simulation]
#     backend = "ase"               # or "lammps" with the [lammps] extra
#     n_chains = 6
#     chain_length = 10
#     n_equil = 500
#     n_prod = 2560                 # 10 ps (frames every 80 fs): a quick look,
#     stride = 20                   # never diffusive, so flag it instead of
#     non_diffusive = "flag"        # extending it (the default)
#     temperature_K = 400.0
#     timestep_fs = 4.0
#
# and runs with::
#
#     asegraph optimize run optimize_small.toml --batch 2 --budget 12
#     asegraph optimize report small-anion.campaign
#
# Evaluations run in local processes, or on a dask cluster with
# ``--scheduler ADDRESS`` (see :doc:`/concepts/scaling`). The CG time scale is
# not calibrated: the conductivities rank designs; they are not experimental
# values.
