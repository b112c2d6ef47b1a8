"""Element maps: probes read exact encodings perfectly and random ones at chance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from asegraph.analysis.interpret.elements import (
    element_pca,
    element_probes,
    probe_accuracies,
    probe_accuracy,
    property_classes,
)
from asegraph.exceptions import ParameterError

# 12 s-, p-, d- and f-block elements each
SYMBOLS = (
    "Li Na K Rb Cs Be Mg Ca Sr Ba H Fr "
    "B Al Ga In Tl C Si Ge Sn Pb N P "
    "Sc Ti V Cr Mn Fe Co Ni Cu Zn Y Zr "
    "La Ce Pr Nd Sm Eu Gd Tb Dy Ho Er Tm"
).split()


def test_property_classes_follow_pymatgen():
    classes = property_classes(["Na", "O", "Fe", "Ce"])
    assert classes["block"].tolist() == ["s", "p", "d", "f"]
    assert classes["group"].tolist() == [1, 16, 8, 3]
    # tertiles of the atomic radius: O smallest, Na/Ce largest
    assert classes["radius"][1] == 0 and classes["radius"][0] == 2


def test_probe_reads_an_exact_block_encoding_perfectly_and_random_vectors_at_chance():
    blocks = property_classes(SYMBOLS)["block"]
    exact = np.array([[b == k for k in "spdf"] for b in blocks], dtype=float)
    exact = np.hstack([exact, np.random.default_rng(1).normal(size=(len(exact), 4)) * 1e-3])
    result = element_probes(exact, SYMBOLS, n_random=20, labels={"block": blocks})
    assert result["block"]["learned"] == 1.0
    assert result["block"]["chance"] == 0.25
    assert abs(result["block"]["random"] - 0.25) < 0.12  # random vectors: near chance
    assert result["block"]["random_std"] > 0


def test_all_four_properties_are_probed():
    vectors = np.random.default_rng(0).normal(size=(len(SYMBOLS), 8))
    result = element_probes(vectors, SYMBOLS, n_random=2)
    assert set(result) == {"block", "group", "radius", "electronegativity"}
    # groups of one (V, Cr, ... here) are left out of the group probe
    assert result["group"]["n_classes"] > 5 and "V" in result["group"]["left_out"]


def test_pca_map():
    vectors = np.random.default_rng(0).normal(size=(10, 5))
    coords, explained = element_pca(vectors)
    assert coords.shape == (10, 2) and explained[0] >= explained[1]


def test_bad_probe_input():
    with pytest.raises(ParameterError, match="at least 3 labelled vectors"):
        probe_accuracy(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ParameterError, match="one row per symbol"):
        element_probes(np.zeros((3, 2)), ["Na", "K"])


def test_probe_needs_a_class_with_as_many_members_as_folds():
    with pytest.raises(ParameterError, match="repeats must be >= 1"):
        probe_accuracy(np.zeros((6, 2)), list("aaabbb"), repeats=0)
    with pytest.raises(ParameterError, match="one with at least 3 members"):
        probe_accuracy(np.zeros((4, 2)), ["a", "b", "c", "d"])


def test_a_fold_that_trains_on_one_class_scores_like_the_constant_probe():
    # 6 to 1: the fold that tests the single p-block element trains on s only
    labels = ["s", "s", "s", "s", "s", "s", "p"]
    vectors = np.random.default_rng(0).normal(size=(7, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no FitFailedWarning, no NaN
        accuracy = probe_accuracy(vectors, labels, folds=3, seed=0)
    assert np.isfinite(accuracy) and 0.0 <= accuracy <= 1.0
    # one fold shuffle: compare with scikit-learn's own split
    # a perfect encoding scores 1 on the folds that can be fitted; on the fold that
    # tests the p element the constant probe misses only that element
    from sklearn.model_selection import StratifiedKFold

    exact = np.array([[label == "p", label == "s"] for label in labels], dtype=float)
    splits = StratifiedKFold(3, shuffle=True, random_state=0).split(exact, labels)
    expected = np.mean([1.0 if 6 not in test else 1 - 1 / len(test) for _, test in splits])
    assert expected < 1.0
    assert probe_accuracy(exact, labels, folds=3, seed=0, repeats=1) == pytest.approx(expected)


# the 46 metals of the perovskite dataset (thesis Fig. 3-3: every non-radioactive metal there)
METALS = (
    "Li Be Na Mg Al K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Rb Sr Y Zr Nb Mo Ru Rh Pd Ag Cd "
    "In Sn Cs Ba La Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi"
).split()


def test_repeated_fold_shuffles_average_the_split_noise():
    rng = np.random.default_rng(3)
    symbols = [s for s in METALS if s != "La"]  # no class of one (see below)
    blocks = property_classes(symbols)["block"]
    vectors = rng.normal(size=(len(symbols), 16))
    vectors[:, :4] += 1.5 * np.array([[b == k for k in "spdf"] for b in blocks])
    per_shuffle = probe_accuracies(vectors, blocks, folds=3, seed=0, repeats=10)
    assert per_shuffle.shape == (10,)
    # the first shuffle is the single split; the others differ (which element lands where)
    assert per_shuffle[0] == pytest.approx(probe_accuracy(vectors, blocks, repeats=1))
    assert per_shuffle.std() > 0.01
    assert probe_accuracy(vectors, blocks) == pytest.approx(per_shuffle.mean())
    result = element_probes(vectors, symbols, n_random=2, labels={"block": blocks})["block"]
    assert result["learned"] == pytest.approx(per_shuffle.mean())
    assert result["learned_std"] == pytest.approx(per_shuffle.std())


def test_the_group_probe_over_the_perovskite_metals_can_reach_the_thesis_figure():
    # 46 metals in 15 groups, 1 to 5 per group: a 3-fold split leaves 1-2 same-group
    # elements in training. An embedding that encodes the group (in a few directions,
    # the rest noise, as a learned v^(0) over its random start) must still score near
    # 1 (Bi, alone in group 15, is left out); random vectors near chance.
    groups = property_classes(METALS)["group"]
    rng = np.random.default_rng(0)
    codes = {g: rng.normal(size=8) for g in set(groups)}
    vectors = np.hstack(
        [np.array([codes[g] for g in groups]), 0.2 * rng.normal(size=(len(METALS), 56))]
    )
    result = element_probes(vectors, METALS, n_random=5, labels={"group": groups})["group"]
    assert result["learned"] > 0.9
    assert result["random"] < result["chance"] + 0.05
    assert result["n_classes"] == 14 and result["left_out"] == ["Bi"]


def test_probe_does_not_depend_on_the_axes_or_the_scale_of_the_embedding():
    # a learned v^(0) is defined up to a rotation (undone in the first convolution)
    rng = np.random.default_rng(4)
    blocks = property_classes(METALS)["block"]
    vectors = rng.normal(size=(len(METALS), 12))
    vectors[:, :4] += np.array([[b == k for k in "spdf"] for b in blocks])
    rotation, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    moved = 7.0 * vectors @ rotation + 3.0
    np.testing.assert_allclose(
        probe_accuracies(moved, blocks), probe_accuracies(vectors, blocks), atol=1e-9
    )


def test_an_element_alone_in_its_class_is_left_out_of_that_probe_only():
    # La is the only f-block metal, Bi the only group-15 one: a cross-validated probe
    # never trains on their class when it tests them (wrong by construction)
    vectors = np.random.default_rng(5).normal(size=(len(METALS), 8))
    result = element_probes(vectors, METALS, n_random=2)
    assert result["block"]["left_out"] == ["La"]
    assert result["block"]["n_elements"] == 45 and result["block"]["n_classes"] == 3
    assert result["group"]["left_out"] == ["Bi"] and result["group"]["n_classes"] == 14
    assert result["radius"]["left_out"] == [] and result["radius"]["n_elements"] == 46
    # an exact block code now scores 1 (La could never be right: 45/46 at best before)
    blocks = property_classes(METALS)["block"]
    exact = np.array([[b == k for k in "spdf"] for b in blocks], dtype=float)
    assert element_probes(exact, METALS, n_random=1, labels={"block": blocks})["block"][
        "learned"
    ] == pytest.approx(1.0)
