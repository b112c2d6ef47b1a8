"""
Training your own model (and an ensemble)
=========================================

A CGCNN learns a property from crystal graphs. Here it learns the EMT energy
per atom of 600 random Al/Ni/Cu/Pd/Ag/Pt/Au alloy cells shipped inside the package
(``asegraph/data/examples/emt_alloys.extxyz``, made by
``python -m asegraph.data.emt_alloys``), then three small models form an
ensemble whose spread says how sure it is.

Training is bounded by wall-clock time (``max_time_s``) so this page builds in
under a minute; a real model trains for longer on more data — the command-line
equivalents at the end take ``--max-time 15m``.
"""

# %%
# Structures to graphs
# --------------------
# Each structure becomes a crystal graph: atoms are nodes, each atom's 12
# nearest neighbours within the cutoff (Å) are its edges. Targets here are in
# ``atoms.info``; :func:`asegraph.data.datasets.read_dataset` reads CIF folders,
# CSV files and ASE databases the same way.
import ase.io
import numpy as np
import torch

from asegraph.data.emt_alloys import EXAMPLE_PATH
from asegraph.graph.crystal_graph import build_graphs

torch.set_num_threads(1)
frames = ase.io.read(EXAMPLE_PATH, index=":")
energies = np.array([f.info["energy_per_atom"] for f in frames])  # eV/atom
graphs = build_graphs(frames, cutoff=6.0, max_neighbors=12)
print(f"{len(graphs)} graphs, {sum(g.n_edges for g in graphs)} edges in all")

rng = np.random.default_rng(0)
order = rng.permutation(len(graphs))
split = {"train": order[:420], "val": order[420:510], "test": order[510:]}


def part(name):
    return [graphs[i] for i in split[name]], energies[split[name]]


# %%
# A model and a trainer
# ---------------------
# ``readout="site"`` gives every atom an energy ``E_i`` whose mean is the
# prediction (thesis Eq. 3.4-3.5). With an ``output_dir`` every epoch is
# checkpointed: running the same code again resumes, and the best model by
# validation error is kept.
import tempfile

from asegraph.models import CGCNN, CGCNNConfig
from asegraph.training import Trainer, TrainingConfig

config = CGCNNConfig(
    targets=["energy_per_atom"],
    units=["eV/atom"],
    readout="site",
    atom_dim=32,
    n_conv=3,
    hidden_dim=64,
    cutoff=6.0,
    gaussian={"start": 0.0, "stop": 6.0, "step": 0.2, "width": 0.2},
)
torch.manual_seed(0)
model = CGCNN(config)
run_dir = tempfile.mkdtemp()
trainer = Trainer(
    model,
    TrainingConfig(epochs=200, batch_size=32, lr=3e-3, max_time_s=20, seed=0),
    output_dir=run_dir,
    progress=False,
)
history = trainer.fit(*part("train"), *part("val"))
test = trainer.evaluate(*part("test"))
baseline = np.abs(part("test")[1] - part("train")[1].mean()).mean()
print(f"{len(history)} epochs; test MAE {1000 * test['mae']:.1f} meV/atom")
print(f"(predicting the training mean: {1000 * baseline:.1f} meV/atom)")

# %%
# How training went, and how good it is
# -------------------------------------
import matplotlib.pyplot as plt

predicted = trainer.predict(part("test")[0])[:, 0]
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(8, 3.6), layout="constrained")
epochs = [row["epoch"] for row in history]
ax0.semilogy(epochs, [row["val_mae"] * 1000 for row in history], label="validation MAE")
ax0.set_xlabel("epoch")
ax0.set_ylabel("meV/atom")
ax0.legend()
reference = part("test")[1]
ax1.scatter(reference, predicted, s=8)
lims = [reference.min(), reference.max()]
ax1.plot(lims, lims, "k--", lw=1)
ax1.set_xlabel("EMT energy (eV/atom)")
ax1.set_ylabel("CGCNN (eV/atom)")
ax1.set_title(f"test set, MAE {1000 * test['mae']:.0f} meV/atom")
plt.show()

# %%
# Per-atom energies
# -----------------
# The site readout explains a prediction atom by atom (thesis ch. 3).
from asegraph.models import predict_graphs

one = next(i for i in split["test"] if len(set(frames[i].numbers)) > 1)  # an alloy
result = predict_graphs(model, [graphs[one]])
for symbol, e in zip(frames[one].get_chemical_symbols(), result["site"][0][:, 0]):
    print(f"{symbol:2s} {e:8.3f} eV")
print(f"mean {result['y'][0, 0]:.3f} eV/atom, EMT {energies[one]:.3f} eV/atom")

# %%
# Saving and loading
# ------------------
# A model file is plain data (weights plus a config that records the graph
# settings, targets and units) and loads with ``torch.load(weights_only=True)``;
# see :doc:`/concepts/models`.
from pathlib import Path

from asegraph.models import load, save

path = save(model, Path(run_dir) / "alloys.pt")
again = load(path)  # also takes published names, ensembles, original checkpoints
assert np.allclose(predict_graphs(again, [graphs[one]])["y"], result["y"])
print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB")

# %%
# An ensemble
# -----------
# Models trained from different initial weights on different subsets of the
# data disagree most where data is scarce; the ensemble's standard deviation is
# an uncertainty (thesis section 2.5). Each member here gets 8 seconds.
from asegraph.models import Ensemble

members = []
for seed in range(3):
    torch.manual_seed(seed)
    member = CGCNN(config)
    subset = np.random.default_rng(seed).choice(split["train"], size=300, replace=False)
    Trainer(
        member,
        TrainingConfig(epochs=200, batch_size=32, lr=3e-3, max_time_s=8, seed=seed),
        progress=False,
    ).fit([graphs[i] for i in subset], energies[subset], *part("val"))
    members.append(member)
ensemble = Ensemble(members)
out = predict_graphs(ensemble, part("test")[0])
error = np.abs(out["y"][:, 0] - reference)
print(f"ensemble test MAE {1000 * error.mean():.1f} meV/atom")
print(f"mean spread {1000 * out['y_std'][:, 0].mean():.1f} meV/atom")

fig, ax = plt.subplots(figsize=(4.5, 3.5), layout="constrained")
ax.scatter(out["y_std"][:, 0] * 1000, error * 1000, s=8)
ax.set_xlabel("ensemble spread (meV/atom)")
ax.set_ylabel("|error| (meV/atom)")
plt.show()

# %%
# From the command line
# ---------------------
# The same steps on your own data (a CIF folder with ``id_prop.csv``, a CSV with
# CIF text, an ASE database or extxyz)::
#
#     asegraph train data.csv --target energy --units eV/atom --max-time 15m -o model.pt
#     asegraph train data.csv --target energy --ensemble 5 --subsample 0.6 -o ensemble.pt
#     asegraph evaluate model.pt test.csv --target energy -o eval/
#     asegraph predict model.pt my_structures/ -o predictions.csv
#
# Data-parallel training over processes is ``torchrun --nproc-per-node N -m
# asegraph.cli.main train ...`` (see :doc:`/concepts/scaling`).
