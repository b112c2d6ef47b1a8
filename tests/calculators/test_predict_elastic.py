"""predict() over many structures, and the EOS consistency check."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from calc_models import random_model

from asegraph.calculators.cgcnn import CGCNNCalculator
from asegraph.calculators.elastic import eos_check
from asegraph.calculators.predict import predict
from asegraph.exceptions import ParameterError


def structures():
    good = [bulk("NaCl", "rocksalt", a=a, cubic=c) for a, c in ((5.5, True), (5.7, False))]
    good.append(bulk("Cu", "fcc", a=3.6))
    bad = Atoms("Cu2", positions=[[0, 0, 0], [0.01, 0, 0]], cell=[4, 4, 4], pbc=True)
    return [good[0], bad, good[1], good[2]]


def test_predict_matches_the_calculator_and_reports_failures():
    model = random_model()
    ds = predict(structures(), model, batch_size=2, names=["a", "b", "c", "d"], progress=False)
    assert list(ds["structure"].values) == ["a", "b", "c", "d"]
    assert ds["energy"].attrs["units"] == "eV" and ds["energy_per_atom"].attrs["units"] == "eV/atom"
    assert ds.attrs["Conventions"] == "CF-1.10" and ds.attrs["program"] == "asegraph"
    for name in ds.data_vars:
        assert "long_name" in ds[name].attrs, name
    assert np.isnan(ds["energy"].values[1]) and "closer than 0.1" in ds["error"].values[1]
    assert list(ds["n_atoms"].values) == [8, 2, 2, 1]
    calc = CGCNNCalculator(model)
    for k in (0, 2, 3):
        expected = calc.get_potential_energy(structures()[k])
        assert ds["energy"].values[k] == pytest.approx(expected, rel=1e-5)
        assert ds["error"].values[k] == ""
    np.testing.assert_allclose(ds["energy_per_atom"] * ds["n_atoms"], ds["energy"])


def test_predict_ensembles_give_members_and_spread(tmp_path):
    from asegraph.models.ensemble import Ensemble

    kwargs = dict(readout="pool", targets=["shear_modulus"], units=["GPa"], transforms=["log10"])
    ensemble = Ensemble([random_model(seed=s, **kwargs) for s in range(3)])
    ds = predict(structures(), ensemble, progress=False)
    assert ds["shear_modulus_members"].dims == ("member", "structure")
    members = ds["shear_modulus_members"].values[:, 0]
    assert ds["shear_modulus"].values[0] == pytest.approx(members.mean())
    assert ds["shear_modulus_std"].values[0] == pytest.approx(members.std())
    assert ds["shear_modulus"].attrs["units"] == "GPa"
    path = tmp_path / "screen.nc"
    ds.to_netcdf(path)  # writable as netCDF (strings, attributes)


def test_predict_published_subset(published_model_dir):
    ds = predict(structures(), properties=["bulk_modulus"], progress=False)
    assert set(ds.data_vars) == {"bulk_modulus", "n_atoms", "formula", "error"}
    calc = CGCNNCalculator(model="bulk-moduli")
    expected = calc.get_property("bulk_modulus", structures()[0])
    assert ds["bulk_modulus"].values[0] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(batch_size=0), "batch_size must be a positive integer"),
        (dict(names=["x"]), "got 1 names for 4 structures"),
        (dict(properties=["band_gap"]), r"properties \['band_gap'\] are not served"),
    ],
)
def test_predict_bad_arguments(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        predict(structures(), random_model(), progress=False, **kwargs)


def test_eos_check_of_the_toy_potential(toy_smooth):
    from toy_potential import pair_energy, rocksalt

    from asegraph.models.ensemble import Ensemble

    atoms = rocksalt(5.45)
    calc = CGCNNCalculator(toy_smooth, dtype="float64")
    check = eos_check(atoms, calc, max_strain=0.02)
    assert not check.extrapolated and check.v0 == pytest.approx(5.45**3, rel=0.02)
    assert np.isnan(check.predicted_bulk_modulus)  # this calculator serves no bulk modulus
    # The same fit on the toy potential itself: the model learned its curvature roughly.
    energies = []
    for v in check.volumes:
        energies.append(pair_energy(rocksalt(v ** (1 / 3))))
    from ase.eos import EquationOfState
    from ase.units import GPa

    _, _, b_true = EquationOfState(check.volumes, energies).fit()
    assert check.eos_bulk_modulus == pytest.approx(b_true / GPa, rel=0.3)
    assert "GPa" in str(check)
    # With a bulk-modulus model the ratio compares the two.
    kwargs = dict(readout="pool", targets=["bulk_modulus"], units=["GPa"], transforms=["log10"])
    both = CGCNNCalculator(
        {"energy": toy_smooth, "bulk_modulus": Ensemble([random_model(**kwargs)])}
    )
    check = eos_check(atoms, both, max_strain=0.02)
    assert check.ratio == pytest.approx(check.eos_bulk_modulus / check.predicted_bulk_modulus)
    assert check.predicted_bulk_modulus > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(max_strain=0.5), r"max_strain must be in \(0, 0.2\]"),
        (dict(n_points=3), "n_points must be an integer >= 5"),
        (dict(eos="sj"), "eos must be one of"),
    ],
)
def test_eos_check_bad_arguments(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        eos_check(bulk("Cu"), CGCNNCalculator(random_model()), **kwargs)


def test_eos_check_needs_a_periodic_cell():
    from ase.build import molecule

    with pytest.raises(ParameterError, match="periodic in three directions"):
        eos_check(molecule("H2O"), CGCNNCalculator(random_model()))
