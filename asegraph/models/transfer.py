"""Reusing a trained CGCNN's parts: transfer learning, and one target of a multi-target model.

A model trained on a large dataset of one property (the published
formation-energy model saw ~28,000 Materials Project crystals) has learnt
atom and local-environment representations that a small dataset of another
property (3,553 elastic moduli, ch. 2.5.3) cannot learn as well on its own.
:func:`transfer_model` copies that model's *body* — element features and
atom embedding, the convolutions, and the settings they need (graph cutoff,
neighbours, Gaussian expansion) — into a new model whose *head* (pooling
layers and output, the normaliser) starts fresh for the new targets. Training
then fine-tunes every weight.

The thesis trains every model from random weights; this is a refinement, an
option (``asegraph train --init-from MODEL``), never the default.

:func:`select_target` cuts one target out of a multi-target regression model
or ensemble (e.g. shear and bulk moduli learnt together), so that code which
expects one property per model (the screening's ``--shear``/``--bulk``) can
use it; its predictions equal that column of the original's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from asegraph.exceptions import ParameterError
from asegraph.models.cgcnn import CGCNN, CGCNNConfig

__all__ = ["BODY_SETTINGS", "body_config", "select_target", "transfer_model"]

#: Config fields that belong to the body: they are taken from the source model.
BODY_SETTINGS = (
    "atom_features",
    "atom_table_name",
    "max_atomic_number",
    "n_atom_features",
    "atom_dim",
    "conv",
    "n_conv",
    "batch_norm",
    "cutoff",
    "max_neighbors",
    "ties",
    "gaussian",
    "envelope",
    "envelope_cutoff",
    "envelope_exponent",
)

# state-dict entries of the body (buffers and weights) that are copied
_BODY_STATE = (
    "atom_table",
    "atom_known",
    "embedding.",
    "element_embedding.",
    "gaussian.",
    "convs.",
)


def _source_model(source: Any) -> CGCNN:
    """The one model ``source`` names (anything :func:`asegraph.models.load` reads)."""
    import torch

    from asegraph.models.ensemble import Ensemble
    from asegraph.models.loader import load

    with torch.random.fork_rng():  # building the loaded model must not move the caller's seed
        model = load(source)
    if isinstance(model, Ensemble):
        raise ParameterError(
            f"init_from {source!r} is an ensemble of {len(model.members)} models; transfer "
            "learning starts from one model: pass one member's file or a published model's name"
        )
    return model


def body_config(config: CGCNNConfig, source: Any) -> CGCNNConfig:
    """``config`` with the body settings (:data:`BODY_SETTINGS`) of ``source``.

    Parameters
    ----------
    config : CGCNNConfig
        The new model's settings: task, targets, units, transform and head
        (``hidden_dim``, ``n_hidden``, ``n_hidden_atom``, ``readout``,
        ``dropout``) are kept.
    source : str, path or CGCNN
        The model to start from (a published name, a model file, ...).

    Returns
    -------
    CGCNNConfig
        A new config; graphs for it must be built with its ``cutoff``,
        ``max_neighbors`` and ``ties`` (the source's).
    """
    model = _source_model(source)
    taken = {name: getattr(model.config, name) for name in BODY_SETTINGS}
    return dataclasses.replace(config, **taken)


def transfer_model(config: CGCNNConfig, source: Any) -> CGCNN:
    """A new CGCNN with the body of ``source`` and a freshly initialised head.

    Parameters
    ----------
    config : CGCNNConfig
        Settings of the new model; its body settings are replaced by the
        source's (:func:`body_config`).
    source : str, path or CGCNN
        Model to start from, loaded with :func:`asegraph.models.load`.

    Returns
    -------
    CGCNN
        In training mode. Its head (``conv_to_fc``, ``fcs``, ``fc_out`` or
        ``fc_site``, ``atom_fcs``) has the random initial weights of
        ``CGCNN(config)`` under the caller's torch seed; the normaliser is the
        identity until the trainer sets it from the new targets.

    Raises
    ------
    ParameterError
        ``source`` is an ensemble.
    ModelNotFoundError, ModelFileError
        ``source`` cannot be loaded.
    """
    from asegraph.models.checkpoint import atom_table_from_state

    model = _source_model(source)
    config = body_config(config, model)
    state = model.state_dict()
    table = atom_table_from_state(config, state)
    new = CGCNN(config, table)
    body = {k: v for k, v in state.items() if k.startswith(_BODY_STATE)}
    missing, unexpected = new.load_state_dict(body, strict=False)
    assert not unexpected, unexpected  # same body settings: every body entry has a home
    assert not any(k.startswith(_BODY_STATE) for k in missing), missing
    new.metadata = {"init_from": _describe(source, model)}
    return new.train()


def _describe(source: Any, model: CGCNN) -> dict[str, Any]:
    """What the body came from, for the new model's metadata."""
    meta = getattr(model, "metadata", {}) or {}
    return {
        "source": str(source) if isinstance(source, (str, Path)) else type(source).__name__,
        "targets": list(model.config.targets),
        **{k: meta[k] for k in ("pretrained_name", "source_sha256") if k in meta},
    }


def select_target(model: Any, target: str) -> Any:
    """The single-target model (or ensemble) predicting ``target`` of a multi-target one.

    Parameters
    ----------
    model : CGCNN or Ensemble
        A regression model with ``target`` among its ``config.targets``.
    target : str
        The target to keep.

    Returns
    -------
    CGCNN or Ensemble
        Same weights, with the output layer, the normaliser and the target
        name, unit and transform of ``target`` only (eval mode). A model that
        already predicts ``target`` alone is returned as it is.

    Raises
    ------
    ParameterError
        ``target`` is not one of the model's targets, or the model is a classifier.
    """
    from asegraph.models.checkpoint import atom_table_from_state
    from asegraph.models.ensemble import Ensemble

    if isinstance(model, Ensemble) and model.config.targets != [target]:
        members = [select_target(m, target) for m in model.members]
        return Ensemble(members, metadata=dict(model.metadata or {}))
    config = model.config
    if config.task != "regression" or target not in config.targets:
        raise ParameterError(
            f"target {target!r} is not one of this {config.task} model's targets "
            f"{config.targets}; name one of them"
        )
    if config.targets == [target]:
        return model
    k = config.targets.index(target)
    new_config = dataclasses.replace(
        config,
        targets=[target],
        units=[config.units[k]],
        target_transform=[config.target_transform[k]],
    )
    state = model.state_dict()
    table = atom_table_from_state(config, state)
    out_layer = "fc_site" if config.readout == "site" else "fc_out"
    for name in (f"{out_layer}.weight", f"{out_layer}.bias", "target_mean", "target_std"):
        state[name] = state[name][k : k + 1]  # row k: the output and scale of that target
    new = CGCNN(new_config, table)
    new.load_state_dict(state)
    new.metadata = {**getattr(model, "metadata", {}), "selected_target": target}
    return new.eval()
