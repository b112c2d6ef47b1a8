"""Element maps: probes read exact encodings perfectly and random ones at chance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from asegraph.analysis.interpret.elements import (
    element_pca,
    element_probes,
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
    assert result["group"]["n_classes"] > 8


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
    # a perfect encoding scores 1 on the folds that can be fitted; on the fold that
    # tests the p element the constant probe misses only that element
    from sklearn.model_selection import StratifiedKFold

    exact = np.array([[label == "p", label == "s"] for label in labels], dtype=float)
    splits = StratifiedKFold(3, shuffle=True, random_state=0).split(exact, labels)
    expected = np.mean([1.0 if 6 not in test else 1 - 1 / len(test) for _, test in splits])
    assert expected < 1.0
    assert probe_accuracy(exact, labels, folds=3, seed=0) == pytest.approx(expected)
