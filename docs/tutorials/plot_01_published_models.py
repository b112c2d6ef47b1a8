"""
Published models and ``asegraph predict``
=========================================

The eight CGCNN models of Xie & Grossman (PRL 2018), trained on the Materials
Project, predict formation energies, band gaps, elastic moduli and more from a
structure alone. This tutorial lists them, predicts a few properties for
familiar crystals from Python, and runs the same prediction from the command
line.

The checkpoints are looked up in ``$ASEGRAPH_MODEL_DIR`` (folders separated by
``:``), then in ``~/.cache/asegraph/models``, then downloaded with their SHA-256
checked. Where none of these has them (an offline machine without the files),
the cells below say so instead of predicting.
"""

# %%
# The registry
# ------------
# ``asegraph models`` prints this table; in Python it is a dictionary.
from asegraph.models import PRETRAINED

for name, entry in PRETRAINED.items():
    print(f"{name:28s} {entry.description}")

# %%
# Are the checkpoints here?
# -------------------------
# ``fetch(..., download=False)`` finds and verifies a published file without
# downloading it.
from asegraph.exceptions import ModelNotFoundError
from asegraph.models.registry import ATOM_INIT, fetch

try:
    for entry in [ATOM_INIT, *(PRETRAINED[n].checkpoint for n in ("bulk-moduli",))]:
        print("found", fetch(entry, download=False).name)
    available = True
except ModelNotFoundError as exc:
    available = False
    print(f"published checkpoints not available here, skipping the predictions:\n{exc}")

# %%
# Predicting from Python
# ----------------------
# :func:`asegraph.calculators.predict.predict` takes ASE ``Atoms`` (or pymatgen
# structures) and returns an :class:`xarray.Dataset` over ``structure``, one
# variable per property in physical units (the elastic models predict
# log10 of GPa; ``predict`` converts).
from ase.build import bulk

structures = {
    "NaCl": bulk("NaCl", "rocksalt", a=5.64),
    "MgO": bulk("MgO", "rocksalt", a=4.21),
    "Si": bulk("Si", "diamond", a=5.43),
    "Cu": bulk("Cu", "fcc", a=3.61),
    "Al": bulk("Al", "fcc", a=4.05),
}
if available:
    from asegraph.calculators.predict import predict

    ds = predict(
        list(structures.values()),
        names=list(structures),
        properties=["formation_energy", "bulk_modulus", "shear_modulus"],
        progress=False,
    )
    columns = ["formula", "formation_energy_per_atom", "bulk_modulus", "shear_modulus"]
    print(ds[columns].to_dataframe().round(3))

# %%
# The Dataset carries units on every variable, so a plot labels itself.
if available:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.5), layout="constrained")
    ax.scatter(ds["bulk_modulus"], ds["shear_modulus"])
    for label, k, g in zip(structures, ds["bulk_modulus"].values, ds["shear_modulus"].values):
        ax.annotate(label, (k, g), textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel(f"bulk modulus ({ds['bulk_modulus'].attrs['units']})")
    ax.set_ylabel(f"shear modulus ({ds['shear_modulus'].attrs['units']})")
    ax.set_title("published CGCNN models")
    plt.show()

# %%
# The same from the command line
# ------------------------------
# ``asegraph predict MODEL FILES...`` reads anything ASE reads (CIF via pymatgen,
# as the original code did), whole folders and ASE databases, and writes one CSV
# row per structure; a structure that cannot be read gets an error row and the
# others are still predicted.
import subprocess
import sys
import tempfile
from pathlib import Path

import ase.io

work = Path(tempfile.mkdtemp())
for label, atoms in structures.items():
    ase.io.write(work / f"{label}.cif", atoms)
command = ["asegraph", "predict", "bulk-moduli", str(work), "-o", str(work / "K.csv")]
print("$", " ".join(command[:3]), "CIFS/ -o K.csv")
if available:
    # python -m: the same command as the `asegraph` script, from this interpreter
    args = [sys.executable, "-m", "asegraph.cli.main", *command[1:], "--no-progress"]
    run = subprocess.run(args, capture_output=True, text=True, check=True)
    print(run.stdout + run.stderr)
    print((work / "K.csv").read_text())
