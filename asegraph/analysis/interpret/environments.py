"""Local environments: maps of the atom vectors ``v_i^(R)`` (thesis Fig. 3-5, 3-7, 3-9).

* :func:`coordination` describes chosen atoms the way the thesis colours its
  maps: coordination number and neighbours from pymatgen's ``CrystalNN``, and
  the octahedral and tetrahedral order parameters of pymatgen's
  ``LocalStructOrderParams`` computed on those neighbours (their periodic
  images, not their unit-cell copies).
* :func:`environment_map` reduces vectors to 2-D with scikit-learn's t-SNE.
* :func:`project` places new atoms into an existing map: t-SNE has no
  transform for new points, so each new vector goes to the distance-weighted
  mean position of its ``k`` nearest reference vectors (in the vector space,
  not the map) — what the thesis did for boron fullerenes (Fig. 3-7).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from asegraph.exceptions import ParameterError

_BOX = 100.0  # Å: an empty cubic cell to hold one cluster for the order parameters


def coordination(
    structures: Sequence[Any],
    sites: Sequence[tuple[int, int]],
    progress: bool = True,
    cache: dict | None = None,
) -> dict[str, Any]:
    """Coordination of atoms ``sites`` = ``[(structure_index, atom_index), ...]``.

    ``cache`` (a dict kept by the caller) remembers each atom's result across
    calls: CrystalNN is the slow part of an explanation (~30 ms per atom).

    Returns
    -------
    dict
        ``"cn"`` (n,) int, CrystalNN coordination number; ``"oct"``, ``"tet"``
        (n,) float in [0, 1], order parameters (NaN with fewer than 2
        neighbours); ``"neighbors"`` list of lists of neighbour symbols.
    """
    from pymatgen.analysis.local_env import CrystalNN, LocalStructOrderParams
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.ase import AseAtomsAdaptor
    from tqdm import tqdm

    from asegraph.graph.structures import to_atoms

    crystal_nn = CrystalNN()
    order = LocalStructOrderParams(["oct", "tet"])
    pymatgen_cache: dict[int, Any] = {}
    cache = {} if cache is None else cache
    cn = np.zeros(len(sites), dtype=np.int64)
    params = np.full((len(sites), 2), np.nan)
    neighbors: list[list[str]] = []
    for k, (s, i) in enumerate(tqdm(sites, desc="CrystalNN", disable=not progress)):
        if (s, i) in cache:
            cn[k], params[k], shell = cache[(s, i)]
            neighbors.append(shell)
            continue
        if s not in pymatgen_cache:
            pymatgen_cache[s] = AseAtomsAdaptor.get_structure(to_atoms(structures[s]))
        structure = pymatgen_cache[s]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # CrystalNN warns about missing oxidation states
            info = crystal_nn.get_nn_info(structure, int(i))
        cn[k] = len(info)
        neighbors.append([entry["site"].specie.symbol for entry in info])
        if len(info) >= 2:
            centre = structure[int(i)].coords
            coords = [centre] + [entry["site"].coords for entry in info]
            shifted = np.asarray(coords) - centre + _BOX / 2  # images, gathered in one box
            cluster = Structure(
                Lattice.cubic(_BOX),
                [structure[int(i)].specie] + [e["site"].specie for e in info],
                shifted,
                coords_are_cartesian=True,
            )
            values = order.get_order_parameters(cluster, 0, indices_neighs=range(1, len(coords)))
            params[k] = [np.nan if v is None else v for v in values]
        cache[(s, i)] = (cn[k], params[k].copy(), neighbors[-1])
    return {"cn": cn, "oct": params[:, 0], "tet": params[:, 1], "neighbors": neighbors}


def environment_map(vectors: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """t-SNE of atom vectors to 2-D (scikit-learn).

    Parameters
    ----------
    vectors : ndarray, shape (n, d)
    seed : int
    perplexity : float, default 30
        Lowered to (n - 1) / 3 for small sets (t-SNE needs perplexity < n).

    Returns
    -------
    ndarray, shape (n, 2)
        All zeros when the vectors are all the same (to 1e-9 of their size):
        one environment, e.g. every O atom of identical cubic cells, has
        nothing to spread, and scikit-learn's t-SNE would divide by the zero
        spread of its PCA start and crash the process (segmentation fault).
    """
    from sklearn.manifold import TSNE

    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) < 4:
        raise ParameterError(
            f"a local-environment map needs at least 4 atom vectors, got {len(vectors)}; "
            "choose an element with more atoms (--element)"
        )
    if np.ptp(vectors, axis=0).max() <= 1e-9 * max(1.0, float(np.abs(vectors).max())):
        return np.zeros((len(vectors), 2))  # one environment: one point
    perplexity = min(perplexity, (len(vectors) - 1) / 3)
    tsne = TSNE(n_components=2, perplexity=perplexity, random_state=seed, init="pca")
    return tsne.fit_transform(vectors)


def project(
    reference: np.ndarray, reference_map: np.ndarray, vectors: np.ndarray, k: int = 5
) -> np.ndarray:
    """Place new atom vectors into a map fitted on ``reference`` (nearest neighbours).

    Parameters
    ----------
    reference : ndarray, shape (n_ref, d)
    reference_map : ndarray, shape (n_ref, 2)
        The map of ``reference`` (:func:`environment_map`).
    vectors : ndarray, shape (n, d)
    k : int, default 5

    Returns
    -------
    ndarray, shape (n, 2)
        Distance-weighted mean map position of each vector's ``k`` nearest
        reference vectors; an exact copy of a reference vector lands on it.
    """
    from sklearn.neighbors import KNeighborsRegressor

    reference = np.asarray(reference, dtype=np.float64)
    vectors = np.asarray(vectors, dtype=np.float64)
    if reference.shape[1:] != vectors.shape[1:] or len(reference) != len(reference_map):
        raise ParameterError(
            f"reference vectors {reference.shape}, their map {np.shape(reference_map)} and new "
            f"vectors {vectors.shape} do not match; use the same model for both sets"
        )
    knn = KNeighborsRegressor(n_neighbors=min(k, len(reference)), weights="distance")
    return knn.fit(reference, reference_map).predict(vectors)


def sample_atoms(
    symbols: np.ndarray, element: str, max_points: int, seed: int = 0, where: str = "the data"
) -> np.ndarray:
    """Indices of up to ``max_points`` atoms of ``element`` (seeded, sorted).

    ``where`` names the structures in the error message.

    Raises
    ------
    ParameterError
        No atom of ``element``.
    """
    symbols = np.asarray(symbols)
    chosen = np.flatnonzero(symbols == element)
    if not len(chosen):
        present = ", ".join(sorted(set(symbols.tolist())))
        raise ParameterError(f"element {element!r} has no atoms in {where}; present: {present}")
    if len(chosen) > max_points:
        chosen = np.sort(np.random.default_rng(seed).choice(chosen, max_points, replace=False))
    return chosen
