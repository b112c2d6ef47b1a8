"""
CGCNN as an ASE calculator
==========================

``atoms.calc = CGCNNCalculator(model)`` puts a CGCNN behind every ASE tool:
energies, forces and stress (exact derivatives by automatic differentiation),
optimisers, molecular dynamics, equations of state.

A model meant as a *potential* needs a graph that changes smoothly with the
positions: the 12-nearest-neighbour graph of the published models jumps when
two neighbours swap rank. This tutorial trains a small potential on the
bundled EMT alloys with a radius graph and a smooth cutoff envelope
(:func:`asegraph.models.envelope.with_envelope`), then relaxes a cell,
runs NVE molecular dynamics and fits an equation of state — each compared
with EMT, the potential that labelled the data. The published models
(properties such as the bulk modulus) are used at the end when their files
are available.
"""

# %%
# A smooth potential
# ------------------
# 40 epochs over the 600 cells (about 20 s of one core).
import ase.io
import numpy as np
import torch

from asegraph.data.emt_alloys import EXAMPLE_PATH
from asegraph.models import CGCNN, CGCNNConfig, model_graphs, with_envelope
from asegraph.training import Trainer, TrainingConfig

torch.set_num_threads(1)
frames = ase.io.read(EXAMPLE_PATH, index=":")
cutoff = 4.5  # Å: a radius graph, every neighbour within 4.5 Å (up to 96)
config = CGCNNConfig(
    targets=["energy_per_atom"],
    units=["eV/atom"],
    atom_features="embedding",
    atom_dim=24,
    n_conv=2,
    readout="site",
    batch_norm=False,
    cutoff=cutoff,
    max_neighbors=96,
    gaussian={"start": 0.0, "stop": cutoff, "step": 0.2, "width": 0.2},
)
torch.manual_seed(0)
model = with_envelope(CGCNN(config))  # edges fade to zero at the cutoff
graphs = model_graphs(model, frames, errors="raise")
targets = np.array([f.info["energy_per_atom"] for f in frames])
history = Trainer(
    model, TrainingConfig(epochs=40, batch_size=32, lr=3e-3, seed=0), progress=False
).fit(graphs, targets)
print(f"{len(history)} epochs, final training loss {history[-1]['train_loss']:.4f}")

# %%
# Relaxation
# ----------
# A rattled Cu3Au cell relaxed with BFGS, positions and cell (through ASE's
# ``FrechetCellFilter``), once with the CGCNN and once with EMT.
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS

from asegraph.calculators import CGCNNCalculator

start = bulk("Cu", "fcc", a=3.75, cubic=True)  # Cu3Au: one corner atom of four is Au
start.symbols[0] = "Au"
start.rattle(0.05, seed=0)
relaxed = {}
for label, calc in {"CGCNN": CGCNNCalculator(model, dtype="float64"), "EMT": EMT()}.items():
    atoms = start.copy()
    atoms.calc = calc
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=0.01, steps=200)
    relaxed[label] = atoms
    print(
        f"{label:5s} a = {atoms.cell.lengths()[0]:.3f} Å, "
        f"E = {atoms.get_potential_energy() / len(atoms):.3f} eV/atom, "
        f"max |F| = {np.abs(atoms.get_forces()).max():.1e} eV/Å"
    )

# %%
# Molecular dynamics
# ------------------
# NVE (velocity Verlet, 2 fs) of a 32-atom Cu-Au cell at 300 K. With a smooth
# potential the total energy is conserved; with a 12-nearest-neighbour graph it
# would drift in steps (``examples/calculator_nve.py`` compares the two).
from ase import units
from ase.md.velocitydistribution import Stationary
from ase.md.verlet import VelocityVerlet

try:  # ASE >= 3.29
    from ase.md.velocitydistribution import thermalize_momenta
except ImportError:  # older ASE
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta

totals = {}
for label, calc in {"CGCNN": CGCNNCalculator(model, dtype="float64"), "EMT": EMT()}.items():
    atoms = bulk("Cu", "fcc", a=3.66, cubic=True).repeat(2)
    atoms.symbols[::4] = "Au"
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(1))
    Stationary(atoms)
    atoms.calc = calc
    dyn = VelocityVerlet(atoms, 2 * units.fs)
    series = []
    dyn.attach(lambda a=atoms, s=series: s.append(a.get_total_energy() / len(a)))
    dyn.run(150)
    totals[label] = np.array(series)
    drift = 1000 * (series[-1] - series[0])
    print(f"{label:5s} total-energy drift over 300 fs: {drift:+.3f} meV/atom")

import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
for label, series in totals.items():
    ax.plot(np.arange(len(series)) * 2, 1000 * (series - series[0]), label=label)
ax.set_xlabel("time (fs)")
ax.set_ylabel("total energy change (meV/atom)")
ax.set_title("NVE, 32-atom Cu-Au, 300 K")
ax.legend()
plt.show()

# %%
# Equation of state and bulk modulus
# ----------------------------------
# ASE's :class:`~ase.eos.EquationOfState` on energies from the calculator: the
# curvature at the minimum is the bulk modulus.
from ase.eos import EquationOfState
from ase.units import GPa

fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
for label, calc in {"CGCNN": CGCNNCalculator(model, dtype="float64"), "EMT": EMT()}.items():
    volumes, energies = [], []
    for scale in np.linspace(0.96, 1.04, 9):
        atoms = relaxed["EMT"].copy()
        atoms.set_cell(atoms.cell * scale, scale_atoms=True)
        atoms.calc = calc
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    eos = EquationOfState(volumes, energies)
    v0, e0, b = eos.fit()
    print(f"{label:5s} V0 = {v0:.2f} Å³, B = {b / GPa:.0f} GPa")
    ax.plot(volumes, np.array(energies) - min(energies), "o-", label=f"{label}: {b / GPa:.0f} GPa")
ax.set_xlabel("volume (Å³)")
ax.set_ylabel("E - E_min (eV)")
ax.legend()
plt.show()

# %%
# Properties from the published models
# ------------------------------------
# Without a ``model``, the calculator serves the published Materials Project
# models, each loaded the first time its property is asked for. Their energy
# model is *not* a potential (trained on relaxed structures only): use it for
# energies of given structures, and the property models for screening.
from ase.calculators.calculator import CalculatorSetupError

atoms = bulk("MgO", "rocksalt", a=4.21)
atoms.calc = CGCNNCalculator()
try:
    for name in ("bulk_modulus", "shear_modulus", "band_gap"):
        print(f"MgO {name}: {atoms.calc.get_property(name, atoms):.2f}")
except CalculatorSetupError as exc:  # no published files here, and offline
    print(f"published checkpoints not available here:\n{exc}")
