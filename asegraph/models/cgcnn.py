"""The crystal graph convolutional neural network (thesis ch. 2.3 and 3.2)."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from asegraph.exceptions import ParameterError
from asegraph.graph.batch import GraphBatch
from asegraph.graph.crystal_graph import check_graph_settings
from asegraph.graph.features import AtomFeatureTable, GaussianDistance
from asegraph.models.envelope import SMOOTH_CONVOLUTIONS, check_envelope, envelope_gaussian
from asegraph.models.layers import CONVOLUTIONS
from asegraph.models.scatter import scatter_mean

TASKS = ("regression", "classification")
READOUTS = ("pool", "site")
ATOM_FEATURES = ("table", "embedding")

#: Whole-crystal inputs that ``crystal_features`` may name: name -> (centre, scale)
#: of the standardised value. ``log_volume_per_atom`` is ln(V / N / Å³); the
#: centre and scale are the mean and spread over the 3,553 MP elastic binaries
#: (ln 18.5 Å³ ± 0.41), fixed so that a model file needs no fitted statistics.
CRYSTAL_FEATURES = {"log_volume_per_atom": (2.92, 0.41)}


@dataclass
class CGCNNConfig:
    """Everything needed to rebuild a :class:`CGCNN` and its input graphs.

    Graph settings
        ``cutoff`` (Å), ``max_neighbors``, ``ties`` ("keep" or "truncate",
        see :mod:`asegraph.graph.neighbors`) and ``gaussian`` (the
        :class:`~asegraph.graph.features.GaussianDistance` settings, Å;
        ``None``, the default, derives them from the cutoff as the thesis
        does: centres every 0.2 Å from 0 to ``cutoff``, width 0.2 Å — see
        :attr:`gaussian_settings`).

    The settings are checked when the config is made (``__post_init__``), so an
    inconsistent config never exists.

    Smooth cutoff (for models used as interatomic potentials)
        ``envelope`` (multiply every message by the polynomial envelope of
        :mod:`asegraph.models.envelope`, so the energy is twice differentiable
        as neighbours cross the cutoff), ``envelope_cutoff`` (Å, default
        ``cutoff``), ``envelope_exponent`` (``p``, default 6). Needs a graph
        with every neighbour within the cutoff (``max_neighbors`` above the
        coordination within it).
    Architecture
        ``atom_features`` ("table": fixed element features through a linear
        layer; "embedding": a learned vector per element, ch. 3.2, started
        uniformly in ±1/sqrt(max_atomic_number + 1) as a one-hot element
        encoding through a linear layer would be),
        ``atom_dim`` (A), ``conv`` ("gated" Eq. 2.5 or "simple" Eq. 2.4),
        ``n_conv`` (R), ``n_hidden_atom`` (L1, per-atom layers),
        ``n_hidden`` (L2, layers after pooling), ``hidden_dim``,
        ``readout`` ("pool": normalised-sum pooling then L2 layers;
        "site": a value ``E_i`` per atom whose mean is the output, Eq. 3.4–3.5),
        ``dropout`` (probability of zeroing each crystal feature before the
        output layer while training, ``readout="pool"`` only; 0 as in the
        thesis; a regulariser for small datasets such as the elastic moduli),
        ``crystal_features`` (names from :data:`CRYSTAL_FEATURES`, ``[]`` as in
        the thesis: whole-crystal inputs appended, standardised, to the pooled
        crystal vector before the hidden layers, ``readout="pool"`` only;
        ``"log_volume_per_atom"`` gives the head the density that the
        convolutions see only through the 12 nearest-neighbour distances —
        bulk moduli scale with it).
    Task
        ``task`` ("regression" or "classification"), ``targets`` (names),
        ``units`` (one per target), ``target_transform`` (one per target,
        "none" or "log10": the model predicts log10 of the quantity),
        ``classes`` (names, classification).
    """

    task: str = "regression"
    targets: list[str] = field(default_factory=lambda: ["target"])
    units: list[str] = field(default_factory=lambda: [""])
    target_transform: list[str] = field(default_factory=lambda: ["none"])
    classes: list[str] = field(default_factory=list)
    atom_features: str = "table"
    atom_table_name: str = "table2.1"
    max_atomic_number: int = 100
    n_atom_features: int = 93
    atom_dim: int = 64
    conv: str = "gated"
    n_conv: int = 3
    batch_norm: bool = True
    n_hidden_atom: int = 0
    n_hidden: int = 1
    hidden_dim: int = 128
    readout: str = "pool"
    dropout: float = 0.0
    crystal_features: list[str] = field(default_factory=list)
    cutoff: float = 8.0
    max_neighbors: int = 12
    ties: str = "keep"
    gaussian: dict[str, float] | None = None
    envelope: bool = False
    envelope_cutoff: float | None = None
    envelope_exponent: int = 6

    def __post_init__(self) -> None:
        self.validate()

    @property
    def gaussian_settings(self) -> dict[str, float]:
        """The Gaussian expansion (Å): ``gaussian``, or 0 to ``cutoff`` every 0.2 Å."""
        if self.gaussian is not None:
            return dict(self.gaussian)
        return {"start": 0.0, "stop": float(self.cutoff), "step": 0.2, "width": 0.2}

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.task == "classification" else len(self.targets)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CGCNNConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ParameterError(
                f"model config has unknown keys {sorted(unknown)}; the file was written by a "
                "newer asegraph — upgrade asegraph"
            )
        return cls(**data)

    def validate(self) -> None:
        """Raise :class:`ParameterError` for inconsistent settings."""
        checks = [
            (self.task in TASKS, f"task must be one of {TASKS}, got {self.task!r}"),
            (
                self.conv in CONVOLUTIONS,
                f"conv must be one of {tuple(CONVOLUTIONS)}, got {self.conv!r}",
            ),
            (self.readout in READOUTS, f"readout must be one of {READOUTS}, got {self.readout!r}"),
            (
                self.atom_features in ATOM_FEATURES,
                f"atom_features must be one of {ATOM_FEATURES}, got {self.atom_features!r}",
            ),
            (len(self.targets) >= 1, "targets must name at least one target"),
            (
                len(self.units) == len(self.targets) == len(self.target_transform),
                f"targets, units and target_transform need one entry per target, got "
                f"{len(self.targets)}, {len(self.units)} and {len(self.target_transform)}",
            ),
            (
                set(self.target_transform) <= {"none", "log10"},
                f"target_transform entries must be 'none' or 'log10', got {self.target_transform}",
            ),
            (
                self.task != "classification" or len(self.classes) >= 2,
                f"classification needs at least two class names, got {self.classes}",
            ),
            (
                self.task != "classification" or self.readout == "pool",
                "classification needs readout='pool' (per-atom class scores are not additive)",
            ),
            (self.n_conv >= 0 and self.atom_dim >= 1, "n_conv must be >= 0 and atom_dim >= 1"),
            (
                self.readout == "site" or self.n_hidden >= 1,
                f"readout='pool' needs n_hidden >= 1, got {self.n_hidden}",
            ),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
            (
                self.dropout == 0.0 or self.readout == "pool",
                f"dropout acts before the output layer of readout='pool'; got dropout "
                f"{self.dropout} with readout={self.readout!r}: use readout='pool' or dropout 0",
            ),
            (
                set(self.crystal_features) <= set(CRYSTAL_FEATURES),
                f"crystal_features must name entries of {tuple(CRYSTAL_FEATURES)}, got "
                f"{self.crystal_features}",
            ),
            (
                not self.crystal_features or self.readout == "pool",
                f"crystal_features enter the pooled crystal vector of readout='pool'; got "
                f"{self.crystal_features} with readout={self.readout!r}: use readout='pool'",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ParameterError(message)
        check_graph_settings(self.cutoff, self.max_neighbors, self.ties)
        if self.gaussian is not None and set(self.gaussian) != {"start", "stop", "step", "width"}:
            raise ParameterError(
                f"gaussian needs the keys start, stop, step and width (Å), got "
                f"{sorted(self.gaussian)}; or leave it None to derive it from the cutoff"
            )
        if self.envelope:
            check_envelope(self.cutoff, self.envelope_cutoff, self.envelope_exponent)


class CGCNN(nn.Module):
    """Crystal graph convolutional neural network.

    ``atoms -> embedding -> R convolutions -> L1 per-atom layers -> readout``.
    With ``readout="pool"`` the atom vectors are averaged (normalised sum) and
    go through L2 hidden layers to the output, as in the published models;
    with ``readout="site"`` a linear layer gives each atom a value ``E_i`` in
    the target's units and the output is their mean (Eq. 3.4–3.5).

    Parameters
    ----------
    config : CGCNNConfig
    atom_table : AtomFeatureTable, optional
        Required when ``config.atom_features == "table"``; stored in the
        model's state so model files are self-contained.

    Notes
    -----
    Regression targets are standardised with ``target_mean``/``target_std``
    buffers (set them with :meth:`set_normalizer` before training); the
    ``"y"`` output is in target units, ``"y_scaled"`` is what the loss sees.
    """

    def __init__(self, config: CGCNNConfig, atom_table: AtomFeatureTable | None = None) -> None:
        super().__init__()
        config = copy.deepcopy(config)  # the caller's config is never changed
        config.validate()
        self.config = config
        if config.envelope:
            self.gaussian = envelope_gaussian(config)
        else:
            self.gaussian = GaussianDistance(**config.gaussian_settings)
        n_z = config.max_atomic_number + 1
        if config.atom_features == "table":
            if atom_table is None:
                atom_table = AtomFeatureTable.table21()
            config.atom_table_name = atom_table.name
            config.max_atomic_number = atom_table.table.shape[0] - 1
            config.n_atom_features = atom_table.n_features
            n_z = atom_table.table.shape[0]
            self.register_buffer("atom_table", torch.tensor(atom_table.table, dtype=torch.float32))
            self.register_buffer("atom_known", torch.tensor(atom_table.known))
            self.embedding = nn.Linear(atom_table.n_features, config.atom_dim)
        else:
            self.register_buffer("atom_known", torch.ones(n_z, dtype=torch.bool))
            self.atom_known[0] = False
            self.element_embedding = nn.Embedding(n_z, config.atom_dim)
            # why: nn.Embedding starts at N(0, 1) (norm ~8 in 64-D) and a short
            # training moves the vectors by well under 1, so v^(0) stays mostly
            # its random start and the element maps of ch. 3 show noise. Start
            # where a one-hot element encoding through a linear layer (the
            # original CGCNN's embedding layer) starts: U(-1/sqrt(n_z), 1/sqrt(n_z)).
            bound = 1.0 / float(np.sqrt(n_z))
            nn.init.uniform_(self.element_embedding.weight, -bound, bound)
        conv = CONVOLUTIONS[config.conv]
        if config.envelope:
            conv = SMOOTH_CONVOLUTIONS[conv]
        self.convs = nn.ModuleList(
            conv(config.atom_dim, self.gaussian.n_features, config.batch_norm)
            for _ in range(config.n_conv)
        )
        self.softplus = nn.Softplus()
        atom_layers, width = [], config.atom_dim
        for _ in range(config.n_hidden_atom):
            atom_layers.append(nn.Linear(width, config.hidden_dim))
            width = config.hidden_dim
        self.atom_fcs = nn.ModuleList(atom_layers)
        n_out = config.n_outputs
        if config.readout == "site":
            self.fc_site = nn.Linear(width, n_out)
        else:
            n_crystal = len(config.crystal_features)
            self.conv_to_fc = nn.Linear(width + n_crystal, config.hidden_dim)
            self.fcs = nn.ModuleList(
                nn.Linear(config.hidden_dim, config.hidden_dim) for _ in range(config.n_hidden - 1)
            )
            self.dropout = nn.Dropout(config.dropout)
            self.fc_out = nn.Linear(config.hidden_dim, n_out)
        n_scale = len(config.targets) if config.task == "regression" else n_out
        self.register_buffer("target_mean", torch.zeros(n_scale, dtype=torch.float64))
        self.register_buffer("target_std", torch.ones(n_scale, dtype=torch.float64))

    def set_normalizer(self, mean: np.ndarray | list[float], std: np.ndarray | list[float]) -> None:
        """Set the target standardisation (regression), shapes (n_targets,)."""
        mean = torch.as_tensor(np.asarray(mean, dtype=np.float64).reshape(-1))
        std = torch.as_tensor(np.asarray(std, dtype=np.float64).reshape(-1))
        if mean.shape != self.target_mean.shape or (std <= 0).any():
            raise ParameterError(
                f"normalizer needs {self.target_mean.shape[0]} means and positive stds, got "
                f"mean={mean.tolist()} std={std.tolist()}"
            )
        self.target_mean.copy_(mean)
        self.target_std.copy_(std)

    def atom_features(self, numbers: torch.Tensor) -> torch.Tensor:
        """Atomic numbers [N] -> initial atom vectors [N, A]."""
        if self.config.atom_features == "table":
            table = self.atom_table.to(self.embedding.weight.dtype)
            return self.embedding(table[numbers])
        return self.element_embedding(numbers)

    def forward(
        self, batch: GraphBatch, from_positions: bool | None = None, layers: bool = False
    ) -> dict[str, torch.Tensor]:
        """Predict for a batch of crystal graphs.

        Parameters
        ----------
        batch : GraphBatch
            In the dtype and on the device of the model.
        from_positions : bool, optional
            Recompute edge lengths from positions, cell and shifts so that
            autograd reaches them (forces, stress). Default: when
            ``batch.positions`` or ``batch.cell`` requires grad.
        layers : bool, default False
            Also return every atom vector on the way, ``"atom_layers"``
            [N, R + 1, A]: ``v_i^(0)`` (the element representation, Eq. 3.2)
            and ``v_i^(t)`` after each of the R convolutions (Eq. 3.3). This
            is what :mod:`asegraph.analysis.interpret` reads; it costs one
            stack of tensors that are computed anyway.

        Returns
        -------
        dict
            ``"y"`` [B, n_targets] in target units (regression; log10 of the
            quantity where ``target_transform`` is "log10"), or class
            probabilities [B, n_classes] (classification);
            ``"y_scaled"`` the standardised values (regression) or logits;
            ``"site"`` [N, n_targets] per-atom values in target units
            (``readout="site"`` only); ``"atom_embeddings"`` [N, A] after
            the convolutions; ``"crystal_embeddings"`` [B, H] the last
            hidden layer (``readout="pool"``); ``"atom_layers"`` with
            ``layers=True``.
        """
        if from_positions is None:
            from_positions = batch.positions.requires_grad or batch.cell.requires_grad
        if from_positions:
            distances = torch.linalg.vector_norm(batch.edge_vectors(), dim=1)  # [E]
        else:
            distances = batch.distances
        edges = self.gaussian(distances)  # [E, G]
        atoms = self.atom_features(batch.numbers)  # [N, A]
        steps = [atoms]
        for conv in self.convs:
            atoms = conv(atoms, edges, batch.edge_index)
            steps.append(atoms)
        out: dict[str, torch.Tensor] = {"atom_embeddings": atoms}
        if layers:
            out["atom_layers"] = torch.stack(steps, dim=1)  # [N, R + 1, A]
        hidden = atoms
        for layer in self.atom_fcs:
            hidden = self.softplus(layer(hidden))
        n_structures = batch.n_atoms.shape[0]
        mean = self.target_mean.to(hidden.dtype)
        std = self.target_std.to(hidden.dtype)
        if self.config.readout == "site":
            site_scaled = self.fc_site(hidden)  # [N, n_targets]
            out["site"] = site_scaled * std + mean
            scaled = scatter_mean(site_scaled, batch.batch, n_structures)  # [B, n_targets]
        else:
            crystal = self.softplus(scatter_mean(hidden, batch.batch, n_structures))  # [B, A]
            if self.config.crystal_features:
                extra = crystal_features(batch, self.config.crystal_features)  # [B, F]
                crystal = torch.cat([crystal, extra.to(crystal.dtype)], dim=1)
            crystal = self.softplus(self.conv_to_fc(crystal))  # [B, H]
            for layer in self.fcs:
                crystal = self.softplus(layer(crystal))
            out["crystal_embeddings"] = crystal
            scaled = self.fc_out(self.dropout(crystal))  # [B, n_out]
        out["y_scaled"] = scaled
        if self.config.task == "classification":
            out["y"] = torch.softmax(scaled, dim=1)
        else:
            out["y"] = scaled * std + mean
        return out


def crystal_features(batch: GraphBatch, names: list[str]) -> torch.Tensor:
    """Standardised whole-crystal inputs (:data:`CRYSTAL_FEATURES`) of a batch.

    Parameters
    ----------
    batch : GraphBatch
        ``cell`` [B, 3, 3] in Å and ``n_atoms`` [B].
    names : list of str
        Entries of :data:`CRYSTAL_FEATURES`.

    Returns
    -------
    Tensor, shape (B, len(names))
        ``(value - centre) / scale``; differentiable with respect to the cell
        (stress), in the batch's dtype.

    Raises
    ------
    ParameterError
        A structure without a cell volume (a molecule).
    """
    columns = []
    for name in names:
        centre, scale = CRYSTAL_FEATURES[name]
        # only name so far: ln of the volume per atom (Å³), intensive, so a
        # supercell gets the value of its primitive cell
        volume = torch.abs(torch.linalg.det(batch.cell))  # [B]
        if not bool((volume > 0).all()):
            raise ParameterError(
                f"crystal feature {name!r} needs a periodic cell with a volume; "
                f"{int((volume <= 0).sum())} structure(s) of the batch have none (molecules?): "
                "train without crystal_features for them"
            )
        value = torch.log(volume / batch.n_atoms.to(volume.dtype))
        columns.append((value - centre) / scale)
    return torch.stack(columns, dim=1)
