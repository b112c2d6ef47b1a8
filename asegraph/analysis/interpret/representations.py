"""What a CGCNN computes on the way to its prediction, as an ``xarray.Dataset`` (thesis ch. 3.2).

The interpretable CGCNN of ch. 3 (``--atom-features embedding --readout
site``) has a physical reading at three depths:

* ``v_i^(0)``, the element representation (Eq. 3.2): one learned vector per
  element, shared by every atom of that element;
* ``v_i^(t)`` after convolution ``t`` (Eq. 3.3): the local environment of atom
  ``i`` out to its t-th neighbours;
* ``E_i = v_i^(K) W + b`` (Eq. 3.4), the site value (a local energy when the
  target is an energy per atom), whose mean over the atoms is the prediction
  (Eq. 3.5).

:func:`representations` collects them for a set of structures through the one
batched prediction path (:func:`asegraph.models.inference.predict_graphs`).
Models with the default ``readout="pool"`` have no ``E_i``; their dataset
carries everything else and :func:`site_values` says why it cannot give them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from asegraph.exceptions import ParameterError


def _check_model(model: Any) -> None:
    from asegraph.models.cgcnn import CGCNN

    if not isinstance(model, CGCNN):
        raise ParameterError(
            f"model must be a single CGCNN (got {type(model).__name__}); interpret one member "
            "of an ensemble at a time (ensemble.members[k])"
        )
    if model.config.task != "regression":
        raise ParameterError(
            f"model predicts task={model.config.task!r}; the interpretation of ch. 3 needs a "
            "regression model (train with --task regression)"
        )


def element_vectors(model: Any, numbers: Sequence[int]) -> np.ndarray:
    """The element representations ``v^(0)`` (Eq. 3.2) of atomic numbers ``numbers``.

    Returns
    -------
    ndarray, shape (len(numbers), atom_dim), float64
        The learned embedding (``atom_features="embedding"``), or the linear
        map of the element's feature row (``"table"``).
    """
    _check_model(model)
    parameter = next(model.parameters())
    z = torch.as_tensor(np.asarray(numbers, dtype=np.int64), device=parameter.device)
    with torch.no_grad():
        return model.atom_features(z).double().cpu().numpy()


def representations(
    model: Any,
    structures: Sequence[Any],
    names: Sequence[str] | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> Any:
    """Element, environment, site and crystal representations of ``structures``.

    Parameters
    ----------
    model : CGCNN
        A regression model (``readout="site"`` for site values).
    structures : sequence of ase.Atoms or pymatgen Structure
    names : sequence of str, optional
        One id per structure (the ``structure`` coordinate; file stems for
        files); default ``"0"``, ``"1"``, ...
    batch_size : int, default 64
    progress : bool, default True
        tqdm progress bar over batches.

    Returns
    -------
    xarray.Dataset
        Dimensions ``structure`` (S), ``atom`` (N, all atoms of all
        structures in order), ``layer`` (R + 1), ``feature`` (A),
        ``element`` (the elements present), ``target``; ``hidden`` for pool
        models. Variables:

        - ``element_embedding`` (element, feature): ``v^(0)``;
        - ``atom_vector`` (atom, layer, feature): ``v_i^(t)``, t = 0..R;
        - ``site_value`` (atom, target), target units: ``E_i`` (site
          readout only; its mean over a structure's atoms is ``prediction``);
        - ``prediction`` (structure, target), target units;
        - ``crystal_embedding`` (structure, feature): the mean of
          ``v_i^(R)`` over the structure's atoms (the pooled vector both
          readouts start from; features for other models);
        - ``crystal_hidden`` (structure, hidden): the last hidden layer
          (pool readout only);
        - ``n_atoms`` (structure).

        Coordinates: ``structure`` (ids), ``formula`` (structure),
        ``element`` (symbols) with ``atomic_number``, and per atom
        ``structure_index`` (position in ``structure``), ``index_in_structure``,
        ``symbol`` and ``number``. Structures without a graph are left out
        and listed in the ``failed`` attribute (JSON ``{id: message}``).

    Raises
    ------
    ParameterError
        Not a single regression CGCNN, ``names`` of the wrong length, no
        structure with a graph, or ``batch_size`` < 1.
    """
    import xarray as xr
    from ase.data import chemical_symbols
    from tqdm import tqdm

    from asegraph import __version__
    from asegraph.graph.structures import to_atoms
    from asegraph.models.inference import model_graphs, predict_graphs

    _check_model(model)
    structures = list(structures)
    if int(batch_size) != batch_size or batch_size < 1:
        raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
    names = [str(k) for k in range(len(structures))] if names is None else [str(n) for n in names]
    if len(names) != len(structures):
        raise ParameterError(f"got {len(names)} names for {len(structures)} structures")
    graphs = model_graphs(model, structures, names, errors="return")
    failed = {n: str(g) for n, g in zip(names, graphs) if isinstance(g, Exception)}
    keep = [k for k, g in enumerate(graphs) if not isinstance(g, Exception)]
    if not keep:
        raise ParameterError(
            f"none of the {len(structures)} structures has a graph; first error: "
            f"{next(iter(failed.values()), 'no structures given')}"
        )
    graphs = [graphs[k] for k in keep]
    extra = ["atom_layers"] + (["crystal_embeddings"] if model.config.readout == "pool" else [])
    parts: dict[str, list] = {}
    for start in tqdm(
        range(0, len(graphs), batch_size), desc="representations", disable=not progress
    ):
        chunk = predict_graphs(model, graphs[start : start + batch_size], batch_size, extra)
        for key, value in chunk.items():
            parts.setdefault(key, []).append(value)
    layers = [a for part in parts["atom_layers"] for a in part]  # S x [n_b, R+1, A]
    n_atoms = np.array([g.n_atoms for g in graphs], dtype=np.int64)
    numbers = np.concatenate([g.numbers for g in graphs]).astype(np.int64)
    vectors = np.concatenate(layers)  # [N, R+1, A]
    crystal = np.stack([a[:, -1].mean(axis=0) for a in layers])  # [S, A]
    present = np.unique(numbers)
    symbols = [chemical_symbols[z] for z in present]
    config = model.config
    targets = list(config.targets)
    units = ", ".join(u or "1" for u in config.units)
    ids = [names[k] for k in keep]
    formulas = [to_atoms(structures[k]).get_chemical_formula() for k in keep]
    data: dict[str, Any] = {
        "element_embedding": (
            ("element", "feature"),
            element_vectors(model, present),
            {"units": "1", "long_name": "element representation v^(0) (Eq. 3.2)"},
        ),
        "atom_vector": (
            ("atom", "layer", "feature"),
            vectors,
            {"units": "1", "long_name": "atom vector v_i^(t) after t convolutions (Eq. 3.3)"},
        ),
        "prediction": (
            ("structure", "target"),
            np.concatenate(parts["y"]),
            {"units": units, "long_name": "model prediction"},
        ),
        "crystal_embedding": (
            ("structure", "feature"),
            crystal,
            {"units": "1", "long_name": "mean of the last atom vectors v_i^(R) over the atoms"},
        ),
        "n_atoms": (("structure",), n_atoms, {"units": "1", "long_name": "number of atoms"}),
    }
    if "site" in parts:
        data["site_value"] = (
            ("atom", "target"),
            np.concatenate([s for part in parts["site"] for s in part]),
            {"units": units, "long_name": "site value E_i (Eq. 3.4); mean over atoms = prediction"},
        )
    if "crystal_embeddings" in parts:
        data["crystal_hidden"] = (
            ("structure", "hidden"),
            np.concatenate(parts["crystal_embeddings"]),
            {"units": "1", "long_name": "last hidden layer after pooling (readout='pool')"},
        )
    structure_index = np.repeat(np.arange(len(graphs)), n_atoms)
    first = np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
    coords = {
        "structure": ("structure", ids, {"long_name": "structure id"}),
        "formula": ("structure", formulas, {"long_name": "chemical formula"}),
        "element": ("element", symbols, {"long_name": "element symbol"}),
        "atomic_number": ("element", present, {"units": "1", "long_name": "atomic number"}),
        "structure_index": (
            "atom",
            structure_index,
            {"units": "1", "long_name": "position in 'structure' of the atom's structure"},
        ),
        "index_in_structure": (
            "atom",
            np.arange(len(numbers)) - first[structure_index],
            {"units": "1", "long_name": "index of the atom in its structure"},
        ),
        "symbol": ("atom", [chemical_symbols[z] for z in numbers], {"long_name": "element"}),
        "number": ("atom", numbers, {"units": "1", "long_name": "atomic number"}),
        "layer": ("layer", np.arange(vectors.shape[1]), {"long_name": "convolutions applied"}),
        "target": ("target", targets, {"long_name": "model target"}),
    }
    return xr.Dataset(
        data,
        coords=coords,
        attrs={
            "Conventions": "CF-1.10",
            "program": "asegraph",
            "program_version": __version__,
            "readout": config.readout,
            "atom_features": config.atom_features,
            "model_config": json.dumps(config.to_dict()),
            "failed": json.dumps(failed),
        },
    )


def site_values(dataset: Any, target: int = 0) -> np.ndarray:
    """The site values ``E_i`` [N] of a :func:`representations` dataset.

    Raises
    ------
    ParameterError
        The model has ``readout="pool"``: its atoms carry no additive value.
    """
    if "site_value" not in dataset:
        raise ParameterError(
            f"the model has readout={dataset.attrs.get('readout')!r}: it pools atom vectors "
            "before its last layers, so atoms have no site value E_i (Eq. 3.4); the "
            "embeddings are still given. For site energies train with --readout site"
        )
    return dataset["site_value"].values[:, target]
