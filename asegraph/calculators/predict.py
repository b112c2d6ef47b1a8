"""Properties of many structures at once, as an ``xarray.Dataset`` (screening).

The calculator evaluates one structure per call; :func:`predict` builds all
graphs with the batched builder and runs the models on batches, which is what
screening thousands of structures needs. The values are the calculator's
(same names, same units): ``energy`` and ``formation_energy`` per cell in eV,
plus ``*_per_atom`` in eV/atom; moduli in GPa.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from asegraph.calculators.cgcnn import to_physical
from asegraph.calculators.serving import PROPERTIES, ModelServer
from asegraph.exceptions import ParameterError


def predict(
    structures: Sequence[Any],
    model: Any = None,
    batch_size: int = 64,
    names: Sequence[str] | None = None,
    properties: Sequence[str] | None = None,
    device: Any = "cpu",
    dtype: Any = "float32",
    progress: bool = True,
) -> Any:
    """Predict properties of many structures.

    Parameters
    ----------
    structures : sequence of ase.Atoms or pymatgen Structure
    model : model spec, optional
        As :class:`~asegraph.calculators.cgcnn.CGCNNCalculator` (default:
        every published Materials Project model).
    batch_size : int, default 64
        Structures per forward pass.
    names : sequence of str, optional
        One label per structure (the ``structure`` coordinate); default
        ``"0"``, ``"1"``, ...
    properties : sequence of str, optional
        A subset of the served properties (default: all); models of other
        properties are never loaded.
    device, dtype
        As the calculator.
    progress : bool, default True
        Show a tqdm progress bar (graphs, then each model's batches).

    Returns
    -------
    xarray.Dataset
        Dimension ``structure`` (and ``member`` for ensembles). Variables:
        each property (float64, NaN where the structure failed), with
        ``units`` and ``long_name``; ``<p>_std`` and ``<p>_members``
        [member, structure] for ensembles; ``energy_per_atom`` /
        ``formation_energy_per_atom`` (eV/atom); ``n_atoms``; ``formula``;
        ``error`` (empty string, or why the structure has no prediction).
        Global attributes ``Conventions``, ``program``, ``program_version``
        and ``models``.

    Raises
    ------
    ParameterError
        ``batch_size`` < 1, ``names`` of the wrong length, or an unknown
        property in ``properties``.
    CalculatorSetupError
        A model cannot be set up (see the calculator).

    Examples
    --------
    >>> ds = predict(structures, "bulk-moduli", batch_size=256)   # doctest: +SKIP
    >>> ds["bulk_modulus"].to_series().nlargest(10)                # doctest: +SKIP
    """
    import xarray as xr
    from tqdm import tqdm

    from asegraph import __version__
    from asegraph.graph.structures import structure_name
    from asegraph.models.inference import check_elements, model_graphs, predict_graphs

    structures = list(structures)
    if int(batch_size) != batch_size or batch_size < 1:
        raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
    if names is None:
        names = [str(k) for k in range(len(structures))]
    names = [str(n) for n in names]
    if len(names) != len(structures):
        raise ParameterError(f"got {len(names)} names for {len(structures)} structures")
    server = ModelServer(model, device, dtype)
    served = [p for p in server.served if properties is None or p in properties]
    unknown = sorted(set(properties or []) - set(server.served))
    if unknown:
        raise ParameterError(
            f"properties {unknown} are not served by this model; it serves "
            f"{', '.join(server.served)}"
        )
    n = len(structures)
    errors = [""] * n
    n_atoms = np.array([len(s) for s in structures], dtype=np.int64)
    data: dict[str, Any] = {}
    graphs_by_setting: dict[tuple, list] = {}
    bar = tqdm(total=n * (1 + len(served)), unit="structure", disable=not progress)
    for prop in served:
        net = server.model(prop)
        config = net.config
        key = (config.cutoff, config.max_neighbors, config.ties)
        if key not in graphs_by_setting:
            bar.set_description("graphs")
            graphs_by_setting[key] = model_graphs(net, structures, names, errors="return")
            bar.update(n)
        graphs = check_elements(net, graphs_by_setting[key], lambda k: names[k])
        ok = [k for k, g in enumerate(graphs) if not isinstance(g, Exception)]
        for k, g in enumerate(graphs):
            if isinstance(g, Exception) and not errors[k]:
                errors[k] = str(g)
        entry = server.served[prop]
        members = len(net.members) if entry.ensemble else 1
        values = np.full((members, n), np.nan)
        bar.set_description(prop)
        out = predict_graphs(net, [graphs[k] for k in ok], batch_size)
        y = out["y_members"] if entry.ensemble else out["y"][None]  # [M, n_ok, n_out]
        values[:, ok] = to_physical(torch.from_numpy(y[:, :, entry.target]), net, entry.target)
        bar.update(n)
        units, long_name, extensive = PROPERTIES[prop]
        if extensive:
            per_atom = values
            values = values * n_atoms
            data[f"{prop}_per_atom"] = _variable(
                per_atom.mean(0), "eV/atom", f"{long_name} per atom"
            )
        data[prop] = _variable(values.mean(0), units, long_name)
        if entry.ensemble:
            data[f"{prop}_std"] = _variable(
                values.std(0), units, f"ensemble standard deviation of the {long_name}"
            )
            data[f"{prop}_members"] = (
                ("member", "structure"),
                values,
                {"units": units, "long_name": f"{long_name}, each ensemble member"},
            )
    bar.close()
    data["n_atoms"] = (("structure",), n_atoms, {"units": "1", "long_name": "number of atoms"})
    formulas = [structure_name(s) for s in structures]
    data["formula"] = (("structure",), np.array(formulas, dtype=object), {"long_name": "formula"})
    data["error"] = (
        ("structure",),
        np.array(errors, dtype=object),
        {"long_name": "why the structure has no prediction (empty: predicted)"},
    )
    models = {p: server.served[p].key for p in served}
    return xr.Dataset(
        data,
        coords={"structure": ("structure", names, {"long_name": "structure label"})},
        attrs={
            "Conventions": "CF-1.10",
            "program": "asegraph",
            "program_version": __version__,
            "models": "; ".join(f"{p}: {m}" for p, m in models.items()),
        },
    )


def _variable(values: np.ndarray, units: str, long_name: str) -> tuple:
    return (("structure",), values, {"units": units, "long_name": long_name})
