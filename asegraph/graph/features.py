"""Atom and edge features of the crystal graph (thesis Table 2.1 and Eq. 2.2).

Atom features
-------------
:class:`AtomFeatureTable` maps an atomic number to a fixed vector. Two
sources:

* :meth:`AtomFeatureTable.from_atom_init` reads the original CGCNN
  ``atom_init.json`` format (``{"Z": [features...]}``); imported published
  models are served with the table they were trained with.
* :meth:`AtomFeatureTable.table21` builds the one-hot encoding of thesis
  Table 2.1 for Z = 1..100 from element data:

  ===========================  ==========  ===========  =====================================
  property                     categories  range        source
  ===========================  ==========  ===========  =====================================
  group                        18          1..18        pymatgen ``Element.group``
  period                       9           1..9         pymatgen ``Element.row``
  electronegativity (Pauling)  10          0.5–4.0      pymatgen ``Element.X``
  covalent radius, pm          10          25–250       ASE ``covalent_radii`` (Cordero 2008)
  valence electrons            12          1..12        group (g ≤ 12) or g − 10; He: 2
  ln first ionisation, eV      10          1.3–3.3      pymatgen ``ionization_energies[0]``
  electron affinity, eV        10          −3–3.7       pymatgen ``Element.electron_affinity``
  block                        4           s, p, d, f   pymatgen ``Element.block``
  ln atomic volume, cm³/mol    10          1.5–4.3      pymatgen ``Element.molar_volume``
  ===========================  ==========  ===========  =====================================

  Continuous properties fall into equal-width bins over the range (values
  outside go to the end bins); a missing value leaves its block all zero.
  That makes 93 features. The published ``atom_init.json`` has 92 (19 group
  slots, 7 period slots) and was built from other element tables, so the two
  are not interchangeable: a model must be served with the table it was
  trained with, which is why model files store it.

A learned per-element embedding (thesis ch. 3.2) lives in the model, see
:class:`asegraph.models.cgcnn.CGCNN` with ``atom_features="embedding"``.

Edge features
-------------
:class:`GaussianDistance` expands a distance on Gaussians (Eq. 2.2).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import torch

from asegraph.exceptions import InputFileError

#: Number of elements covered by :meth:`AtomFeatureTable.table21`.
TABLE21_MAX_Z = 100

_CONTINUOUS_BINS = {  # name: (low, high, n_bins)
    "electronegativity": (0.5, 4.0, 10),
    "covalent_radius": (25.0, 250.0, 10),
    "log_ionization_energy": (1.3, 3.3, 10),
    "electron_affinity": (-3.0, 3.7, 10),
    "log_atomic_volume": (1.5, 4.3, 10),
}


class AtomFeatureTable:
    """A lookup table from atomic number to atom feature vector.

    Parameters
    ----------
    table : ndarray, shape (Z_max + 1, F)
        Row ``Z`` holds the features of element ``Z``; row 0 is unused.
    known : ndarray of bool, shape (Z_max + 1,)
        Which rows hold real data.
    name : str
        Where the table came from (stored in model files).
    """

    def __init__(self, table: np.ndarray, known: np.ndarray, name: str) -> None:
        self.table = np.asarray(table, dtype=np.float64)
        self.known = np.asarray(known, dtype=bool)
        self.name = name

    @property
    def n_features(self) -> int:
        return int(self.table.shape[1])

    @classmethod
    def from_atom_init(cls, path: str | Path) -> AtomFeatureTable:
        """Read the original CGCNN ``atom_init.json`` (``{"Z": [f_1, ..., f_F]}``)."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
            items = {int(k): np.asarray(v, dtype=np.float64) for k, v in raw.items()}
        except FileNotFoundError:
            raise
        except (ValueError, TypeError, AttributeError) as exc:
            raise InputFileError(
                f"atom feature file '{path}': expected a JSON object mapping atomic numbers to "
                f"equal-length lists of numbers (CGCNN atom_init.json), could not read it: {exc}"
            ) from exc
        lengths = {len(v) for v in items.values()}
        if not items or len(lengths) != 1 or min(items) < 1:
            raise InputFileError(
                f"atom feature file '{path}': expected equal-length feature lists keyed by "
                f"atomic numbers >= 1, got keys {sorted(items)[:5]}... "
                f"and lengths {sorted(lengths)}"
            )
        table = np.zeros((max(items) + 1, lengths.pop()))
        known = np.zeros(max(items) + 1, dtype=bool)
        for z, vector in items.items():
            table[z] = vector
            known[z] = True
        return cls(table, known, name=f"atom_init:{path.name}")

    @classmethod
    def table21(cls) -> AtomFeatureTable:
        """The one-hot encoding of thesis Table 2.1 for Z = 1..100 (93 features)."""
        blocks = [_element_properties(z) for z in range(1, TABLE21_MAX_Z + 1)]
        table = np.zeros((TABLE21_MAX_Z + 1, len(blocks[0])))
        table[1:] = blocks
        known = np.ones(TABLE21_MAX_Z + 1, dtype=bool)
        known[0] = False
        return cls(table, known, name="table2.1")


def _one_hot(index: int | None, size: int) -> np.ndarray:
    vector = np.zeros(size)
    if index is not None:
        vector[index] = 1.0
    return vector


def _binned(value: float | None, low: float, high: float, n_bins: int) -> np.ndarray:
    if value is None or not math.isfinite(value):
        return np.zeros(n_bins)
    index = int(np.clip(math.floor((value - low) / (high - low) * n_bins), 0, n_bins - 1))
    return _one_hot(index, n_bins)


def _element_properties(z: int) -> np.ndarray:
    from ase.data import covalent_radii
    from pymatgen.core.periodic_table import Element

    with warnings.catch_warnings():  # pymatgen warns for every missing datum
        warnings.simplefilter("ignore")
        element = Element.from_Z(z)
        group, period = int(element.group), int(element.row)
        electronegativity = float(element.X)
        ionization = element.ionization_energies[0] if element.ionization_energies else None
        affinity = element.electron_affinity
        volume = element.molar_volume
        block = str(element.block)
    valence = 2 if z == 2 else (group if group <= 12 else group - 10)

    def log(x) -> float | None:
        return math.log(float(x)) if x is not None and float(x) > 0 else None

    values = {
        "electronegativity": electronegativity,
        "covalent_radius": float(covalent_radii[z]) * 100.0,  # Å -> pm
        "log_ionization_energy": log(ionization),
        "electron_affinity": float(affinity) if affinity is not None else None,
        "log_atomic_volume": log(volume),
    }
    parts = [_one_hot(group - 1, 18), _one_hot(period - 1, 9)]
    parts += [
        _binned(values[k], *_CONTINUOUS_BINS[k]) for k in ("electronegativity", "covalent_radius")
    ]
    parts.append(_one_hot(valence - 1, 12))
    parts += [
        _binned(values[k], *_CONTINUOUS_BINS[k])
        for k in ("log_ionization_energy", "electron_affinity")
    ]
    parts.append(_one_hot("spdf".index(block), 4))
    parts.append(_binned(values["log_atomic_volume"], *_CONTINUOUS_BINS["log_atomic_volume"]))
    return np.concatenate(parts)


class GaussianDistance(torch.nn.Module):
    """Gaussian expansion of distances (thesis Eq. 2.2).

    ``u[t] = exp(-(d - mu_t)**2 / width**2)`` with centres
    ``mu_t = start, start + step, ..., stop`` (inclusive).

    Parameters
    ----------
    start, stop, step : float, Å
        Centres; the defaults give the 41 centres 0, 0.2, ..., 8.0 Å.
    width : float, Å
        The sigma of Eq. 2.2.
    """

    def __init__(
        self, start: float = 0.0, stop: float = 8.0, step: float = 0.2, width: float = 0.2
    ) -> None:
        super().__init__()
        if step <= 0 or width <= 0 or stop <= start:
            raise ValueError(
                f"GaussianDistance needs stop > start and positive step and width, got "
                f"start={start}, stop={stop}, step={step}, width={width}"
            )
        n_centres = int(math.floor((stop - start) / step + 1e-9)) + 1
        self.register_buffer("centres", start + step * torch.arange(n_centres, dtype=torch.float64))
        self.width = float(width)
        self.settings = {"start": start, "stop": stop, "step": step, "width": width}

    @property
    def n_features(self) -> int:
        return int(self.centres.shape[0])

    def forward(self, distances: torch.Tensor) -> torch.Tensor:
        """Distances [E] (Å) -> features [E, n_centres]."""
        centres = self.centres.to(distances.dtype)
        # Far tails underflow to denormal floats, on which exp and the matrix products
        # that follow (feature x weight) run ~10x slower. Clamping at sqrt(smallest normal)
        # keeps features and their products normal and changes a feature by at most
        # 1e-19 in float32 (1e-154 in float64): far below float precision.
        floor = 0.5 * math.log(torch.finfo(distances.dtype).tiny)
        exponent = distances[:, None] - centres  # [E, n_centres], Å
        if distances.requires_grad:
            return torch.exp(torch.clamp(exponent.square() / -(self.width**2), min=floor))
        exponent.square_().div_(-(self.width**2)).clamp_(min=floor)
        return exponent.exp_()
