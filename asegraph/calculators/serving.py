"""Which model serves which property, loaded when first needed.

Shared by :class:`~asegraph.calculators.cgcnn.CGCNNCalculator` and
:func:`~asegraph.calculators.predict.predict`. A *model spec* is

* ``None``: the published Materials Project models of :data:`DEFAULT_MODELS`;
* a registry name (``"bulk-moduli"``), an asegraph model file, an ensemble
  file or a folder of member files, or an original ``.pth.tar`` next to the
  registry's ``atom_init.json``;
* a loaded :class:`~asegraph.models.cgcnn.CGCNN` or
  :class:`~asegraph.models.ensemble.Ensemble`;
* a mapping ``{property: any of the above}``.

A single model serves every property whose target name it predicts (see
:data:`TARGET_PROPERTIES`); a mapping says explicitly which model serves what.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from ase.calculators.calculator import CalculatorSetupError

from asegraph.exceptions import AsegraphError
from asegraph.models.checkpoint import PUBLISHED_TARGETS
from asegraph.models.registry import PRETRAINED

#: property -> (units, long_name, extensive). Extensive properties are
#: ``n_atoms`` times a per-atom prediction (eV/atom -> eV per cell).
PROPERTIES: dict[str, tuple[str, str, bool]] = {
    "energy": ("eV", "total energy (DFT energy scale of the model)", True),
    "formation_energy": ("eV", "formation energy of the cell", True),
    "band_gap": ("eV", "band gap", False),
    "bulk_modulus": ("GPa", "Voigt-Reuss-Hill bulk modulus", False),
    "shear_modulus": ("GPa", "Voigt-Reuss-Hill shear modulus", False),
    "poisson_ratio": ("1", "Poisson ratio", False),
}

#: target name in a model's config -> property it serves.
TARGET_PROPERTIES = {
    "energy_per_atom": "energy",
    "formation_energy_per_atom": "formation_energy",
    "band_gap": "band_gap",
    "bulk_modulus": "bulk_modulus",
    "shear_modulus": "shear_modulus",
    "poisson_ratio": "poisson_ratio",
}

#: The published models (Xie & Grossman 2018) served when no model is given.
#: ``energy`` comes from ``final-energy-per-atom``: the Materials Project's
#: absolute VASP (PBE / PBE+U) total energy, not a formation energy.
DEFAULT_MODELS = {
    "energy": "final-energy-per-atom",
    "formation_energy": "formation-energy-per-atom",
    "band_gap": "band-gap",
    "bulk_modulus": "bulk-moduli",
    "shear_modulus": "shear-moduli",
    "poisson_ratio": "poisson-ratio",
}

#: What the published regression models predict: registry name -> (target, units, transform),
#: known without loading them (registry names are the original data names with "-" for "_").
_PUBLISHED_TARGETS = {
    name: PUBLISHED_TARGETS[name.replace("-", "_")]
    for name in PRETRAINED
    if name.replace("-", "_") in PUBLISHED_TARGETS
}


@dataclass
class Served:
    """One property and where it comes from.

    Attributes
    ----------
    prop : str
        Property name (a key of :data:`PROPERTIES`).
    key : str
        Identifies the model, so several properties share one loaded model.
    target : int or None
        Index of the model's output; None until a lazily loaded model is known.
    per_atom : bool
        The model has a per-atom head (``readout="site"``), so ``energies`` exist.
    ensemble : bool
        The model is an ensemble, so ``<prop>_std`` exist.
    """

    prop: str
    key: str
    target: int | None
    per_atom: bool
    ensemble: bool


def parse_dtype(dtype: Any) -> torch.dtype:
    """``"float32"``/``"float64"`` (or the torch dtypes) -> torch dtype."""
    table = {"float32": torch.float32, "float64": torch.float64}
    if isinstance(dtype, torch.dtype) and dtype in table.values():
        return dtype
    if str(dtype) in table:
        return table[str(dtype)]
    raise CalculatorSetupError(f"dtype must be 'float32' or 'float64', got {dtype!r}")


def parse_device(device: Any) -> torch.device:
    """A torch device that exists here, else :class:`CalculatorSetupError`."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise CalculatorSetupError(
            f"device must be a torch device such as 'cpu' or 'cuda', got {device!r}"
        ) from exc
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise CalculatorSetupError(
            f"device={device!r} but CUDA is not available here; use device='cpu'"
        )
    return parsed


class ModelServer:
    """Resolve a model spec into served properties and load models on demand.

    Parameters
    ----------
    spec : model spec
        See the module docstring.
    device : str or torch.device
    dtype : {"float32", "float64"}

    Attributes
    ----------
    served : dict of str -> Served
        One entry per property.
    """

    def __init__(self, spec: Any, device: Any = "cpu", dtype: Any = "float32") -> None:
        self.device = parse_device(device)
        self.dtype = parse_dtype(dtype)
        self._specs: dict[str, Any] = {}
        self._models: dict[str, Any] = {}
        self.served: dict[str, Served] = {}
        if spec is None:
            spec = DEFAULT_MODELS
        if isinstance(spec, Mapping):
            if not spec:
                raise CalculatorSetupError("model mapping is empty; map at least one property")
            for prop, item in spec.items():
                if prop not in PROPERTIES:
                    raise CalculatorSetupError(
                        f"model mapping names unknown property {prop!r}; known properties: "
                        f"{', '.join(PROPERTIES)}"
                    )
                self._add(item, prop)
        else:
            self._add(spec, None)

    # -- resolution ---------------------------------------------------------
    def _add(self, item: Any, prop: str | None) -> None:
        if isinstance(item, (str, Path)) and str(item) in _PUBLISHED_TARGETS:
            key = str(item)
            target, units, transform = _PUBLISHED_TARGETS[key]
            self._specs[key] = key
            # The published models are pool-readout, single-target regressions.
            self._serve(key, [target], prop, False, False, [units], [transform])
            return
        if isinstance(item, (str, Path)) and str(item) == "semi-metal-classification":
            raise CalculatorSetupError(
                "model 'semi-metal-classification' is a classifier; the calculator serves "
                "regression models only — use asegraph.models.inference for its probabilities"
            )
        model = self._load(item)
        key = f"model-{len(self._models)}"
        self._models[key] = model
        config = model.config
        if config.task != "regression":
            raise CalculatorSetupError(
                f"model for {prop or 'the calculator'} is a {config.task} model; the calculator "
                "serves regression models only"
            )
        self._serve(
            key,
            list(config.targets),
            prop,
            per_atom=config.readout == "site",
            ensemble=hasattr(model, "members"),
            units=list(config.units),
            transforms=list(config.target_transform),
        )

    def _serve(self, key, targets, prop, per_atom, ensemble, units, transforms=None) -> None:
        transforms = transforms or ["none"] * len(targets)
        if prop is None:
            pairs = [
                (TARGET_PROPERTIES[t], k) for k, t in enumerate(targets) if t in TARGET_PROPERTIES
            ]
            if not pairs:
                raise CalculatorSetupError(
                    f"model predicts {targets}, none of which the calculator knows "
                    f"({', '.join(TARGET_PROPERTIES)}); say what it predicts with a mapping, "
                    "e.g. CGCNNCalculator(model={'energy': model})"
                )
        else:
            if prop in [TARGET_PROPERTIES.get(t) for t in targets]:
                index = [TARGET_PROPERTIES.get(t) for t in targets].index(prop)
            elif len(targets) == 1:
                index = 0
            else:
                raise CalculatorSetupError(
                    f"model for {prop!r} predicts several targets {targets}; none is named "
                    f"for {prop!r} — train it with a target named after the property"
                )
            pairs = [(prop, index)]
        for name, index in pairs:
            if PROPERTIES[name][2] and units[index] != "eV/atom":
                raise CalculatorSetupError(
                    f"model for {name!r} predicts {targets[index]!r} in {units[index]!r}, expected "
                    "'eV/atom' (CGCNN predicts per-atom energies; set config.units)"
                )
            if name == "energy" and transforms[index] != "none":
                raise CalculatorSetupError(
                    f"model for 'energy' predicts {transforms[index]} of the energy; forces need "
                    "the energy itself (target_transform 'none')"
                )
            if name in self.served:
                raise CalculatorSetupError(
                    f"two models serve {name!r}; give one model per property"
                )
            self.served[name] = Served(name, key, index, per_atom and name == "energy", ensemble)

    def _load(self, item: Any) -> Any:
        from asegraph.models.cgcnn import CGCNN
        from asegraph.models.ensemble import Ensemble
        from asegraph.models.loader import load

        if isinstance(item, (CGCNN, Ensemble)):
            model = copy.deepcopy(item)  # never change the caller's model
        elif isinstance(item, (str, Path)):
            try:
                model = load(item)
            except (AsegraphError, FileNotFoundError) as exc:
                raise CalculatorSetupError(f"model {str(item)!r}: {exc}") from exc
        else:
            raise CalculatorSetupError(
                f"model must be a name, a path, a CGCNN, an Ensemble or a mapping property -> "
                f"model, got {type(item).__name__}"
            )
        return model.to(device=self.device, dtype=self.dtype).eval()

    # -- access -------------------------------------------------------------
    def model(self, prop: str) -> Any:
        """The model serving ``prop``, loading it if it is a registry name."""
        key = self.served[prop].key
        if key not in self._models:
            from asegraph.models.registry import load_pretrained

            try:
                loaded = load_pretrained(self._specs[key])
            except (AsegraphError, FileNotFoundError) as exc:
                raise CalculatorSetupError(f"model {key!r} for {prop!r}: {exc}") from exc
            self._models[key] = loaded.to(device=self.device, dtype=self.dtype).eval()
        return self._models[key]

    def implemented_properties(self) -> list[str]:
        """Every property the served models compute, in a fixed order."""
        names: list[str] = []
        for prop, served in self.served.items():
            if prop == "energy":
                names += ["energy", "free_energy", "forces", "stress"]
                names += ["energies"] if served.per_atom else []
            else:
                names.append(prop)
            if served.ensemble:
                names.append(f"{prop}_std")
                if prop == "energy" and served.per_atom:
                    names.append("energies_std")
        return names
