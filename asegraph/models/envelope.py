"""A smooth cutoff envelope for CGCNN models meant to be used as interatomic potentials.

Why
---
A published CGCNN sees the ``M = 12`` nearest neighbours of every atom. When
an atom's 12th and 13th neighbours swap places, an edge is replaced by
another whose sender has a different (convolved) atom vector, so the energy
*jumps*; the 8 Å cutoff is not smooth either (the Gaussian features of Eq.
2.2 do not vanish there). Between such events the energy is smooth and the
forces are its exact gradient, but across them energy is not conserved:
each swap during an NVE run adds a step to the total energy (see
``examples/calculator_nve.py``).

What
----
:func:`with_envelope` turns a :class:`~asegraph.models.cgcnn.CGCNN` into one
whose energy is twice continuously differentiable in the positions:

* every message ``m_ij`` of every convolution is multiplied by the
  polynomial envelope of Klicpera et al. (DimeNet, ICLR 2020),
  ``u(x) = 1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2)``
  for ``x = d / r_c < 1`` and 0 beyond, whose value and first two
  derivatives vanish at the cutoff ``r_c``; a neighbour entering or leaving
  the sphere then changes nothing;
* the graph must contain *every* neighbour within ``r_c`` (a radius graph):
  build the model with ``max_neighbors`` above the largest coordination
  within the cutoff (e.g. ``cutoff=4.5, max_neighbors=64``). The calculator
  warns when an atom's neighbour list is full, i.e. truncated.

The envelope is part of the model's configuration
(:class:`~asegraph.models.cgcnn.CGCNNConfig` ``envelope``,
``envelope_cutoff``, ``envelope_exponent``), so a saved model carries it and
every loader (:func:`asegraph.models.load`, the calculator, ``asegraph
predict``) rebuilds the same network. Train the model *with* the envelope
(``CGCNNConfig(envelope=True, ...)``, ``asegraph train --envelope``, or
:func:`with_envelope` before :class:`~asegraph.training.Trainer`); adding it
to a model trained without changes its predictions. The parameters are those
of the plain model (the state dict is unchanged).
"""

from __future__ import annotations

from typing import Any

import torch

from asegraph.exceptions import ParameterError
from asegraph.graph.features import GaussianDistance
from asegraph.models.layers import GatedConv, SimpleConv
from asegraph.models.scatter import scatter_sum


def polynomial_envelope(x: torch.Tensor, exponent: int = 6) -> torch.Tensor:
    """The DimeNet envelope ``u(x)``, 1 at 0, 0 (with two zero derivatives) at x >= 1.

    Parameters
    ----------
    x : Tensor, shape (E,)
        Distance over cutoff, dimensionless.
    exponent : int
        ``p``; larger values keep ``u`` near 1 longer.

    Returns
    -------
    Tensor, shape (E,)
    """
    p = float(exponent)
    inside = x < 1.0
    xc = torch.where(inside, x, torch.zeros_like(x))  # keeps gradients finite beyond 1
    value = (
        1.0
        - (p + 1) * (p + 2) / 2 * xc**exponent
        + p * (p + 2) * xc ** (exponent + 1)
        - p * (p + 1) / 2 * xc ** (exponent + 2)
    )
    return torch.where(inside, value, torch.zeros_like(x))


class EnvelopedGaussian(GaussianDistance):
    """Gaussian features (Eq. 2.2) with the envelope weight as one extra last column.

    The convolutions of :func:`with_envelope` split that column off and
    multiply their messages by it; the Gaussian centres are unchanged.

    Parameters
    ----------
    cutoff : float, Å
    exponent : int
    **settings
        ``start``, ``stop``, ``step``, ``width`` of :class:`GaussianDistance`.
    """

    def __init__(self, cutoff: float, exponent: int = 6, **settings: float) -> None:
        super().__init__(**settings)
        self.cutoff = float(cutoff)
        self.exponent = int(exponent)

    def forward(self, distances: torch.Tensor) -> torch.Tensor:
        """Distances [E] (Å) -> [E, n_centres + 1]: features, then the envelope weight."""
        features = super().forward(distances)  # [E, G]
        weight = polynomial_envelope(distances / self.cutoff, self.exponent)  # [E]
        return torch.cat([features, weight[:, None]], dim=1)


class SmoothGatedConv(GatedConv):
    """:class:`GatedConv` whose messages are multiplied by the envelope weight."""

    def forward(
        self, atoms: torch.Tensor, edges: torch.Tensor, edge_index: torch.Tensor
    ) -> torch.Tensor:
        """atoms [N, A], edges [E, G + 1] (last column: weight), edge_index [2, E] -> [N, A]."""
        features, weight = edges[:, :-1], edges[:, -1:]  # [E, G], [E, 1]
        senders, receivers = edge_index
        z = torch.cat([atoms[receivers], atoms[senders], features], dim=1)  # [E, 2A+G]
        gate, core = self.bn1(self.fc_full(z)).chunk(2, dim=1)  # [E, A] each
        messages = torch.sigmoid(gate) * self.softplus(core) * weight  # [E, A]
        summed = self.bn2(scatter_sum(messages, receivers, atoms.shape[0]))  # [N, A]
        return self.softplus(atoms + summed)


class SmoothSimpleConv(SimpleConv):
    """:class:`SimpleConv` whose messages are multiplied by the envelope weight."""

    def forward(
        self, atoms: torch.Tensor, edges: torch.Tensor, edge_index: torch.Tensor
    ) -> torch.Tensor:
        """atoms [N, A], edges [E, G + 1] (last column: weight), edge_index [2, E] -> [N, A]."""
        features, weight = edges[:, :-1], edges[:, -1:]
        senders, receivers = edge_index
        messages = self.neighbour(torch.cat([atoms[senders], features], dim=1)) * weight  # [E, A]
        summed = scatter_sum(messages, receivers, atoms.shape[0])  # [N, A]
        return self.softplus(self.bn(summed + self.self_weight(atoms)))


SMOOTH_CONVOLUTIONS = {GatedConv: SmoothGatedConv, SimpleConv: SmoothSimpleConv}


def has_envelope(model: Any) -> bool:
    """Whether ``model`` (a CGCNN, or every member of an ensemble) applies the envelope."""
    members = getattr(model, "members", [model])
    return all(isinstance(m.gaussian, EnvelopedGaussian) for m in members)


def with_envelope(model: Any, cutoff: float | None = None, exponent: int = 6) -> Any:
    """Give a CGCNN (or every member of an ensemble) a smooth cutoff envelope, in place.

    Sets ``envelope``, ``envelope_cutoff`` and ``envelope_exponent`` of the
    model's config and swaps the distance expansion and convolutions for their
    smooth versions (same parameters), exactly as ``CGCNN(config)`` would
    build them.

    Parameters
    ----------
    model : CGCNN or Ensemble
    cutoff : float, optional
        ``r_c`` in Å; default the model's graph cutoff ``config.cutoff``
        (it cannot exceed it: neighbours beyond it are not in the graph).
    exponent : int, default 6
        ``p`` of :func:`polynomial_envelope`.

    Returns
    -------
    The same model, for chaining.

    Raises
    ------
    ParameterError
        Cutoff not positive or above the graph cutoff, exponent < 2.
    """
    members = getattr(model, "members", [model])
    for member in members:
        config = member.config
        check_envelope(config.cutoff, cutoff, exponent)
        config.envelope = True
        config.envelope_cutoff = None if cutoff is None else float(cutoff)
        config.envelope_exponent = int(exponent)
        reference = next(member.parameters())
        member.gaussian = envelope_gaussian(config).to(device=reference.device)
        for conv in member.convs:
            smooth = SMOOTH_CONVOLUTIONS.get(type(conv))
            if smooth is not None:
                conv.__class__ = smooth  # same parameters and state dict, new forward
    return model


def check_envelope(graph_cutoff: float, cutoff: float | None, exponent: int) -> None:
    """Raise :class:`ParameterError` unless ``0 < cutoff <= graph_cutoff`` and ``exponent >= 2``."""
    rc = graph_cutoff if cutoff is None else cutoff
    if not isinstance(rc, (int, float)) or not 0.0 < float(rc) <= graph_cutoff:
        raise ParameterError(
            f"envelope cutoff must be in (0, {graph_cutoff:g}] Å (the model's graph cutoff), "
            f"got {cutoff!r}; raise the model's cutoff or lower the envelope's"
        )
    if isinstance(exponent, bool) or int(exponent) != exponent or exponent < 2:
        raise ParameterError(f"envelope exponent must be an integer >= 2, got {exponent!r}")


def envelope_gaussian(config: Any) -> EnvelopedGaussian:
    """The enveloped distance expansion of a config with ``envelope=True``."""
    rc = config.cutoff if config.envelope_cutoff is None else config.envelope_cutoff
    return EnvelopedGaussian(rc, config.envelope_exponent, **config.gaussian_settings)
