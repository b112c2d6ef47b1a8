"""GDyNet model and its VAMP-2 loss."""

from __future__ import annotations

import torch

from asegraph.analysis.dynamics.model import TargetGatedConv, build_model
from asegraph.analysis.dynamics.training import vamp2_loss
from asegraph.models.layers import GatedConv


def _inputs(n_frames=4, n_targets=6, m=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randint(0, 3, (n_targets,), generator=g),
        torch.randint(0, 3, (n_frames, n_targets, m), generator=g),
        2 + 3 * torch.rand((n_frames, n_targets, m), generator=g),
    )


def test_target_conv_equals_gated_conv():
    conv = TargetGatedConv(8, 5).eval()
    reference = GatedConv(8, 5).eval()
    reference.load_state_dict(conv.state_dict())
    g = torch.Generator().manual_seed(1)
    targets, senders = torch.randn(4, 8, generator=g), torch.randn(12, 8, generator=g)
    edges, receivers = torch.randn(12, 5, generator=g), torch.arange(4).repeat_interleave(3)
    edge_index = torch.stack([4 + torch.arange(12), receivers])
    expected = reference(torch.cat([targets, senders]), edges, edge_index)[:4]
    torch.testing.assert_close(conv(targets, senders, edges, receivers), expected)


def test_output_is_a_distribution_per_group():
    model = build_model({"n_species": 3, "n_states": 3}, seed=0).eval()
    species, neighbours, distances = _inputs()
    groups = torch.tensor([0, 0, 1, 1, 2, 2])
    chi = model(species, neighbours, distances, groups, 3)
    assert chi.shape == (4, 3, 3)
    torch.testing.assert_close(chi.sum(dim=2), torch.ones(4, 3))


def test_invariant_to_neighbour_order_and_atom_order_within_a_group():
    model = build_model({"n_species": 3, "n_states": 2}, seed=0).eval()
    species, neighbours, distances = _inputs()
    groups = torch.tensor([0, 0, 1, 1, 2, 2])
    chi = model(species, neighbours, distances, groups, 3)
    perm = torch.randperm(5, generator=torch.Generator().manual_seed(2))
    swapped = torch.tensor([1, 0, 2, 3, 5, 4])
    chi2 = model(
        species[swapped],
        neighbours[:, swapped][:, :, perm],
        distances[:, swapped][:, :, perm],
        groups,
        3,
    )
    torch.testing.assert_close(chi, chi2)


def test_seeded_init_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = build_model({"n_species": 2, "n_states": 2}, seed=7)
    b = build_model({"n_species": 2, "n_states": 2}, seed=7)
    c = build_model({"n_species": 2, "n_states": 2}, seed=8)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.head[0].weight, b.head[0].weight)
    assert not torch.equal(a.head[0].weight, c.head[0].weight)


def test_k_minus_one_columns_keep_gradients_finite_with_an_unused_state():
    """DESIGN trap (a): a saturated, unused third state."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(400, 3, generator=g)
    logits[:, 2] = -60.0  # state 2 never used
    logits.requires_grad_(True)
    chi = torch.softmax(logits, dim=1)
    loss = vamp2_loss(chi[:-10], chi[10:])
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
