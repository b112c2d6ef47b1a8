"""CGCNN physics: invariances, periodicity, batching, per-atom decomposition."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from scipy.spatial.transform import Rotation

from asegraph.exceptions import ParameterError
from asegraph.graph.crystal_graph import build_graph
from asegraph.models.cgcnn import CGCNN, CGCNNConfig
from asegraph.models.inference import model_batch, model_graph, predict_graphs


def make_model(seed: int = 0, **overrides) -> CGCNN:
    torch.manual_seed(seed)  # test-local seeding of the weights only
    config = CGCNNConfig(n_conv=2, atom_dim=16, hidden_dim=24, **overrides)
    model = CGCNN(config).double().eval()
    # non-trivial batch-norm statistics, so eval mode is not the identity
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model


def predict(model: CGCNN, structures) -> np.ndarray:
    return predict_graphs(model, [model_graph(model, s) for s in structures])["y"]


def perovskite() -> Atoms:
    a = 3.905
    return Atoms(
        "SrTiO3",
        scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
        cell=np.eye(3) * a,
        pbc=True,
    )


def random_crystal(seed: int) -> Atoms:
    rng = np.random.default_rng(seed)
    cell = np.eye(3) * 4.5 + rng.uniform(-0.6, 0.6, (3, 3))
    positions = rng.random((5, 3)) @ cell
    atoms = Atoms(numbers=[3, 8, 8, 25, 26], positions=positions, cell=cell, pbc=True)
    return atoms


STRUCTURES = {
    "rocksalt": bulk("NaCl", "rocksalt", a=5.64),
    "fcc": bulk("Al", "fcc", a=4.05),
    "perovskite": perovskite(),
    "triclinic": random_crystal(1),
}


@pytest.mark.parametrize("name", list(STRUCTURES))
def test_rotation_translation_permutation_invariance(name):
    model = make_model()
    atoms = STRUCTURES[name]
    reference = predict(model, [atoms])
    rotated = atoms.copy()
    rotation = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix()
    rotated.set_cell(atoms.cell.array @ rotation.T, scale_atoms=False)
    rotated.positions = atoms.positions @ rotation.T
    translated = atoms.copy()
    translated.translate([0.37, -1.2, 2.9])
    permuted = atoms[np.random.default_rng(5).permutation(len(atoms))]
    for variant in (rotated, translated, permuted):
        np.testing.assert_allclose(predict(model, [variant]), reference, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", list(STRUCTURES))
@pytest.mark.parametrize("reps", [(2, 2, 1), (2, 2, 2)])
def test_supercell_gives_the_same_intensive_prediction(name, reps):
    model = make_model()
    atoms = STRUCTURES[name]
    np.testing.assert_allclose(
        predict(model, [atoms.repeat(reps)]), predict(model, [atoms]), atol=1e-5, rtol=0
    )


def test_truncate_rule_breaks_supercell_invariance_where_ties_exist():
    """Why 'keep' is the default: the original rule depends on the cell choice."""
    model = make_model(ties="truncate")
    atoms = STRUCTURES["perovskite"]
    cell = predict(model, [atoms])
    supercell = predict(model, [atoms.repeat((2, 2, 1))])
    assert np.abs(cell - supercell).max() > 1e-4


def test_batched_equals_one_by_one():
    model = make_model()
    structures = list(STRUCTURES.values()) + [STRUCTURES["fcc"].repeat((2, 1, 1))]
    graphs = [model_graph(model, s) for s in structures]
    batched = predict_graphs(model, graphs, batch_size=len(graphs))["y"]
    single = np.concatenate([predict_graphs(model, [g])["y"] for g in graphs])
    np.testing.assert_allclose(batched, single, atol=1e-12)


def test_site_readout_values_average_to_the_output():
    model = make_model(readout="site", n_hidden_atom=1, targets=["e"], units=["eV/atom"])
    model.set_normalizer([-3.0], [0.7])
    graphs = [model_graph(model, s) for s in STRUCTURES.values()]
    result = predict_graphs(model, graphs)
    for site, y in zip(result["site"], result["y"]):
        assert site.shape[1] == 1
        np.testing.assert_allclose(site.mean(axis=0), y, atol=1e-12)


def test_classification_gives_probabilities():
    model = make_model(task="classification", classes=["no", "yes"], dropout=0.2)
    y = predict(model, list(STRUCTURES.values()))
    assert y.shape == (4, 2)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-12)


def test_regression_dropout_acts_in_training_only():
    # dropout regularises regression too (elastic moduli): random while
    # training, off in eval mode, so predictions stay deterministic
    model = make_model(dropout=0.5)
    graphs = [model_graph(model, s) for s in STRUCTURES.values()]
    first, again = (predict_graphs(model, graphs)["y"] for _ in range(2))
    np.testing.assert_array_equal(first, again)
    batch = model_batch(model, graphs)
    model.train()
    torch.manual_seed(1)
    noisy = model(batch)["y"].detach().numpy()
    model.eval()
    assert np.abs(noisy - first).max() > 1e-6


def test_several_targets_and_simple_convolution():
    model = make_model(
        conv="simple",
        targets=["a", "b"],
        units=["eV", "GPa"],
        target_transform=["none", "log10"],
        atom_features="embedding",
    )
    model.set_normalizer([1.0, 2.0], [0.5, 0.1])
    y = predict(model, list(STRUCTURES.values()))
    assert y.shape == (4, 2) and np.isfinite(y).all()


def test_learned_element_embeddings_start_at_the_scale_of_a_one_hot_linear_layer():
    # nn.Embedding's own N(0, 1) start (norm ~8 in 64-D) swamped what a short
    # training learns (ch. 3 element maps); the start must be U(+-1/sqrt(n_z)),
    # the columns of nn.Linear(n_z, A) that a one-hot encoding would select.
    torch.manual_seed(0)
    model = CGCNN(CGCNNConfig(atom_features="embedding", atom_dim=64))
    weight = model.element_embedding.weight.detach()
    n_z = model.config.max_atomic_number + 1
    bound = 1.0 / np.sqrt(n_z)
    assert weight.shape == (n_z, 64)
    assert weight.abs().max() <= bound
    assert weight.std() == pytest.approx(bound / np.sqrt(3.0), rel=0.05)
    norms = weight.norm(dim=1)
    assert norms.mean() == pytest.approx(np.sqrt(64.0 / 3.0) * bound, rel=0.05)
    # vectors still differ between elements (no degenerate start)
    assert torch.cdist(weight[1:], weight[1:]).fill_diagonal_(1.0).min() > 0.1


def test_distances_from_positions_reach_autograd():
    model = make_model()
    graph = build_graph(STRUCTURES["triclinic"])
    from asegraph.models.inference import model_batch

    batch = model_batch(model, [graph])
    plain = model(batch)["y"]
    batch.positions.requires_grad_(True)
    out = model(batch)["y"]
    torch.testing.assert_close(out, plain, atol=1e-12, rtol=0)
    (grad,) = torch.autograd.grad(out.sum(), batch.positions)
    assert grad.abs().sum() > 0
    np.testing.assert_allclose(grad.sum(dim=0).numpy(), 0.0, atol=1e-10)  # translation


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"task": "ranking"}, "task must be one of"),
        ({"conv": "attention"}, "conv must be one of"),
        ({"task": "classification", "classes": ["only"]}, "classification needs at least two"),
        ({"targets": ["a", "b"]}, "one entry per target"),
        ({"n_hidden": 0}, "readout='pool' needs n_hidden >= 1"),
        ({"target_transform": ["ln"]}, "'none' or 'log10'"),
        ({"gaussian": {"start": 0.0, "stop": 8.0}}, "gaussian needs the keys start, stop, step"),
        ({"envelope": True, "envelope_cutoff": 9.0}, r"envelope cutoff must be in \(0, 8\]"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"dropout": 0.2, "readout": "site"}, "dropout acts before the output layer"),
    ],
)
def test_bad_config(overrides, match):
    # checked when the config is made (__post_init__), not only when a model is built
    with pytest.raises(ParameterError, match=match):
        CGCNNConfig(**overrides)


def test_gaussian_expansion_follows_the_cutoff():
    assert CGCNNConfig(cutoff=5.0).gaussian_settings == {
        "start": 0.0,
        "stop": 5.0,
        "step": 0.2,
        "width": 0.2,
    }
    model = CGCNN(CGCNNConfig(cutoff=5.0, n_conv=1, atom_dim=8, hidden_dim=8))
    assert model.gaussian.n_features == 26  # 0, 0.2, ..., 5.0
    custom = {"start": 0.0, "stop": 4.0, "step": 0.5, "width": 0.5}
    assert CGCNNConfig(gaussian=custom).gaussian_settings == custom


def test_bad_normalizer():
    with pytest.raises(ParameterError, match="normalizer needs 1 means and positive stds"):
        make_model().set_normalizer([0.0], [0.0])


def test_element_missing_from_the_model_table(tmp_path):
    import json

    from asegraph.exceptions import StructureError
    from asegraph.graph.features import AtomFeatureTable

    path = tmp_path / "atom_init.json"
    path.write_text(json.dumps({"11": [1.0, 0.0], "17": [0.0, 1.0]}))
    model = CGCNN(
        CGCNNConfig(n_conv=1, atom_dim=4, hidden_dim=4), AtomFeatureTable.from_atom_init(path)
    )
    model_graph(model, bulk("NaCl", "rocksalt", a=5.64))  # Na and Cl are covered
    with pytest.raises(
        StructureError,
        match=r"'KBr': element K \(Z=19\) has no features in this model's atom table",
    ):
        model_graph(model, bulk("KBr", "rocksalt", a=6.6), name="KBr")
