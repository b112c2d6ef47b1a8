"""CGCNNCalculator: derivatives, caching, lazy loading, published moduli, errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.calculator import CalculatorSetupError, PropertyNotImplementedError
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress
from ase.neighborlist import neighbor_list
from calc_models import random_model

from asegraph.calculators.cgcnn import CGCNNCalculator
from asegraph.exceptions import StructureError


def rattled_nacl(seed=1, amplitude=0.08):
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    atoms.rattle(amplitude, seed=seed)
    return atoms


def min_rank_gap(atoms, rank=12, cutoff=9.0):
    """Smallest gap, over atoms, between the rank-th and (rank+1)-th neighbour distance (Å)."""
    i, d = neighbor_list("id", atoms, cutoff)
    gaps = []
    for a in range(len(atoms)):
        ds = np.sort(d[i == a])
        gaps.append(ds[rank] - ds[rank - 1])
    return min(gaps)


def assert_derivatives_match(atoms, eps=1e-5):
    forces = atoms.get_forces()
    stress = atoms.get_stress()
    np.testing.assert_allclose(forces, calculate_numerical_forces(atoms, eps), atol=2e-6)
    np.testing.assert_allclose(stress, calculate_numerical_stress(atoms, eps), atol=1e-7)
    assert np.abs(forces).max() > 0.05  # a real test: the forces are not trivially zero
    return forces, stress


def test_published_forces_and_stress_are_finite_differences(published_model_dir):
    atoms = rattled_nacl()
    # Away from neighbour switches: every atom's 12th and 13th neighbours are well apart.
    assert min_rank_gap(atoms) > 1e-3
    atoms.calc = CGCNNCalculator(dtype="float64")
    assert_derivatives_match(atoms)
    # The strain derivative is the same for an off-diagonal (triclinic) cell.
    atoms.set_cell(
        atoms.cell.array @ (np.eye(3) + 0.02 * np.triu(np.ones((3, 3)), 1)), scale_atoms=True
    )
    assert min_rank_gap(atoms) > 1e-3
    assert_derivatives_match(atoms)


def test_smooth_model_derivatives_and_per_atom_energies(toy_smooth):
    atoms = rattled_nacl(seed=3, amplitude=0.1)
    atoms.set_cell(atoms.cell.array * 0.97, scale_atoms=True)
    atoms.calc = CGCNNCalculator(toy_smooth, dtype="float64")
    assert "energies" in atoms.calc.implemented_properties
    assert_derivatives_match(atoms)
    energies = atoms.get_potential_energies()
    assert energies.shape == (8,) and energies.dtype == np.float64
    assert energies.sum() == pytest.approx(atoms.get_potential_energy(), abs=1e-10)
    assert np.ptp(energies) > 1e-4  # atoms in different environments differ


def test_stress_trace_is_the_eos_pressure(toy_smooth):
    from ase.units import GPa

    from asegraph.calculators.elastic import eos_check

    atoms = bulk("NaCl", "rocksalt", a=5.3, cubic=True)
    calc = CGCNNCalculator(toy_smooth, dtype="float64")
    atoms.calc = calc
    pressure = -atoms.get_stress()[:3].mean()
    # -dE/dV by central differences along isotropic scaling (graph unchanged along it).
    energies, volumes = [], []
    for s in (1 - 1e-5, 1 + 1e-5):
        scaled = atoms.copy()
        scaled.set_cell(atoms.cell.array * s, scale_atoms=True)
        scaled.calc = calc
        energies.append(scaled.get_potential_energy())
        volumes.append(scaled.get_volume())
    fd_pressure = -(energies[1] - energies[0]) / (volumes[1] - volumes[0])
    assert pressure / GPa > 1.0  # compressed well below the model's minimum (a ≈ 5.45 Å)
    assert pressure == pytest.approx(fd_pressure, rel=1e-6)
    check = eos_check(atoms, calc, max_strain=0.01, n_points=7)
    assert check.pressure == pytest.approx(pressure / GPa, rel=1e-12)
    assert check.eos_pressure == pytest.approx(check.pressure, rel=0.02)


def count_calls(monkeypatch):
    import asegraph.calculators.cgcnn as module

    calls = {"graph": 0, "forward": 0}
    real_graph, real_batch = module.model_graph, module.model_batch

    def graph(*args, **kwargs):
        calls["graph"] += 1
        return real_graph(*args, **kwargs)

    def batch(*args, **kwargs):
        calls["forward"] += 1
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(module, "model_graph", graph)
    monkeypatch.setattr(module, "model_batch", batch)
    return calls


def test_unchanged_atoms_are_not_recomputed(monkeypatch, toy_smooth):
    calls = count_calls(monkeypatch)
    atoms = rattled_nacl()
    atoms.calc = CGCNNCalculator(toy_smooth)
    forces = atoms.get_forces()
    energy, stress = atoms.get_potential_energy(), atoms.get_stress()
    atoms.get_potential_energies()
    atoms.get_forces()
    assert calls == {"graph": 1, "forward": 1}  # one pass served all of them
    atoms.positions[0, 0] += 0.01
    assert atoms.get_potential_energy() != energy
    assert calls == {"graph": 2, "forward": 2}
    assert not np.allclose(atoms.get_forces(), forces)
    assert not np.allclose(atoms.get_stress(), stress)
    assert calls == {"graph": 2, "forward": 2}
    atoms.set_cell(atoms.cell.array * 1.01, scale_atoms=True)
    atoms.get_stress()
    assert calls == {"graph": 3, "forward": 3}
    atoms.numbers[0] = 19  # K for Na: numbers change -> recompute
    atoms.get_forces()
    assert calls == {"graph": 4, "forward": 4}


def test_published_models_load_lazily_and_share_graphs(published_model_dir, monkeypatch):
    import asegraph.models.registry as registry

    loaded = []
    real = registry.load_pretrained
    monkeypatch.setattr(registry, "load_pretrained", lambda name: loaded.append(name) or real(name))
    calls = count_calls(monkeypatch)
    atoms = rattled_nacl()
    calc = CGCNNCalculator()
    atoms.calc = calc
    assert loaded == []
    atoms.get_forces()
    assert loaded == ["final-energy-per-atom"]
    assert calc.get_property("bulk_modulus", atoms) > 0
    calc.get_property("bulk_modulus", atoms)
    assert loaded == ["final-energy-per-atom", "bulk-moduli"]
    assert calls == {"graph": 1, "forward": 2}  # same graph settings: one graph for both
    for name in ("shear_modulus", "poisson_ratio", "band_gap", "formation_energy"):
        assert np.isfinite(calc.get_property(name, atoms))
    assert len(loaded) == 6 and calls["graph"] == 1


def test_published_moduli_are_ten_to_the_reference_predictions(published_model_dir):
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    reference = json.loads((published_model_dir / "reference_predictions.json").read_text())
    folder = published_model_dir / "data" / "sample-regression"
    calc = CGCNNCalculator(model={"bulk_modulus": "bulk-moduli", "shear_modulus": "shear-moduli"})
    assert calc.implemented_properties == ["bulk_modulus", "shear_modulus"]
    ids = sorted(reference["bulk-moduli"])
    assert len(ids) == 10
    for sid in ids:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            atoms = AseAtomsAdaptor.get_atoms(Structure.from_file(str(folder / f"{sid}.cif")))
        for prop, name in (("bulk_modulus", "bulk-moduli"), ("shear_modulus", "shear-moduli")):
            value = calc.get_property(prop, atoms)
            # The reference is within 1e-4 in log10 (float32 model): 2.3e-4 relative.
            assert value == pytest.approx(10 ** reference[name][sid], rel=3e-4), (sid, prop)


def test_energy_reference_and_formation_energy_are_per_cell(published_model_dir):
    from asegraph.models.inference import model_graph, predict_graphs
    from asegraph.models.registry import load_pretrained

    atoms = bulk("MgO", "rocksalt", a=4.21)
    calc = CGCNNCalculator()
    atoms.calc = calc
    for prop, name in (
        ("energy", "final-energy-per-atom"),
        ("formation_energy", "formation-energy-per-atom"),
    ):
        model = load_pretrained(name)
        per_atom = predict_graphs(model, [model_graph(model, atoms)])["y"][0, 0]
        assert calc.get_property(prop, atoms) == pytest.approx(2 * per_atom, rel=1e-6)
    assert atoms.get_potential_energy(force_consistent=True) == atoms.get_potential_energy()


def test_pooled_models_have_no_per_atom_energies():
    atoms = rattled_nacl()
    atoms.calc = CGCNNCalculator(random_model(readout="pool"))
    assert "energies" not in atoms.calc.implemented_properties
    with pytest.raises(PropertyNotImplementedError, match="energies property not implemented"):
        atoms.get_potential_energies()
    with pytest.raises(PropertyNotImplementedError, match="readout='site'"):
        atoms.calc.calculate(atoms, ["energies"])
    assert np.isfinite(atoms.get_potential_energy())


@pytest.mark.filterwarnings("ignore:structure CH4 is not periodic")
def test_molecule_has_forces_but_no_stress():
    atoms = molecule("CH4")
    atoms.calc = CGCNNCalculator(random_model(), dtype="float64")
    forces = atoms.get_forces()
    assert forces.shape == (5, 3) and forces.dtype == np.float64
    np.testing.assert_allclose(forces.sum(axis=0), 0.0, atol=1e-12)  # translation invariance
    with pytest.raises(PropertyNotImplementedError, match="periodic in all three"):
        atoms.get_stress()


def test_structures_that_are_not_crystals_warn_once():
    calc = CGCNNCalculator(random_model(), dtype="float64")
    methane = molecule("CH4")
    with pytest.warns(UserWarning, match=r"CH4 is not periodic in all three directions \(pbc="):
        calc.get_potential_energy(methane)
    methane.positions[0] += 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per calculator, not every MD step
        calc.get_potential_energy(methane)
        calc.get_potential_energy(rattled_nacl())  # a crystal: no warning


def test_results_are_float64_numpy_with_a_float32_model():
    atoms = rattled_nacl()
    model = random_model()
    atoms.calc = CGCNNCalculator(model)  # float32 by default
    assert next(model.parameters()).dtype == torch.float32
    assert isinstance(atoms.get_potential_energy(), float)
    for value in (atoms.get_forces(), atoms.get_stress(), atoms.get_potential_energies()):
        assert isinstance(value, np.ndarray) and value.dtype == np.float64
    reference = CGCNNCalculator(model, dtype="float64").get_potential_energy(atoms)
    assert atoms.get_potential_energy() == pytest.approx(reference, rel=1e-5)
    assert next(model.parameters()).dtype == torch.float32  # the caller's model is untouched


def test_ensemble_mean_and_spread():
    from asegraph.models.ensemble import Ensemble

    members = [random_model(seed=s) for s in range(3)]
    atoms = rattled_nacl()
    atoms.calc = CGCNNCalculator(Ensemble(members), dtype="float64")
    assert {"energy_std", "energies_std"} <= set(atoms.calc.implemented_properties)
    singles = []
    for member in members:
        probe = atoms.copy()
        probe.calc = CGCNNCalculator(member, dtype="float64")
        singles.append((probe.get_potential_energy(), probe.get_forces()))
    energies = np.array([e for e, _ in singles])
    assert atoms.get_potential_energy() == pytest.approx(energies.mean(), rel=1e-10)
    assert atoms.calc.get_property("energy_std", atoms) == pytest.approx(energies.std(), rel=1e-8)
    assert energies.std() > 1e-3
    np.testing.assert_allclose(
        atoms.get_forces(), np.mean([f for _, f in singles], axis=0), atol=1e-10
    )


def test_ensemble_moduli_are_averaged_in_gpa():
    from asegraph.models.ensemble import Ensemble

    kwargs = dict(readout="pool", targets=["bulk_modulus"], units=["GPa"], transforms=["log10"])
    members = [random_model(seed=s, **kwargs) for s in range(4)]
    atoms = rattled_nacl()
    calc = CGCNNCalculator(Ensemble(members))
    assert calc.implemented_properties == ["bulk_modulus", "bulk_modulus_std"]
    moduli = np.array([CGCNNCalculator(m).get_property("bulk_modulus", atoms) for m in members])
    assert calc.get_property("bulk_modulus", atoms) == pytest.approx(moduli.mean(), rel=1e-6)
    assert calc.get_property("bulk_modulus_std", atoms) == pytest.approx(moduli.std(), rel=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(model={"enthalpy": "band-gap"}), "unknown property 'enthalpy'"),
        (dict(model={}), "mapping is empty"),
        (dict(model="semi-metal-classification"), "is a classifier"),
        (dict(model={"energy": "band-gap"}), "predicts 'band_gap' in 'eV', expected 'eV/atom'"),
        (dict(model="efermi"), r"predicts \['efermi'\], none of which the calculator knows"),
        (dict(model="no/such/model.pt"), "neither a file nor a pretrained name"),
        (dict(model=3.0), "got float"),
        (dict(model=None, dtype="float16"), "dtype must be 'float32' or 'float64'"),
        (dict(model=None, device="tpu:0"), "device must be a torch device"),
        (dict(model=random_model(targets=["foo"])), r"none of which the calculator knows"),
        (dict(model={"energy": random_model(units=["eV"])}), "expected 'eV/atom'"),
        (dict(model={"energy": random_model(transforms=["log10"])}), "forces need"),
        (
            dict(model={"energy": random_model(targets=["a", "b"], units=["", ""])}),
            "several targets",
        ),
    ],
)
def test_bad_setup_raises_calculator_setup_error(kwargs, match):
    with pytest.raises(CalculatorSetupError, match=match):
        CGCNNCalculator(**kwargs)


def test_cuda_requested_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(CalculatorSetupError, match="CUDA is not available"):
        CGCNNCalculator(device="cuda")


def test_missing_published_files_are_a_setup_error(monkeypatch, tmp_path):
    monkeypatch.setenv("ASEGRAPH_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("ASEGRAPH_OFFLINE", "1")
    atoms = rattled_nacl()
    atoms.calc = CGCNNCalculator()  # lazy: nothing is looked up yet
    with pytest.raises(CalculatorSetupError, match="final-energy-per-atom.*is not on disk"):
        atoms.get_potential_energy()


@pytest.mark.filterwarnings("ignore:structure ClNa is not periodic")
def test_bad_structures_raise_structure_errors(toy_smooth):
    atoms = Atoms("NaCl", positions=[[0, 0, 0], [0.05, 0, 0]], cell=[5, 5, 5], pbc=True)
    atoms.calc = CGCNNCalculator(toy_smooth)
    with pytest.raises(StructureError, match="closer than 0.1"):
        atoms.get_potential_energy()
    lonely = Atoms("NaCl", positions=[[0, 0, 0], [30, 0, 0]], pbc=False)
    lonely.calc = CGCNNCalculator(toy_smooth)
    with pytest.raises(StructureError, match="no neighbour within cutoff=5"):
        lonely.get_forces()


def test_saturated_neighbour_lists_warn_for_enveloped_models(toy_smooth):
    from asegraph.models.envelope import with_envelope

    model = with_envelope(random_model(cutoff=5.0, max_neighbors=12))
    atoms = rattled_nacl()
    atoms.calc = CGCNNCalculator(model)
    with pytest.warns(RuntimeWarning, match="max_neighbors=12.*may be truncated"):
        atoms.get_potential_energy()


def test_ensemble_files_and_folders_load_by_path(tmp_path):
    from asegraph.models.checkpoint import save_model
    from asegraph.models.ensemble import Ensemble

    members = [random_model(seed=s) for s in range(2)]
    Ensemble(members).save(tmp_path / "ensemble.pt")
    folder = tmp_path / "members"
    for k, m in enumerate(members):
        save_model(m, folder / f"m{k}.pt")
    atoms = rattled_nacl()
    expected = CGCNNCalculator(Ensemble(members)).get_property("energy_std", atoms)
    for spec in (tmp_path / "ensemble.pt", str(folder)):
        calc = CGCNNCalculator(spec)
        assert calc.get_property("energy_std", atoms) == pytest.approx(expected, rel=1e-6)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CalculatorSetupError, match="has no \\*.pt model files"):
        CGCNNCalculator(tmp_path / "empty")
