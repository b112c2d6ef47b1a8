"""Element maps: what the element representations ``v^(0)`` know (thesis Fig. 3-3, 3-8).

Two readings of a learned element vector:

* a 2-D map by principal component analysis, coloured by group
  (:func:`element_pca`);
* linear probes: 3-fold cross-validated logistic regression predicting the
  block, group, radius class and electronegativity class of each element
  from its vector, against the same probe on random vectors of the same shape
  averaged over 20 draws (the thesis' control, :func:`element_probes`). The
  thesis reports block > 90 % and the other three > 60 % for perovskites.
  Each accuracy is the mean over 10 shuffles of the elements into the 3
  folds (the thesis does not say how its folds were drawn; one split of ~46
  elements moves an accuracy by ~0.05).

Element properties come from pymatgen (``Element.block``, ``.group``,
``.atomic_radius`` in Å, Pauling ``.X``). Radius and electronegativity are
continuous, so they are probed as classes: the tertiles among the elements
probed (small / medium / large).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from asegraph.exceptions import ParameterError

PROPERTIES = ("block", "group", "radius", "electronegativity")
N_CLASSES = 3  # tertiles for the continuous properties


def element_properties(symbols: Sequence[str]) -> dict[str, np.ndarray]:
    """Raw properties of elements: block (str), group (int), radius (Å), electronegativity.

    Missing values (e.g. no Pauling electronegativity for a noble gas) are
    NaN; probes leave those elements out.
    """
    from pymatgen.core.periodic_table import Element

    block, group, radius, chi = [], [], [], []
    for symbol in symbols:
        element = Element(symbol)
        block.append(str(element.block))
        group.append(int(element.group))
        r = element.atomic_radius
        radius.append(float(r) if r is not None else np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pymatgen warns for elements without X
            x = float(element.X)
        chi.append(x if np.isfinite(x) and x > 0 else np.nan)
    return {
        "block": np.array(block),
        "group": np.array(group),
        "radius": np.array(radius),
        "electronegativity": np.array(chi),
    }


def property_classes(symbols: Sequence[str]) -> dict[str, np.ndarray]:
    """Class labels probed per element: block, group, radius and electronegativity tertiles.

    Returns
    -------
    dict
        ``{property: labels}``, each an object array (n_elements,); ``None``
        where the property is unknown.
    """
    raw = element_properties(symbols)
    out: dict[str, np.ndarray] = {
        "block": raw["block"].astype(object),
        "group": raw["group"].astype(object),
    }
    for name in ("radius", "electronegativity"):
        values = raw[name]
        labels = np.full(len(values), None, dtype=object)
        known = np.isfinite(values)
        if known.sum() >= N_CLASSES:
            edges = np.quantile(values[known], np.linspace(0, 1, N_CLASSES + 1)[1:-1])
            labels[known] = np.searchsorted(edges, values[known], side="right")
        out[name] = labels
    return out


def probe_accuracies(
    vectors: np.ndarray, labels: Sequence, folds: int = 3, seed: int = 0, repeats: int = 10
) -> np.ndarray:
    """k-fold cross-validated accuracy of a logistic-regression probe, per fold shuffle.

    Parameters
    ----------
    vectors : ndarray, shape (n, d)
    labels : sequence, length n
    folds : int, default 3
        Stratified folds (the thesis' 3-fold cross-validation).
    seed : int, default 0
        Seeds the fold shuffles.
    repeats : int, default 10
        Independent shuffles of the elements into ``folds`` folds. With ~46
        elements one 3-fold split moves an accuracy by ~0.05 (which element
        lands with which); the mean over shuffles is the same estimate with
        less of that noise.

    Returns
    -------
    ndarray, shape (repeats,)
        Mean accuracy over the folds of each shuffle.

    Notes
    -----
    The probe is scikit-learn's ``LogisticRegression`` (L2, C = 1) on the
    vectors centred and divided by one overall scale (their root-mean-square
    component), both from the training folds; the random control goes
    through the same function. One scale, not one per component
    (``StandardScaler``): the axes of a learned embedding mean nothing (a
    rotation of ``v^(0)`` undone in the first convolution is the same
    network), so the probe must not depend on them. Per-component scaling
    blows near-constant components up to the size of the informative ones:
    it read a group code held in 8 of 64 components at 0.32, this probe at
    0.92. (A regularisation chosen by inner cross-validation instead of
    C = 1 changed accuracies by <= 0.02 on learned and on random vectors.)

    A fold whose training part holds a single class (a property that splits
    a few elements 6 to 1, say) cannot fit a classifier; it is scored as the
    probe that learned nothing would be, by predicting that class, instead
    of scikit-learn's NaN and ``FitFailedWarning``.

    Raises
    ------
    ParameterError
        Fewer elements than folds, fewer than two classes, or ``repeats`` < 1.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold

    vectors = np.asarray(vectors, dtype=np.float64)
    labels = np.asarray([str(v) for v in labels])
    if repeats < 1:
        raise ParameterError(f"repeats must be >= 1 fold shuffle, got {repeats}")
    if len(labels) != len(vectors) or len(labels) < folds:
        raise ParameterError(
            f"a {folds}-fold probe needs at least {folds} labelled vectors, got {len(labels)} "
            f"labels for {len(vectors)} vectors"
        )
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2 or counts.max() < folds:
        raise ParameterError(
            f"a {folds}-fold probe needs two classes, one with at least {folds} members; got "
            f"{dict(zip(classes.tolist(), counts.tolist()))}"
        )
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    scores = []
    with warnings.catch_warnings():
        # groups with fewer members than folds are expected (16 groups among ~60 elements)
        warnings.simplefilter("ignore", UserWarning)
        for train, test in splitter.split(vectors, labels):
            seen = np.unique(labels[train])
            if len(seen) == 1:  # nothing to fit: the constant probe
                scores.append(float(np.mean(labels[test] == seen[0])))
                continue
            centre = vectors[train].mean(axis=0)
            scale = np.sqrt(np.mean((vectors[train] - centre) ** 2)) or 1.0
            probe = LogisticRegression(max_iter=5000)
            probe.fit((vectors[train] - centre) / scale, labels[train])
            scores.append(float(probe.score((vectors[test] - centre) / scale, labels[test])))
    # RepeatedStratifiedKFold yields the folds of one shuffle after another
    return np.asarray(scores).reshape(repeats, folds).mean(axis=1)


def probe_accuracy(
    vectors: np.ndarray, labels: Sequence, folds: int = 3, seed: int = 0, repeats: int = 10
) -> float:
    """Mean k-fold cross-validated accuracy of a logistic-regression probe.

    The mean of :func:`probe_accuracies` over ``repeats`` fold shuffles; see
    there for the parameters, the probe and the errors.
    """
    return float(np.mean(probe_accuracies(vectors, labels, folds, seed, repeats)))


def element_probes(
    vectors: np.ndarray,
    symbols: Sequence[str],
    n_random: int = 20,
    folds: int = 3,
    seed: int = 0,
    labels: dict[str, Sequence] | None = None,
    repeats: int = 10,
) -> dict[str, dict[str, Any]]:
    """Linear probes of element vectors against random vectors (thesis Fig. 3-3c).

    Parameters
    ----------
    vectors : ndarray, shape (n_elements, d)
        Element representations ``v^(0)``.
    symbols : sequence of str
        The element of each row.
    n_random : int, default 20
        Draws of standard-normal vectors of the same shape for the control.
    folds : int, default 3
    seed : int, default 0
        Seeds the folds and the random draws.
    labels : dict, optional
        ``{name: labels per element}`` to probe instead of
        :func:`property_classes` (``None`` entries are left out).
    repeats : int, default 10
        Fold shuffles averaged per accuracy (:func:`probe_accuracies`); the
        learned vectors and every random draw get the same shuffles.

    Returns
    -------
    dict
        ``{name: {"learned": accuracy, "learned_std": spread over the fold
        shuffles, "random": mean over draws, "random_std": spread over draws,
        "chance": majority-class fraction, "n_elements": n, "n_classes": k,
        "left_out": symbols alone in their class}}``.

    Notes
    -----
    An element alone in its class (La, the only f-block metal; Bi, the only
    group-15 one) is left out of that property's probe: a cross-validated
    probe never sees its class when it is tested, so it is wrong by
    construction, for learned and random vectors alike, and says nothing
    about the vectors. It stays in the other properties' probes.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) != len(symbols):
        raise ParameterError(
            f"vectors must be (n_elements, d) with one row per symbol, got shape {vectors.shape} "
            f"for {len(symbols)} symbols"
        )
    if n_random < 1:
        raise ParameterError(f"n_random must be >= 1, got {n_random}")
    labels = property_classes(symbols) if labels is None else labels
    rng = np.random.default_rng(seed)
    results: dict[str, dict[str, Any]] = {}
    for name, values in labels.items():
        values = np.asarray(values, dtype=object)
        known = np.array([v is not None for v in values])
        names, sizes = np.unique([str(v) for v in values[known]], return_counts=True)
        alone = set(names[sizes < 2].tolist())
        left_out = [str(symbols[k]) for k in np.flatnonzero(known) if str(values[k]) in alone]
        known &= np.array([str(v) not in alone for v in values])
        y = values[known]
        _, counts = np.unique([str(v) for v in y], return_counts=True)
        if known.sum() < folds or len(counts) < 2 or counts.max() < folds:
            continue  # nothing to learn (e.g. every element in one block, or too few elements)
        learned = probe_accuracies(vectors[known], y, folds, seed, repeats)
        shape = (int(known.sum()), vectors.shape[1])
        random = [
            probe_accuracy(rng.standard_normal(shape), y, folds, seed, repeats)
            for _ in range(n_random)
        ]
        results[name] = {
            "learned": float(learned.mean()),
            "learned_std": float(learned.std()),
            "random": float(np.mean(random)),
            "random_std": float(np.std(random)),
            "chance": float(counts.max() / counts.sum()),
            "n_elements": int(known.sum()),
            "n_classes": len(counts),
            "left_out": left_out,
        }
    return results


def element_pca(vectors: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The two principal components of element vectors.

    Returns
    -------
    coordinates : ndarray, shape (n_elements, 2)
    explained : ndarray, shape (2,)
        Fraction of the variance along each component.
    """
    from sklearn.decomposition import PCA

    vectors = np.asarray(vectors, dtype=np.float64)
    if len(vectors) < 2:
        raise ParameterError(f"a PCA map needs at least two elements, got {len(vectors)}")
    pca = PCA(n_components=2, random_state=seed).fit(vectors)
    return pca.transform(vectors), pca.explained_variance_ratio_
