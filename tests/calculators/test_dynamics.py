"""The calculator drives ASE: relaxations, NVT and NVE dynamics, energy continuity."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units
from ase.constraints import FixCom
from ase.filters import FrechetCellFilter
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS, FIRE
from toy_potential import pair_energy, rocksalt

from asegraph.calculators.cgcnn import CGCNNCalculator


def thermalize(atoms, temperature_K, rng):
    try:  # ASE >= 3.29
        from ase.md.velocitydistribution import thermalize_momenta
    except ImportError:
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
    else:
        thermalize_momenta(atoms, temperature_K, rng=rng)
    Stationary(atoms)


def nearest_distances(atoms):
    d = atoms.get_all_distances(mic=True)
    d[d == 0] = np.inf
    return d.min(axis=1)


@pytest.mark.parametrize("optimizer, steps", [(BFGS, 60), (FIRE, 150)])
def test_rattled_rock_salt_relaxes_back_with_its_cell(toy_smooth, optimizer, steps):
    atoms = rocksalt(5.6)
    atoms.rattle(0.1, seed=2)
    atoms.set_cell(
        atoms.cell.array @ (np.eye(3) + [[0, 0.03, 0], [0, 0, 0], [0, 0, -0.02]]), scale_atoms=True
    )
    atoms.calc = CGCNNCalculator(toy_smooth, dtype="float64")
    before = atoms.get_potential_energy()
    assert np.ptp(nearest_distances(atoms)) > 0.1
    opt = optimizer(FrechetCellFilter(atoms), logfile=None)
    assert opt.run(fmax=0.01, steps=steps)
    assert atoms.get_potential_energy() < before - 0.5
    # Back to cubic rock salt: right angles, equal edges, every atom 6-fold at one distance.
    np.testing.assert_allclose(atoms.cell.angles(), 90.0, atol=0.3)  # from 88.3° (soft shear)
    assert np.ptp(atoms.cell.lengths()) < 0.01
    assert np.ptp(nearest_distances(atoms)) < 0.005
    assert np.abs(atoms.get_stress()).max() < 0.01 / 8  # fmax bound on the cell's virial
    # ... at the lattice constant of the potential the model learned (minimum at a = 5.45 Å).
    a = atoms.cell.lengths().mean()
    assert a == pytest.approx(5.45, abs=0.03)
    assert pair_energy(rocksalt(a)) < pair_energy(rocksalt(5.6))


def test_nvt_langevin_216_atoms(toy_smooth):
    atoms = rocksalt(5.45, repeat=3)
    assert len(atoms) == 216
    rng = np.random.default_rng(11)
    thermalize(atoms, 300, rng)
    atoms.set_constraint(FixCom())
    atoms.calc = CGCNNCalculator(toy_smooth)
    com = atoms.get_center_of_mass()
    dyn = Langevin(atoms, 2 * units.fs, temperature_K=300, friction=0.02, fixcm=False, rng=rng)
    temperatures = []
    dyn.attach(lambda: temperatures.append(atoms.get_temperature()), interval=10)
    dyn.run(200)
    assert dyn.nsteps == 200
    np.testing.assert_allclose(atoms.get_center_of_mass(), com, atol=1e-8)
    assert 200 < np.mean(temperatures[5:]) < 400, temperatures
    assert nearest_distances(atoms).min() > 2.2  # still a crystal, nothing collapsed
    assert np.isfinite(atoms.get_potential_energy())


def nve_total_energies(model_path, steps=150):
    atoms = rocksalt(5.45, repeat=2)
    atoms.rattle(0.03, seed=5)  # break the perfect lattice's neighbour ties
    thermalize(atoms, 600, np.random.default_rng(1))
    atoms.calc = CGCNNCalculator(model_path, dtype="float64")
    dyn = VelocityVerlet(atoms, 2 * units.fs)
    totals = []
    dyn.attach(lambda: totals.append(atoms.get_total_energy()), interval=1)
    dyn.run(steps)
    return np.array(totals)


def test_nve_conserves_energy_only_with_the_smooth_envelope(toy_smooth, toy_knn):
    smooth = nve_total_energies(toy_smooth)
    knn = nve_total_energies(toy_knn)
    # Velocity Verlet with dt = 2 fs keeps the total energy of a smooth potential to ~1 meV
    # over 64 atoms at 600 K; the 12-nearest graph jumps by more than that, step by step.
    assert np.abs(smooth - smooth[0]).max() < 0.01
    assert np.abs(np.diff(knn)).max() > 10 * np.abs(np.diff(smooth)).max()


def path_residuals(model_path):
    """Energy change minus the work of the forces, along a straight path of one atom."""
    atoms = rocksalt(5.45)
    atoms.rattle(0.05, seed=4)
    atoms.calc = CGCNNCalculator(model_path, dtype="float64")
    start = atoms.positions[0].copy()
    direction = np.array([1.0, 0.3, 0.0])
    energies, forces = [], []
    for x in np.linspace(-0.2, 0.2, 201):
        atoms.positions[0] = start + x * direction
        energies.append(atoms.get_potential_energy())
        forces.append(atoms.get_forces()[0])
    step = 0.002 * direction
    forces = np.array(forces)
    return np.diff(energies) + 0.5 * (forces[1:] + forces[:-1]) @ step


def test_nearest_neighbour_graph_makes_the_energy_piecewise_smooth(toy_smooth, toy_knn):
    knn, smooth = np.abs(path_residuals(toy_knn)), np.abs(path_residuals(toy_smooth))
    assert smooth.max() < 1e-6  # trapezoid error only: energy is the integral of the forces
    assert np.sort(knn)[-2] < 1e-4  # smooth pieces ...
    assert knn.max() > 1e-3  # ... and a jump where the 12th and 13th neighbours swap
