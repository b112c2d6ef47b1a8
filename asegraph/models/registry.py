"""The published CGCNN models (Xie & Grossman, PRL 120, 145301), by name.

Each model is the original authors' checkpoint, trained on the Materials
Project, together with the ``atom_init.json`` it was trained with. Files are
looked up, in order:

1. every folder in ``$ASEGRAPH_MODEL_DIR`` (separated by ``os.pathsep``);
2. the user cache folder (``$XDG_CACHE_HOME/asegraph/models``, by default
   ``~/.cache/asegraph/models``);
3. the public address below, downloaded into the cache.

Every file's SHA-256 is checked against the published checkpoint's before it
is loaded; a file that differs is refused.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from asegraph._utils.files import atomic_write_bytes
from asegraph.exceptions import ModelFileError, ModelNotFoundError
from asegraph.models.cgcnn import CGCNN
from asegraph.models.checkpoint import import_original, sha256

_BASE_URL = "https://raw.githubusercontent.com/txie-93/cgcnn/master"


@dataclass(frozen=True)
class PublishedFile:
    """A file of the published models: its name, address and SHA-256."""

    filename: str
    url: str
    sha256: str


@dataclass(frozen=True)
class PretrainedModel:
    """One published model: its checkpoint and what it predicts."""

    name: str
    checkpoint: PublishedFile
    description: str


ATOM_INIT = PublishedFile(
    "atom_init.json",
    f"{_BASE_URL}/data/sample-regression/atom_init.json",
    "cb90bd2257dbf8cfc4e6b2b6d4348d4616e8e9680f1339b1461137032e0f1894",
)

_CHECKSUMS = {
    "formation-energy-per-atom": (
        "e2f8bb910744f2c2f21d968285b6fd4316d795d0f3e7465ed0e3b4f3c92651a1",
        "formation energy, eV/atom",
    ),
    "final-energy-per-atom": (
        "1afe9260a0b7bd01d2a0a752fbac12be5badea6a56e57aeea5877ae8f9a32c57",
        "absolute (DFT total) energy, eV/atom",
    ),
    "band-gap": (
        "d269775b9be0995c046abed3dd6556c281a3eff7b2e1d73cf81b99e2a1d4aa6c",
        "band gap, eV",
    ),
    "efermi": (
        "5ed4ba15b5bd3e04ce6b0eca75f15bb6465557aada4097f11291ea1e7cd48afb",
        "Fermi energy, eV",
    ),
    "bulk-moduli": (
        "0a3f66b9a0ee6acef11bb852717424a6c3560073239c17bdbea568cc43816dd3",
        "log10 of the VRH bulk modulus in GPa",
    ),
    "shear-moduli": (
        "34173bc59a0a8f9f74021155b304b74d9e709b1ff241d3f02e83031c9deb216c",
        "log10 of the VRH shear modulus in GPa",
    ),
    "poisson-ratio": (
        "8d152338550b49ff6c3790cccdb892ee8bafe513bc49ab21955cdf7807e89513",
        "Poisson ratio",
    ),
    "semi-metal-classification": (
        "3791d48885afafb28c0797e22637b63ea591cf7fb27497ce537911261b92edc8",
        "probability of being a metal (class 1) vs semiconductor (class 0)",
    ),
}

PRETRAINED: dict[str, PretrainedModel] = {
    name: PretrainedModel(
        name,
        PublishedFile(f"{name}.pth.tar", f"{_BASE_URL}/pre-trained/{name}.pth.tar", digest),
        description,
    )
    for name, (digest, description) in _CHECKSUMS.items()
}


def model_dirs() -> list[Path]:
    """Folders searched for published files, in order (the cache last)."""
    dirs = [Path(p) for p in os.environ.get("ASEGRAPH_MODEL_DIR", "").split(os.pathsep) if p]
    return [*dirs, cache_dir()]


def cache_dir() -> Path:
    """The user cache folder for downloaded models."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "asegraph" / "models"


def _verified(path: Path, expected: PublishedFile) -> Path:
    digest = sha256(path)
    if digest != expected.sha256:
        raise ModelFileError(
            f"model file '{path}' has SHA-256 {digest[:16]}…, expected {expected.sha256[:16]}… "
            f"for {expected.filename}; the file is corrupt or a different version — delete it "
            f"and download it again from {expected.url}"
        )
    return path


def fetch(published: PublishedFile, download: bool = True) -> Path:
    """Find (or download into the cache) a published file and verify its checksum.

    Raises
    ------
    ModelNotFoundError
        Not on disk, and the download is disabled or fails (offline).
    ModelFileError
        A file was found but its checksum differs.
    """
    searched = model_dirs()
    for folder in searched:
        candidate = folder / published.filename
        if candidate.is_file():
            return _verified(candidate, published)
    reason = "downloads disabled"
    if download and os.environ.get("ASEGRAPH_OFFLINE", "") not in ("1", "true", "yes"):
        target = cache_dir() / published.filename
        try:
            with urllib.request.urlopen(published.url, timeout=30) as response:
                data = response.read()
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = f"download from {published.url} failed: {exc}"
        else:
            atomic_write_bytes(target, lambda handle: handle.write(data))
            try:
                return _verified(target, published)
            except ModelFileError:
                target.unlink(missing_ok=True)
                raise
    else:
        reason = "offline (ASEGRAPH_OFFLINE is set)" if download else reason
    raise ModelNotFoundError(
        f"{published.filename} is not on disk (looked in {', '.join(map(str, searched))}) and "
        f"could not be fetched ({reason}); download {published.url} elsewhere and put it in a "
        "folder named by $ASEGRAPH_MODEL_DIR"
    )


def load_pretrained(name: str, download: bool = True) -> CGCNN:
    """Load a published model by name (see :data:`PRETRAINED`), checksum-verified.

    Each call returns a fresh model (importing takes milliseconds).
    """
    if name not in PRETRAINED:
        raise ModelNotFoundError(
            f"unknown pretrained model {name!r}; available: {', '.join(PRETRAINED)}"
        )
    entry = PRETRAINED[name]
    checkpoint = fetch(entry.checkpoint, download)
    atom_init = fetch(ATOM_INIT, download)
    model = import_original(checkpoint, atom_init)
    model.metadata["pretrained_name"] = name
    return model
