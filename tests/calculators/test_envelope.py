"""The smooth cutoff envelope."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from calc_models import random_model

from asegraph.calculators.cgcnn import CGCNNCalculator
from asegraph.exceptions import ParameterError
from asegraph.models.envelope import has_envelope, polynomial_envelope, with_envelope


def test_envelope_vanishes_smoothly_at_the_cutoff():
    x = torch.tensor([0.0, 0.5, 1.0 - 1e-4, 1.0, 1.3], dtype=torch.float64, requires_grad=True)
    u = polynomial_envelope(x)
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), x)
    assert u[0] == 1.0 and 0 < u[1] < 1
    np.testing.assert_allclose(u[2:].detach(), 0.0, atol=1e-8)
    np.testing.assert_allclose(du[2:].detach(), 0.0, atol=1e-5)
    np.testing.assert_allclose(d2u[3:], 0.0, atol=1e-12)
    assert torch.isfinite(d2u).all()


def test_with_envelope_keeps_the_state_dict_and_survives_a_file(tmp_path):
    from ase.build import bulk

    from asegraph.models.checkpoint import save_model

    model = random_model(cutoff=5.0, max_neighbors=64)
    keys = set(model.state_dict())
    atoms = bulk("NaCl", "rocksalt", a=5.4, cubic=True)
    plain = CGCNNCalculator(model).get_potential_energy(atoms)
    with_envelope(model, cutoff=4.5)
    assert has_envelope(model) and set(model.state_dict()) == keys
    config = model.config
    assert (config.envelope, config.envelope_cutoff, config.envelope_exponent) == (True, 4.5, 6)
    smooth = CGCNNCalculator(model).get_potential_energy(atoms)
    assert abs(smooth - plain) > 1e-4  # the envelope changes the model
    save_model(model, tmp_path / "m.pt")
    restored = CGCNNCalculator(tmp_path / "m.pt").get_potential_energy(atoms)
    assert restored == pytest.approx(smooth, rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(cutoff=9.0), r"must be in \(0, 8\] Å"),
        (dict(cutoff=-1.0), r"must be in \(0, 8\] Å"),
        (dict(exponent=1), "integer >= 2"),
    ],
)
def test_bad_envelope_settings(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        with_envelope(random_model(), **kwargs)
