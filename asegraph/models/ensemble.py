"""Ensembles of CGCNN models: mean, spread and every member's prediction (thesis ch. 2.5).

An :class:`Ensemble` is a list of :class:`~asegraph.models.cgcnn.CGCNN` models
that predict the same targets from the same crystal graph (same cutoff,
neighbour rule, atom feature table and target transforms). It is itself an
``nn.Module`` and quacks like a ``CGCNN`` where the inference helpers need it
(``config``, ``atom_known``, parameters for the dtype and device), so
:func:`~asegraph.models.inference.model_graphs` and
:func:`~asegraph.models.inference.model_batch` accept it unchanged.

The uncertainty of the thesis (ch. 2.5) is the spread of the members, each
trained on a random part of the data; derived quantities (e.g. a modulus
from a log10 model, then a stability parameter) are computed per member and
the spread taken afterwards, which is why ``"y_members"`` is returned.

File format
-----------
One file written by :meth:`Ensemble.save` holds plain data only::

    {"format": "asegraph.ensemble", "format_version": 1,
     "asegraph_version": str, "metadata": dict,
     "members": [{"config": dict, "state_dict": {name: tensor},
                  "metadata": dict}, ...]}

so it loads with ``torch.load(weights_only=True)``. :meth:`Ensemble.load`
also accepts a folder of asegraph model files (``*.pt``, one per member,
loaded in sorted name order).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from asegraph import __version__
from asegraph.exceptions import ModelFileError, ParameterError
from asegraph.graph.batch import GraphBatch
from asegraph.models.cgcnn import CGCNN, CGCNNConfig

FORMAT = "asegraph.ensemble"
FORMAT_VERSION = 1

#: Config fields that every member must share: they fix the input graph and
#: the meaning of the outputs.
SHARED_FIELDS = (
    "task",
    "targets",
    "units",
    "target_transform",
    "classes",
    "readout",
    "cutoff",
    "max_neighbors",
    "ties",
    "atom_features",
    "atom_table_name",
    "envelope",
)


class Ensemble(nn.Module):
    """Several CGCNN models predicting the same targets from the same graph.

    Parameters
    ----------
    members : sequence of CGCNN
        At least one model. They must agree on :data:`SHARED_FIELDS` of their
        configs (graph settings, targets, units, transforms, readout); their
        architectures (widths, number of convolutions) may differ.
    metadata : dict, optional
        Free-form information saved with the ensemble (e.g. how the members
        were trained).

    Attributes
    ----------
    members : nn.ModuleList of CGCNN
    config : CGCNNConfig
        The first member's config; the graph settings of every member.

    Notes
    -----
    Statistics are taken in the space the members predict in (log10 of the
    quantity for ``target_transform == "log10"``); the standard deviation is
    the population one (``ddof=0``). For a spread in physical units
    transform ``"y_members"`` first, as
    :class:`~asegraph.calculators.cgcnn.CGCNNCalculator` does.

    Examples
    --------
    >>> ensemble = Ensemble([model_a, model_b, model_c])  # doctest: +SKIP
    >>> out = ensemble(batch)                              # doctest: +SKIP
    >>> out["y"], out["y_std"], out["y_members"].shape     # doctest: +SKIP
    """

    def __init__(self, members: Sequence[CGCNN], metadata: dict[str, Any] | None = None) -> None:
        super().__init__()
        members = list(members)
        if not members:
            raise ParameterError("Ensemble needs at least one member model, got none")
        for k, member in enumerate(members):
            if not isinstance(member, CGCNN):
                raise ParameterError(
                    f"ensemble member {k} is a {type(member).__name__}, expected a CGCNN model; "
                    "load model files first (asegraph.models.checkpoint.load_model)"
                )
        first = members[0].config
        for k, member in enumerate(members[1:], start=1):
            for name in SHARED_FIELDS:
                mine, theirs = getattr(member.config, name), getattr(first, name)
                if mine != theirs:
                    raise ParameterError(
                        f"ensemble member {k} has {name}={mine!r} but member 0 has {theirs!r}; "
                        "members must share graph settings, targets, units and readout"
                    )
            if not torch.equal(member.atom_known, members[0].atom_known):
                raise ParameterError(
                    f"ensemble member {k} covers other elements than member 0; members must "
                    "share one atom feature table"
                )
        self.members = nn.ModuleList(members)
        self.metadata: dict[str, Any] = dict(metadata or {})

    def __len__(self) -> int:
        return len(self.members)

    @property
    def config(self) -> CGCNNConfig:
        """The first member's config (graph settings shared by every member)."""
        return self.members[0].config

    @property
    def atom_known(self) -> torch.Tensor:
        """Which atomic numbers the (shared) atom feature table covers, shape (Z_max + 1,)."""
        return self.members[0].atom_known

    def forward(
        self, batch: GraphBatch, from_positions: bool | None = None
    ) -> dict[str, torch.Tensor]:
        """Predict with every member.

        Parameters
        ----------
        batch : GraphBatch
            In the dtype and on the device of the members.
        from_positions : bool, optional
            As :meth:`CGCNN.forward` (edge lengths from positions and cell,
            so that autograd reaches them).

        Returns
        -------
        dict
            ``"y_members"`` [M, B, n_out] every member's ``"y"``;
            ``"y"`` [B, n_out] their mean; ``"y_std"`` [B, n_out] their
            standard deviation (``ddof=0``). Per-atom models
            (``readout="site"``) add ``"site_members"`` [M, N, n_targets],
            ``"site"`` and ``"site_std"`` [N, n_targets].
        """
        outs = [member(batch, from_positions) for member in self.members]
        result: dict[str, torch.Tensor] = {}
        for key in ("y", "site"):
            if key not in outs[0]:
                continue
            stacked = torch.stack([out[key] for out in outs])  # [M, B or N, n]
            result[f"{key}_members"] = stacked
            result[key] = stacked.mean(dim=0)
            result[f"{key}_std"] = stacked.std(dim=0, correction=0)
        return result

    # -- files ----------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the ensemble to one file, atomically (temporary file + rename).

        Parameters
        ----------
        path : path
            Target file (conventionally ``*.pt``).

        Returns
        -------
        Path
        """
        from asegraph._utils.files import atomic_write_bytes

        payload = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "asegraph_version": __version__,
            "metadata": dict(self.metadata),
            "members": [
                {
                    "config": member.config.to_dict(),
                    "state_dict": {k: v.detach().cpu() for k, v in member.state_dict().items()},
                    "metadata": dict(getattr(member, "metadata", {})),
                }
                for member in self.members
            ],
        }
        atomic_write_bytes(path, lambda handle: torch.save(payload, handle))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Ensemble:
        """Load an ensemble file written by :meth:`save`, or a folder of model files.

        Parameters
        ----------
        path : path
            An ensemble file, or a folder whose ``*.pt`` files are asegraph
            model files (one member each, in sorted name order).

        Returns
        -------
        Ensemble
            Members in eval mode, float32, on the CPU.

        Raises
        ------
        FileNotFoundError
            No such file or folder, or a folder without ``*.pt`` files.
        ModelFileError
            Corrupt file, or not an ensemble file.
        """
        from asegraph.models.checkpoint import _torch_load, load_model

        path = Path(path)
        if path.is_dir():
            files = sorted(path.glob("*.pt"))
            if not files:
                raise FileNotFoundError(
                    f"ensemble folder '{path}' has no *.pt model files; put one asegraph model "
                    "file per member in it"
                )
            return cls([load_model(f) for f in files], metadata={"loaded_from": str(path)})
        payload = _torch_load(path)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ModelFileError(
                f"ensemble file '{path}' is not an asegraph ensemble (expected format {FORMAT!r}); "
                "pass a file written by Ensemble.save or a folder of model files"
            )
        if payload.get("format_version", 0) > FORMAT_VERSION:
            raise ModelFileError(
                f"ensemble file '{path}' has format version {payload['format_version']}, newer "
                f"than this asegraph reads ({FORMAT_VERSION}); upgrade asegraph"
            )
        members = []
        for k, entry in enumerate(payload["members"]):
            members.append(_member_from_state(entry, f"ensemble file '{path}' member {k}"))
        return cls(members, metadata=payload.get("metadata", {}))


def _member_from_state(entry: dict[str, Any], label: str) -> CGCNN:
    from asegraph.models.checkpoint import model_from_state

    return model_from_state(entry["config"], entry["state_dict"], entry.get("metadata", {}), label)
