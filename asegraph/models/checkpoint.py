"""Model files: asegraph's own format and the import of original CGCNN checkpoints.

asegraph format
    A ``torch.save`` of plain data only — ``{"format": "asegraph.cgcnn",
    "format_version": 1, "asegraph_version": str, "config": dict,
    "state_dict": {name: tensor}, "metadata": dict}`` — so it loads with
    ``torch.load(weights_only=True)`` and never runs code from the file. The
    config records the graph settings (cutoff, max_neighbors, tie rule,
    Gaussian expansion), the atom feature table (in the state dict), the task,
    target names, units and transforms; the normaliser is in the state dict.

Original CGCNN ``.pth.tar``
    A pickled dict with ``state_dict``, ``normalizer``, ``args`` (plain dict)
    and, in ``semi-metal-classification``, a numpy float64 scalar. It is read
    with ``weights_only=True`` plus an allowance for exactly the numpy scalar
    reconstruction (``numpy.core.multiarray.scalar`` and the float64 dtype).
    Imported models use the original's neighbour rule (``ties="truncate"``)
    and need the ``atom_init.json`` they were trained with.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asegraph import __version__
from asegraph._utils.files import atomic_write_bytes
from asegraph.exceptions import ModelFileError
from asegraph.graph.features import AtomFeatureTable
from asegraph.models.cgcnn import CGCNN, CGCNNConfig

FORMAT = "asegraph.cgcnn"
FORMAT_VERSION = 1


def atom_table_from_state(config: CGCNNConfig, state: dict) -> AtomFeatureTable | None:
    """The fixed atom-feature table a state dict carries, or None for learned embeddings.

    Parameters
    ----------
    config : CGCNNConfig
    state : dict
        ``CGCNN.state_dict()``; a table model holds ``atom_table`` [Z_max + 1, F]
        and ``atom_known`` [Z_max + 1].
    """
    if config.atom_features != "table":
        return None
    return AtomFeatureTable(
        state["atom_table"].double().numpy(), state["atom_known"].numpy(), config.atom_table_name
    )


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(model: CGCNN, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``path`` atomically (temporary file + rename).

    ``metadata`` defaults to ``model.metadata`` (what it was trained on, ...).
    """
    if metadata is None:
        metadata = getattr(model, "metadata", {})
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "asegraph_version": __version__,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": dict(metadata or {}),
    }
    atomic_write_bytes(path, lambda handle: torch.save(payload, handle))
    return Path(path)


def load_failure(exc: Exception) -> str:
    """One line (at most 200 characters) saying why ``torch.load`` failed.

    torch's own text runs over several lines and, for a weights-only load,
    advises ``weights_only=False``, which would run code from the file.
    """
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if text.startswith("Weights only load failed"):
        text = "it holds objects other than tensors and plain data, or is no torch file"
    return text[:200]


def _torch_load(path: Path, safe_globals: list | None = None) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"model file '{path}' does not exist; check the path")
    try:
        if safe_globals:
            with torch.serialization.safe_globals(safe_globals):
                return torch.load(path, map_location="cpu", weights_only=True)
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure to unpickle means a bad file
        raise ModelFileError(
            f"model file '{path}' could not be read safely ({load_failure(exc)}); the file is "
            "corrupt, truncated or not a model file — download it again or re-save it"
        ) from exc


def load_model(path: str | Path) -> CGCNN:
    """Load a model file written by :func:`save_model` (never unpickles code).

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelFileError
        Corrupt file, or not an asegraph model (original CGCNN checkpoints are
        named in the message with the command that converts them).
    """
    path = Path(path)
    payload = _torch_load(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        if isinstance(payload, dict) and "state_dict" in payload and "args" in payload:
            raise ModelFileError(
                f"model file '{path}' is an original CGCNN checkpoint, not an asegraph model; "
                f"convert it with: asegraph convert {path} model.pt --atom-init atom_init.json"
            )
        raise ModelFileError(
            f"model file '{path}' is not an asegraph model (expected format {FORMAT!r}); "
            "pass a file written by asegraph"
        )
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"model file '{path}' has format version {payload['format_version']}, newer than "
            f"this asegraph reads ({FORMAT_VERSION}); upgrade asegraph"
        )
    return model_from_state(
        payload["config"],
        payload["state_dict"],
        payload.get("metadata", {}),
        f"model file '{path}'",
    )


def model_from_state(
    config: dict[str, Any], state: dict[str, torch.Tensor], metadata: dict[str, Any], label: str
) -> CGCNN:
    """Rebuild a :class:`CGCNN` (eval mode) from a stored config and state dict.

    ``label`` names the source in the error raised when the weights do not
    fit the config.
    """
    config = dict(config)
    legacy = (metadata or {}).get("envelope")
    if legacy and "envelope" not in config:  # files of asegraph <= 0.1 kept it in metadata
        config.update(
            envelope=True,
            envelope_cutoff=float(legacy["cutoff"]),
            envelope_exponent=int(legacy["exponent"]),
        )
    config = CGCNNConfig.from_dict(config)
    table = atom_table_from_state(config, state)
    model = CGCNN(config, table)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelFileError(
            f"{label}: weights do not match its config ({str(exc)[:200]}); "
            "the file is corrupt — re-save it"
        ) from exc
    model.metadata = {k: v for k, v in metadata.items() if k != "envelope"}
    return model.eval()


def _numpy_scalar_globals() -> list:
    """The globals a pickled numpy float64 scalar needs (numpy 1.x and 2.x names)."""
    allowed: list = [np.dtype, type(np.dtype(np.float64))]
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    allowed.append(scalar)
    # Checkpoints pickled under numpy 1.x name the module "numpy.core.multiarray".
    allowed.append((scalar, "numpy.core.multiarray.scalar"))
    return allowed


#: Target names and units of the published Materials Project models.
PUBLISHED_TARGETS = {
    "formation_energy_per_atom": ("formation_energy_per_atom", "eV/atom", "none"),
    "final_energy_per_atom": ("energy_per_atom", "eV/atom", "none"),
    "band_gap": ("band_gap", "eV", "none"),
    "efermi": ("efermi", "eV", "none"),
    "bulk_moduli": ("bulk_modulus", "GPa", "log10"),
    "shear_moduli": ("shear_modulus", "GPa", "log10"),
    "poisson_ratio": ("poisson_ratio", "", "none"),
    "metal_semi": ("metal", "", "none"),
}


def import_original(checkpoint: str | Path, atom_init: str | Path) -> CGCNN:
    """Import an original CGCNN ``.pth.tar`` checkpoint.

    Parameters
    ----------
    checkpoint : path
        The ``.pth.tar`` file of the original implementation.
    atom_init : path
        The ``atom_init.json`` the model was trained with.

    Returns
    -------
    CGCNN
        In eval mode, serving the original neighbour rule (``ties="truncate"``,
        12 neighbours within 8 Å, Gaussians 0..8 Å every 0.2 Å).
    """
    checkpoint = Path(checkpoint)
    payload = _torch_load(checkpoint, _numpy_scalar_globals())
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise ModelFileError(
            f"checkpoint '{checkpoint}' is not an original CGCNN checkpoint (no 'state_dict'); "
            "pass a .pth.tar file written by the original cgcnn code"
        )
    state = payload["state_dict"]
    args = payload.get("args", {})
    args = args if isinstance(args, dict) else vars(args)
    table = AtomFeatureTable.from_atom_init(atom_init)
    try:
        embed_in = state["embedding.weight"].shape[1]
        atom_dim = state["embedding.weight"].shape[0]
        n_gauss = state["convs.0.fc_full.weight"].shape[1] - 2 * atom_dim
        n_conv = len({k.split(".")[1] for k in state if k.startswith("convs.")})
        hidden = state["conv_to_fc.weight"].shape[0]
        n_hidden = 1 + len({k.split(".")[1] for k in state if k.startswith("fcs.")})
        n_out = state["fc_out.weight"].shape[0]
    except (KeyError, IndexError, AttributeError) as exc:
        raise ModelFileError(
            f"checkpoint '{checkpoint}': weights are not those of a CGCNN model (missing {exc}); "
            "pass a checkpoint of the original cgcnn code"
        ) from exc
    if embed_in != table.n_features:
        raise ModelFileError(
            f"checkpoint '{checkpoint}' expects {embed_in} atom features but '{atom_init}' has "
            f"{table.n_features}; pass the atom_init.json the model was trained with"
        )
    task = args.get(
        "task", "classification" if n_out == 2 and "metal" in str(args) else "regression"
    )
    data_options = args.get("data_options", [])
    raw_target = str(data_options[-1]) if data_options else "target"
    name, unit, transform = PUBLISHED_TARGETS.get(raw_target, (raw_target, "", "none"))
    stop = (n_gauss - 1) * 0.2
    config = CGCNNConfig(
        task=task,
        targets=[name],
        units=[unit],
        target_transform=[transform],
        classes=["non-metal", "metal"] if task == "classification" else [],
        atom_features="table",
        atom_dim=atom_dim,
        conv="gated",
        n_conv=n_conv,
        n_hidden=n_hidden,
        hidden_dim=hidden,
        readout="pool",
        cutoff=8.0,
        max_neighbors=12,
        ties="truncate",
        gaussian={"start": 0.0, "stop": stop, "step": 0.2, "width": 0.2},
    )
    model = CGCNN(config, table)
    missing, unexpected = model.load_state_dict(state, strict=False)
    allowed_missing = {"atom_table", "atom_known", "target_mean", "target_std", "gaussian.centres"}
    if set(missing) - allowed_missing or unexpected:
        raise ModelFileError(
            f"checkpoint '{checkpoint}': unexpected weights {sorted(unexpected)[:5]} or missing "
            f"{sorted(set(missing) - allowed_missing)[:5]}; it is not a supported CGCNN variant"
        )
    if task == "regression":
        normalizer = payload.get("normalizer", {"mean": 0.0, "std": 1.0})
        model.set_normalizer([float(normalizer["mean"])], [float(normalizer["std"])])
    model.metadata = {
        "imported_from": checkpoint.name,
        "source_sha256": sha256(checkpoint),
        "original_args": {k: v for k, v in args.items() if isinstance(v, (int, float, str))},
    }
    return model.eval()
