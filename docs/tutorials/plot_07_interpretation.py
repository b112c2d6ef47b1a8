"""
What a model learned: element maps, local environments, site energies
=====================================================================

Thesis ch. 3 reads a trained CGCNN three ways: the learned *element*
vectors ``v^(0)`` (a PCA map and linear probes of chemical properties), the
*local-environment* vectors ``v_i^(R)`` of each atom after R convolutions (a
t-SNE map), and — with the site readout — each atom's additive *site energy*
``E_i`` (Eq. 3.4), whose mean over a crystal is the prediction.

The thesis trains on perovskites with ~60 elements. To run in seconds, this
page trains a small model on the 600 bundled EMT alloys (7 metals), so the
element maps and probes have only 7 points: they show how the tools work, not
what the thesis found. The command-line equivalent, on your own model and
data, is::

    asegraph train data.csv --target energy --readout site --atom-features embedding -o m.pt
    asegraph explain m.pt data.csv -o explain/
"""

# %%
# A model with learned element vectors and site energies
# ------------------------------------------------------
# ``atom_features="embedding"`` learns one vector per element (rather than
# transforming fixed element features), ``readout="site"`` gives every atom an
# energy. A few epochs on one thread.
import ase.io
import numpy as np
import torch

from asegraph.data.emt_alloys import EXAMPLE_PATH
from asegraph.graph.crystal_graph import build_graphs
from asegraph.models import CGCNN, CGCNNConfig
from asegraph.training import Trainer, TrainingConfig

torch.set_num_threads(1)
frames = ase.io.read(EXAMPLE_PATH, index=":")
energies = np.array([f.info["energy_per_atom"] for f in frames])  # eV/atom
graphs = build_graphs(frames, cutoff=6.0, max_neighbors=12)
order = np.random.default_rng(0).permutation(len(frames))
train, val = order[:480], order[480:]

config = CGCNNConfig(
    targets=["energy_per_atom"],
    units=["eV/atom"],
    atom_features="embedding",
    readout="site",
    atom_dim=16,
    n_conv=2,
    hidden_dim=32,
    cutoff=6.0,
    gaussian={"start": 0.0, "stop": 6.0, "step": 0.2, "width": 0.2},
)
torch.manual_seed(0)
model = CGCNN(config)
trainer = Trainer(model, TrainingConfig(epochs=12, batch_size=32, lr=3e-3, seed=0), progress=False)
history = trainer.fit(
    [graphs[i] for i in train], energies[train], [graphs[i] for i in val], energies[val]
)
print(f"validation MAE after {len(history)} epochs: {1000 * history[-1]['val_mae']:.1f} meV/atom")

# %%
# Every representation as one xarray Dataset
# ------------------------------------------
# :func:`~asegraph.analysis.interpret.representations` runs the model once and
# keeps what each layer computed: ``element_embedding`` (element, feature),
# ``atom_vector`` (atom, layer, feature), ``site_value`` (atom, target) in
# eV/atom, ``prediction`` and ``crystal_embedding`` per structure.
from asegraph.analysis.interpret import representations, site_values

ds = representations(model, [frames[i] for i in val], names=[str(i) for i in val], progress=False)
ds

# %%
# The mean of the site energies over a crystal's atoms is its prediction:
E = site_values(ds)  # [atoms], eV/atom
first = ds["structure_index"].values == 0
print(f"{ds['formula'].values[0]}: E_i = {np.round(E[first], 3)}")
print(f"mean {E[first].mean():.4f} = prediction {float(ds['prediction'][0, 0]):.4f} eV/atom")

# %%
# Element map and probes
# ----------------------
# :func:`~asegraph.analysis.interpret.element_pca` projects the element
# vectors on their two principal components (thesis Fig. 3-3a);
# :func:`~asegraph.analysis.interpret.element_probes` asks whether a linear
# classifier recovers block, group, radius and electronegativity classes from
# them, against the same classifier on random vectors (Fig. 3-3c). The
# thesis probes ~60 elements; with the 7 here a 3-fold probe is barely
# defined. An element alone in its class (Al: the only p-block metal, the
# only group-13 one) is left out of that probe, since a cross-validated probe
# never trains on its class (``left_out``); that leaves one block, so there is
# no block probe here. Each accuracy is the mean over 10 shuffles of the folds.
import matplotlib.pyplot as plt
import pandas as pd
from pymatgen.core.periodic_table import Element

from asegraph.analysis.interpret import element_pca, element_probes

symbols = ds["element"].values.tolist()
vectors = ds["element_embedding"].values
coords, explained = element_pca(vectors)
probes = element_probes(vectors, symbols, n_random=10)
table = pd.DataFrame(probes).T
print(table[["learned", "random", "chance", "n_classes"]].astype(float).round(2))
print(table["left_out"])

groups = [Element(s).group for s in symbols]
fig, ax = plt.subplots(figsize=(4.8, 3.8), layout="constrained")
points = ax.scatter(coords[:, 0], coords[:, 1], c=groups, cmap="viridis", s=60)
for (x, y), s in zip(coords, symbols):
    ax.annotate(s, (x, y), textcoords="offset points", xytext=(5, 4))
ax.set_xlabel(f"PC 1 ({100 * explained[0]:.0f} %)")
ax.set_ylabel(f"PC 2 ({100 * explained[1]:.0f} %)")
fig.colorbar(points, ax=ax, label="group")
plt.show()

# %%
# Local environments and site energies
# ------------------------------------
# The vectors ``v_i^(R)`` of every Cu atom, mapped to 2-D by
# :func:`~asegraph.analysis.interpret.environment_map` (t-SNE), coloured by
# the atom's site energy and by the fraction of its 12 nearest neighbours that
# are Cu: atoms in similar surroundings sit together (thesis Fig. 3-5).
# Right: the site energies of each element across all its environments.
from asegraph.analysis.interpret import environment_map

cu = np.flatnonzero(ds["symbol"].values == "Cu")
tsne = environment_map(ds["atom_vector"].values[cu, -1], seed=0)
like = []
for a in cu:
    s, i = int(ds["structure_index"].values[a]), int(ds["index_in_structure"].values[a])
    graph = graphs[int(ds["structure"].values[s])]
    neighbours = graph.edge_index[0, graph.edge_index[1] == i]  # senders into atom i
    like.append(np.mean(graph.numbers[neighbours] == 29))

fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), layout="constrained")
for ax, colour, label in [(axes[0], E[cu], "E_i (eV/atom)"), (axes[1], like, "Cu neighbours")]:
    points = ax.scatter(tsne[:, 0], tsne[:, 1], c=colour, s=10, cmap="coolwarm")
    fig.colorbar(points, ax=ax, label=label)
    ax.set_xticks([])
    ax.set_yticks([])
axes[0].set_title(f"{len(cu)} Cu atoms (t-SNE of v_i^(R))")
per_element = [E[ds["symbol"].values == s] for s in symbols]
axes[2].boxplot(per_element, tick_labels=symbols, showfliers=False)
axes[2].set_ylabel("site energy E_i (eV/atom)")
plt.show()

# %%
# All of it in one call
# ---------------------
# :func:`~asegraph.analysis.interpret.explain` (``asegraph explain``) does the
# above for a model file and datasets, and writes ``representations.nc``, the
# figures and ``summary.json``: the probes, the coordination numbers found by
# CrystalNN, mean site energies per element and the most and least stable
# (centre, neighbour) environments. ``max_points`` bounds the atoms per map.
import tempfile
from pathlib import Path

from asegraph.analysis.interpret import explain
from asegraph.cli.explain import text_summary
from asegraph.models import save

work = Path(tempfile.mkdtemp())
model_file = save(model, work / "alloys.pt")
summary = explain(
    model_file, [EXAMPLE_PATH], work / "explain", max_points=200, n_random=5, progress=False
)
print(text_summary(summary))
