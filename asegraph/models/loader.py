"""The one way to load (and save) a model, whatever form it comes in.

Every entry point — ``asegraph predict``/``evaluate``/``convert``, the ASE
calculator, :func:`asegraph.calculators.predict.predict`, screening and
interpretation — loads models through :func:`load`, so a model file gives the
same network (envelope, graph settings, normaliser) everywhere.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from asegraph.exceptions import ModelNotFoundError

__all__ = ["load", "save"]


def load(spec: Any, atom_init: str | Path | None = None, download: bool = True) -> Any:
    """Load a CGCNN model or ensemble from any of the forms asegraph knows.

    Parameters
    ----------
    spec : str, path, CGCNN or Ensemble
        * a published model's name (``"band-gap"``, see
          :data:`asegraph.models.registry.PRETRAINED`), checksum-verified;
        * an asegraph model file (:func:`save`, ``asegraph train``);
        * an ensemble file (:meth:`Ensemble.save`) or a folder of model files
          (one ensemble member each);
        * an original CGCNN ``.pth.tar`` checkpoint;
        * an already loaded ``CGCNN``/``Ensemble``, returned as it is.
    atom_init : path, optional
        The ``atom_init.json`` an original ``.pth.tar`` was trained with;
        default the published one (that every published model used).
    download : bool
        Allow downloading published files into the cache.

    Returns
    -------
    CGCNN or Ensemble
        In eval mode, float32, on the CPU.

    Raises
    ------
    ModelNotFoundError
        ``spec`` is neither an existing path nor a published name.
    ModelFileError
        The file is corrupt or not a model file.
    """
    from asegraph.models.cgcnn import CGCNN
    from asegraph.models.checkpoint import import_original, load_model
    from asegraph.models.ensemble import Ensemble
    from asegraph.models.registry import ATOM_INIT, PRETRAINED, fetch, load_pretrained

    if isinstance(spec, (CGCNN, Ensemble)):
        return spec
    if not isinstance(spec, (str, Path)):
        raise ModelNotFoundError(
            f"model must be a published name, a path, a CGCNN or an Ensemble, got "
            f"{type(spec).__name__}"
        )
    text = str(spec)
    if text in PRETRAINED and not Path(spec).exists():
        return load_pretrained(text, download=download)
    path = Path(spec)
    if not path.exists():
        raise ModelNotFoundError(
            f"model {text!r} is neither a file nor a pretrained name; available names: "
            f"{', '.join(PRETRAINED)}"
        )
    if path.is_dir() or _is_ensemble_file(path):
        return Ensemble.load(path)
    if text.endswith(".pth.tar"):
        return import_original(path, atom_init or fetch(ATOM_INIT, download))
    return load_model(path)


def save(model: Any, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write a CGCNN model or an ensemble to one file, atomically; :func:`load` reads it.

    Parameters
    ----------
    model : CGCNN or Ensemble
    path : path
    metadata : dict, optional
        Stored with a single model (default: ``model.metadata``); an ensemble
        keeps its own ``metadata``.
    """
    from asegraph.models.checkpoint import save_model
    from asegraph.models.ensemble import Ensemble

    if isinstance(model, Ensemble):
        return model.save(path)
    return save_model(model, path, metadata=metadata)


def _is_ensemble_file(path: Path) -> bool:
    """True for a file written by ``Ensemble.save`` (checked from its stored format tag)."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
            data = archive.read(name)
    except (zipfile.BadZipFile, StopIteration, OSError, KeyError):
        return False
    return b"asegraph.ensemble" in data
