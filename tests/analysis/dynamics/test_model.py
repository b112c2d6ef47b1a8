"""GDyNet model (both receptive fields) and its VAMP-2 loss."""

from __future__ import annotations

import pytest
import torch

from asegraph.analysis.dynamics.model import FrameBatch, TableGatedConv, build_model
from asegraph.analysis.dynamics.training import vamp2_loss
from asegraph.models.layers import GatedConv


def _batch(field="multi-shell", n_frames=4, n_nodes=9, n_targets=6, m=5, seed=0, groups=None):
    """Random graphs: targets are nodes 0..T-1; neighbours any node but the row itself."""
    g = torch.Generator().manual_seed(seed)
    species = torch.randint(0, 3, (n_nodes,), generator=g)
    rows = n_nodes if field == "multi-shell" else n_targets
    shift = torch.randint(1, n_nodes, (n_frames, rows, m), generator=g)
    neighbours = (torch.arange(rows)[None, :, None] + shift) % n_nodes
    distances = 2 + 3 * torch.rand((n_frames, rows, m), generator=g)
    groups = torch.tensor([0, 0, 1, 1, 2, 2]) if groups is None else groups
    return FrameBatch(
        species,
        torch.arange(rows),
        torch.arange(n_targets),
        neighbours,
        distances,
        groups,
        int(groups.max()) + 1,
    )


@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_table_conv_equals_gated_conv_on_the_edge_list(batch_norm, grad):
    """The [R, M] table layout is the same maths as GatedConv on the equivalent edge list,
    with autograd and in the in-place inference path."""
    conv = TableGatedConv(8, 5, batch_norm).eval()
    reference = GatedConv(8, 5, batch_norm).eval()
    g = torch.Generator().manual_seed(1)
    for parameter in conv.parameters():
        parameter.data.normal_(generator=g)
    reference.load_state_dict(conv.state_dict())
    vectors, edges = torch.randn(10, 8, generator=g), torch.randn(4, 3, 5, generator=g)
    rows = torch.tensor([0, 3, 7, 9])
    neighbors = torch.randint(0, 10, (4, 3), generator=g)
    weight, bias = conv.half_weights("edge"), conv.fc_full.bias.view(2, -1)  # [2, A, G]
    terms = tuple(edges @ weight[h].T + bias[h] for h in range(2))
    with torch.set_grad_enabled(grad):
        table = conv.forward_table(vectors, rows, terms, neighbors)
    edge_index = torch.stack([neighbors.reshape(-1), rows.repeat_interleave(3)])
    expected = reference(vectors, edges.reshape(-1, 5), edge_index)[rows]
    torch.testing.assert_close(table, expected)


@pytest.mark.parametrize("field", ["multi-shell", "first-shell"])
def test_output_is_a_distribution_per_group(field):
    model = build_model({"n_species": 3, "n_states": 3, "receptive_field": field}, 0).eval()
    chi = model(_batch(field))
    assert chi.shape == (4, 3, 3)
    torch.testing.assert_close(chi.sum(dim=2), torch.ones(4, 3))


@pytest.mark.parametrize("field", ["multi-shell", "first-shell"])
def test_batched_equals_one_frame_at_a_time(field):
    model = build_model({"n_species": 3, "n_states": 2, "receptive_field": field}, 0).eval()
    batch = _batch(field)
    chi = model(batch)
    for f in range(4):
        one = batch._replace(
            neighbors=batch.neighbors[f : f + 1], distances=batch.distances[f : f + 1]
        )
        torch.testing.assert_close(model(one), chi[f : f + 1])


@pytest.mark.parametrize("n_conv", [1, 2, 3])
def test_pruned_multi_shell_equals_convolving_every_node(n_conv):
    """Only the targets' receptive field is computed; the result is that of GatedConv on the
    whole graph, layer after layer."""
    model = build_model(
        {"n_species": 3, "n_states": 2, "n_conv": n_conv, "atom_dim": 8}, seed=3
    ).eval()
    # a sparse graph (2 neighbours) so that the receptive field is a strict subset
    batch = _batch(n_nodes=30, n_targets=6, m=2, seed=4)
    chi = model(batch)
    b, n, m = batch.neighbors.shape
    vectors = model.embedding(batch.node_species).repeat(b, 1)
    senders = (batch.neighbors + torch.arange(b)[:, None, None] * n).reshape(-1)
    index = torch.stack([senders, torch.arange(b * n).repeat_interleave(m)])
    edges = model.expansion(batch.distances.reshape(-1))
    for conv in model.convs:
        vectors = conv(vectors, edges, index)
    targets = vectors.view(b, n, -1)[:, :6]
    pooled = targets.reshape(b, 3, 2, -1).mean(dim=2)
    expected = torch.softmax(model.head(pooled), dim=2)
    torch.testing.assert_close(chi, expected)


@pytest.mark.parametrize("n_conv", [1, 2, 3])
def test_first_shell_equals_gated_conv_with_raw_neighbours(n_conv):
    """The first-shell fast path (type-embedding terms folded into the edge product) is
    GatedConv on the edge list whose senders keep their type embedding."""
    model = build_model(
        {"n_species": 3, "n_states": 2, "n_conv": n_conv, "receptive_field": "first-shell"}, 2
    ).eval()
    batch = _batch("first-shell", seed=6)
    chi = model(batch)
    b, r, m = batch.neighbors.shape
    n_nodes = len(batch.node_species)
    raw = model.embedding(batch.node_species).repeat(b, 1)  # [B*Nn, A], never updated
    rows = model.embedding(batch.node_species[batch.row_nodes]).repeat(b, 1)  # [B*R, A]
    senders = (batch.neighbors + torch.arange(b)[:, None, None] * n_nodes).reshape(-1) + b * r
    index = torch.stack([senders, torch.arange(b * r).repeat_interleave(m)])
    edges = model.expansion(batch.distances.reshape(-1))
    for conv in model.convs:
        rows = conv(torch.cat([rows, raw]), edges, index)[: b * r]
    pooled = rows.view(b, r, -1)[:, batch.target_rows].reshape(b, 3, 2, -1).mean(dim=2)
    torch.testing.assert_close(chi, torch.softmax(model.head(pooled), dim=2))


@pytest.mark.parametrize("field", ["multi-shell", "first-shell"])
def test_inference_path_equals_the_autograd_path(field):
    """Without autograd the convolutions reuse their buffers in place: same outputs."""
    model = build_model({"n_species": 3, "n_states": 3, "receptive_field": field}, 0).eval()
    batch = _batch(field)
    with torch.inference_mode():
        fast = model(batch)
    torch.testing.assert_close(fast, model(batch).detach())


@pytest.mark.parametrize("field", ["multi-shell", "first-shell"])
def test_one_target_per_group_skips_pooling_with_the_same_result(field):
    """Groups 0..T-1 in order skip the scatter mean; a permuted labelling (scatter path)
    gives the same outputs, permuted."""
    model = build_model({"n_species": 3, "n_states": 3, "receptive_field": field}, 0).eval()
    identity = model(_batch(field, groups=torch.arange(6)))
    permutation = torch.tensor([1, 0, 3, 2, 5, 4])
    permuted = model(_batch(field, groups=permutation))
    torch.testing.assert_close(permuted[:, permutation], identity)


def test_multi_shell_sees_the_second_shell_and_first_shell_does_not():
    """Change only the neighbours of a target's neighbours: the multi-shell output of that
    target changes after two convolutions, the first-shell output cannot."""
    batch = _batch(n_nodes=30, n_targets=6, m=2, seed=5, groups=torch.arange(6))
    first_shell = set(batch.neighbors[0, 0].tolist())
    second = sorted(first_shell - {0})
    changed = batch.distances.clone()
    changed[0, second] += 0.7  # distances around the first-shell atoms only
    for field, n_conv, expect_change in [
        ("multi-shell", 2, True),
        ("multi-shell", 1, False),
        ("first-shell", 2, False),
    ]:
        model = build_model(
            {"n_species": 3, "n_states": 2, "n_conv": n_conv, "receptive_field": field}, 0
        ).eval()
        if field == "first-shell":
            a_batch = batch._replace(row_nodes=torch.arange(6), neighbors=batch.neighbors[:, :6])
            a = model(a_batch._replace(distances=batch.distances[:, :6]))
            b = model(a_batch._replace(distances=changed[:, :6]))
        else:
            a = model(batch)
            b = model(batch._replace(distances=changed))
        moved = not torch.allclose(a[0, 0], b[0, 0])
        assert moved == expect_change, (field, n_conv)


def test_invariant_to_neighbour_order_and_node_order():
    model = build_model({"n_species": 3, "n_states": 2}, seed=0).eval()
    batch = _batch()
    chi = model(batch)
    g = torch.Generator().manual_seed(2)
    perm = torch.randperm(5, generator=g)
    permuted = model(
        batch._replace(neighbors=batch.neighbors[:, :, perm], distances=batch.distances[:, :, perm])
    )
    torch.testing.assert_close(chi, permuted)
    # relabel the nodes: node k becomes new[k]
    new = torch.randperm(9, generator=g)
    inverse = torch.argsort(new)
    relabelled = FrameBatch(
        batch.node_species[inverse],
        torch.arange(9),
        new[batch.target_rows],
        new[batch.neighbors[:, inverse]],
        batch.distances[:, inverse],
        batch.group_index,
        batch.n_groups,
    )
    torch.testing.assert_close(model(relabelled), chi)


def test_seeded_init_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = build_model({"n_species": 2, "n_states": 2}, seed=7)
    b = build_model({"n_species": 2, "n_states": 2}, seed=7)
    c = build_model({"n_species": 2, "n_states": 2}, seed=8)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.head[0].weight, b.head[0].weight)
    assert not torch.equal(a.head[0].weight, c.head[0].weight)


def test_unknown_receptive_field():
    with pytest.raises(ValueError, match="receptive_field must be one of"):
        build_model({"n_species": 2, "n_states": 2, "receptive_field": "all"}, 0)


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
