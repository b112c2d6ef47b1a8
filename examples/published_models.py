"""Predict formation energies and elastic moduli with the published CGCNN models.

Run: python examples/published_models.py

The models are looked up in $ASEGRAPH_MODEL_DIR, then ~/.cache/asegraph/models,
then downloaded (checksum-verified). Offline, point ASEGRAPH_MODEL_DIR at a
folder holding the .pth.tar files and atom_init.json.
"""

from ase.build import bulk

from asegraph.models.inference import model_graphs, predict_graphs
from asegraph.models.registry import load_pretrained

structures = {
    "NaCl": bulk("NaCl", "rocksalt", a=5.64),
    "MgO": bulk("MgO", "rocksalt", a=4.21),
    "Si": bulk("Si", "diamond", a=5.43),
    "Cu": bulk("Cu", "fcc", a=3.61),
}

print(f"{'':6s} {'E_form (eV/atom)':>17s} {'K (GPa)':>9s} {'G (GPa)':>9s}")
columns = {}
for name in ("formation-energy-per-atom", "bulk-moduli", "shear-moduli"):
    model = load_pretrained(name)
    graphs = model_graphs(model, list(structures.values()), list(structures), errors="raise")
    columns[name] = predict_graphs(model, graphs)["y"][:, 0]
for k, label in enumerate(structures):
    e = columns["formation-energy-per-atom"][k]
    bulk_modulus = 10 ** columns["bulk-moduli"][k]  # the models predict log10(GPa)
    shear_modulus = 10 ** columns["shear-moduli"][k]
    print(f"{label:6s} {e:17.3f} {bulk_modulus:9.1f} {shear_modulus:9.1f}")
