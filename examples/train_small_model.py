"""Train a per-atom-energy CGCNN on the bundled EMT alloys with the Python API.

Run: python examples/train_small_model.py   (about 30 s on a laptop CPU)
"""

import ase.io
import numpy as np
import torch

from asegraph.data.emt_alloys import EXAMPLE_PATH
from asegraph.graph.crystal_graph import build_graphs
from asegraph.models.cgcnn import CGCNN, CGCNNConfig
from asegraph.training import Trainer, TrainingConfig

torch.set_num_threads(1)
frames = ase.io.read(EXAMPLE_PATH, index=":")
energies = np.array([f.info["energy_per_atom"] for f in frames])  # eV/atom
graphs = build_graphs(frames, cutoff=6.0, max_neighbors=12)

order = np.random.default_rng(0).permutation(len(graphs))
train, val = order[:500], order[500:]
config = CGCNNConfig(
    readout="site",  # E_i per atom, averaged (thesis Eq. 3.4-3.5)
    targets=["energy_per_atom"],
    units=["eV/atom"],
    atom_dim=32,
    n_conv=3,
    cutoff=6.0,
)
torch.manual_seed(0)
model = CGCNN(config)
trainer = Trainer(model, TrainingConfig(epochs=300, lr=3e-3, batch_size=32, max_time_s=30))
trainer.fit([graphs[i] for i in train], energies[train], [graphs[i] for i in val], energies[val])
print("validation:", trainer.evaluate([graphs[i] for i in val], energies[val]))

# per-atom energies of one alloy: they average to the prediction
from asegraph.models.inference import predict_graphs  # noqa: E402

result = predict_graphs(model, [graphs[val[0]]])
print(frames[val[0]].get_chemical_symbols())
print("E_i (eV):", np.round(result["site"][0][:, 0], 3), "mean:", result["y"][0, 0])
