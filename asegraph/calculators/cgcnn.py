"""CGCNN inside ASE: ``atoms.calc = CGCNNCalculator()``.

Energy, forces and stress
-------------------------
A CGCNN energy model predicts the energy per atom ``e(G)`` of the crystal
graph ``G``; the calculator returns ``E = N e`` (eV). With the default
published model (``final-energy-per-atom``) this is the Materials Project's
**absolute** DFT total energy (VASP, PBE or PBE+U, uncorrected): compare it
only between structures of the same composition, or with other MP total
energies. The formation energy is a separate property, ``formation_energy``
(eV per cell, from ``formation-energy-per-atom``). ``free_energy`` equals
``energy`` (no electronic entropy).

Forces and stress are exact derivatives of ``E`` by automatic
differentiation: the edge vectors ``r_ij = x_j - x_i + n_ij · h`` are
recomputed in torch from positions ``x`` and cell ``h``, both deformed by
a strain ``ε`` as ``x (1 + ε)`` and ``h (1 + ε)``; then

``F = -∂E/∂x`` (eV/Å) and ``σ = (1/V) ∂E/∂ε`` at ``ε = 0`` (eV/Å³),
returned in ASE's Voigt order ``xx, yy, zz, yz, xz, xy``.

Per-atom energies ``E_i`` (``energies``, eV) exist for models with a
per-atom head (``readout="site"``, Eq. 3.4–3.5): ``E = Σ_i E_i``. For the
published models (``readout="pool"``) they are not defined and ASE's
:class:`PropertyNotImplementedError` is raised.

Piecewise smoothness
--------------------
The graph keeps the 12 nearest neighbours of each atom within 8 Å. When two
neighbours swap rank, the graph changes and ``E`` jumps; the forces are the
gradient of each smooth piece. A thermostat (Langevin) absorbs the jumps,
but an NVE run does not conserve the total energy across them: it drifts in
steps (``examples/calculator_nve.py``: a 12-nearest model of bcc Cu-Au drifts
by about 4 meV/atom in 800 fs, with single-step jumps of 45 meV, where EMT and
the enveloped model stay within 0.01 meV/atom). Optimisers can stall at such a
step. For models trained to be potentials use a radius graph with a smooth
envelope, :func:`asegraph.models.envelope.with_envelope`.

The published energy model is not a potential: it was fitted to relaxed
Materials Project structures only, and its 12-neighbour graph does not see
the full second shell of high-symmetry crystals. Relaxing rattled rock-salt
NaCl with it lowers the energy by moving *away* from rock salt (shortest
Na-Cl 2.2 Å); its equation of state is also far stiffer than the
bulk-moduli model (NaCl: 209 vs 24 GPa, see :func:`~asegraph.calculators.elastic.eos_check`).
Use it for energies of given structures, not for relaxations or MD.

Other properties
----------------
``bulk_modulus`` and ``shear_modulus`` (GPa; the published models predict
log10 of GPa, the calculator returns ``10**y``), ``poisson_ratio`` and
``band_gap`` (eV). With an :class:`~asegraph.models.ensemble.Ensemble`, each
property ``p`` is the members' mean in physical units (after ``10**`` for
the moduli) and ``p_std`` their standard deviation (``ddof=0``). They are
read with ``calc.get_property("bulk_modulus", atoms)``. An ensemble's forces
and stress are those of its mean energy; their spread is not computed
(``energy_std`` and ``energies_std`` are).
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from ase.calculators.calculator import (
    Calculator,
    PropertyNotImplementedError,
    all_changes,
)

from asegraph.calculators.serving import PROPERTIES, ModelServer
from asegraph.models.inference import model_batch, model_graph

_ENERGY_GROUP = {"energy", "free_energy", "forces", "stress", "energies"}


class CGCNNCalculator(Calculator):
    """An ASE calculator serving CGCNN models.

    Parameters
    ----------
    model : model spec, optional
        ``None`` (default): the published Materials Project models, each
        loaded the first time its property is asked for (``energy``,
        ``forces``, ``stress`` from ``final-energy-per-atom``;
        ``formation_energy``, ``band_gap``, ``bulk_modulus``,
        ``shear_modulus``, ``poisson_ratio``). Otherwise a registry name,
        a model or ensemble file, a folder of member files, a loaded
        ``CGCNN`` or ``Ensemble`` (it is copied, never changed), or a
        mapping ``{property: model}``. A single model serves the properties
        its target names imply (``energy_per_atom`` -> ``energy``, ...).
    device : str or torch.device, default "cpu"
    dtype : {"float32", "float64"}, default "float32"
        Precision of the network; results are always float64 numpy. Use
        "float64" for finite-difference checks and tight relaxations.
    **kwargs
        Passed to :class:`ase.calculators.calculator.Calculator`.

    Attributes
    ----------
    implemented_properties : list of str
        Exactly what the served models compute.

    Raises
    ------
    CalculatorSetupError
        Unknown property or model, a model file that cannot be read, a
        classifier, an energy model not in eV/atom, a bad device or dtype.

    Notes
    -----
    Caching follows ASE: results are kept until the positions, numbers,
    cell or pbc change (``check_state``); every property asked for on the
    same atoms reuses the same crystal graph. One call for any of
    ``energy``, ``forces`` or ``stress`` computes all three (one backward
    pass), so MD and optimisers evaluate the network once per step.

    Examples
    --------
    >>> from ase.build import bulk
    >>> atoms = bulk("NaCl", "rocksalt", a=5.64)
    >>> atoms.calc = CGCNNCalculator()                    # doctest: +SKIP
    >>> atoms.get_potential_energy()                      # doctest: +SKIP
    >>> atoms.calc.get_property("bulk_modulus", atoms)    # doctest: +SKIP
    """

    default_parameters: dict[str, Any] = {}

    def __init__(
        self, model: Any = None, device: Any = "cpu", dtype: Any = "float32", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.server = ModelServer(model, device, dtype)
        self.implemented_properties = self.server.implemented_properties()
        self._graphs: dict[tuple, Any] = {}
        self._warned_truncation = False
        self._warned_periodic = False

    # -- ASE interface -------------------------------------------------------
    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        """Compute ``properties`` for ``atoms`` and store them in ``self.results``.

        Parameters
        ----------
        atoms : ase.Atoms, optional
        properties : sequence of str
            Any of :attr:`implemented_properties`.
        system_changes : list of str
            From ``check_state``; any change drops the cached graphs.

        Raises
        ------
        PropertyNotImplementedError
            A property the served models do not compute (e.g. ``energies``
            of a pooled model), or ``stress`` of a cell that is not periodic
            in three directions.
        StructureError
            The structure has no valid crystal graph (overlapping atoms, an
            atom without neighbours, an element unknown to the model).
        """
        super().calculate(atoms, properties, system_changes)
        if system_changes:
            self._graphs.clear()
        for name in properties:
            if name not in self.implemented_properties:
                raise PropertyNotImplementedError(
                    f"{name!r} is not computed by this CGCNNCalculator; it computes "
                    f"{', '.join(self.implemented_properties)}"
                    + (
                        " (per-atom energies need a model with readout='site')"
                        if name.startswith("energies")
                        else ""
                    )
                )
        wanted = {name.removesuffix("_std") for name in properties}
        if wanted & _ENERGY_GROUP:
            self._energy(stress_wanted="stress" in properties)
        for prop in wanted - _ENERGY_GROUP:
            self._scalar(prop)

    # -- internals -----------------------------------------------------------
    def _graph(self, model: Any):
        config = model.config
        key = (config.cutoff, config.max_neighbors, config.ties)
        if key not in self._graphs:
            self._check_periodic()
            graph = model_graph(model, self.atoms)
            self._graphs[key] = graph
            self._check_truncation(model, graph)
        return self._graphs[key]

    def _check_periodic(self) -> None:
        """Warn once: the models were trained on periodic crystals, not molecules or slabs."""
        pbc = np.asarray(self.atoms.pbc, dtype=bool)
        if self._warned_periodic or pbc.all():
            return
        self._warned_periodic = True
        warnings.warn(
            f"structure {self.atoms.get_chemical_formula()} is not periodic in all three "
            f"directions (pbc={pbc.tolist()}): CGCNN models, the published ones included, "
            "were trained on periodic crystals, so its results are an extrapolation; give a "
            "cell and pbc=True for a crystal",
            UserWarning,
            stacklevel=5,
        )

    def _check_truncation(self, model: Any, graph) -> None:
        from asegraph.models.envelope import has_envelope

        if self._warned_truncation or not has_envelope(model):
            return
        counts = np.bincount(graph.edge_index[1], minlength=graph.n_atoms)
        if counts.max() >= model.config.max_neighbors:
            self._warned_truncation = True
            warnings.warn(
                f"an atom has {int(counts.max())} neighbours, the model's max_neighbors="
                f"{model.config.max_neighbors}: its neighbour list may be truncated and the "
                "enveloped energy is then not smooth; use a model with a larger max_neighbors",
                RuntimeWarning,
                stacklevel=4,
            )

    def _energy(self, stress_wanted: bool) -> None:
        """Energy, per-atom energies, forces and stress in one forward/backward pass."""
        served = self.server.served["energy"]
        model = self.server.model("energy")
        graph = self._graph(model)
        batch = model_batch(model, [graph])
        periodic = bool(np.all(self.atoms.pbc))
        strain = None
        positions = batch.positions.detach().requires_grad_(True)  # [N, 3]
        leaves = [positions]
        if periodic:
            strain = torch.zeros(
                (3, 3), dtype=positions.dtype, device=positions.device, requires_grad=True
            )
            deform = torch.eye(3, dtype=positions.dtype, device=positions.device) + strain
            batch = replace(batch, positions=positions @ deform, cell=batch.cell @ deform)
            leaves.append(strain)
        else:
            batch = replace(batch, positions=positions)
        out = model(batch, from_positions=True)
        k = served.target
        n_atoms = graph.n_atoms
        energy = n_atoms * out["y"][0, k]  # eV
        results: dict[str, Any] = {}
        grads = torch.autograd.grad(energy, leaves)
        results["forces"] = -grads[0].detach().double().cpu().numpy()  # [N, 3] eV/Å
        if strain is not None:
            virial = grads[1].detach().double().cpu().numpy()  # dE/dε, eV
            sigma = 0.5 * (virial + virial.T) / self.atoms.get_volume()  # eV/Å³
            results["stress"] = sigma[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        results["energy"] = results["free_energy"] = float(energy.detach())
        if served.ensemble:
            results["energy_std"] = float(n_atoms * out["y_std"][0, k].detach())
        if served.per_atom:
            results["energies"] = out["site"][:, k].detach().double().cpu().numpy()
            if served.ensemble:
                results["energies_std"] = out["site_std"][:, k].detach().double().cpu().numpy()
        self.results.update(results)
        if stress_wanted and strain is None:
            raise PropertyNotImplementedError(
                f"stress needs a cell periodic in all three directions, got pbc={self.atoms.pbc}"
            )

    @torch.no_grad()
    def _scalar(self, prop: str) -> None:
        """A per-structure property (moduli, band gap, formation energy)."""
        served = self.server.served[prop]
        model = self.server.model(prop)
        out = model(model_batch(model, [self._graph(model)]))
        values = out["y_members"] if served.ensemble else out["y"][None]  # [M, 1, n_out]
        values = to_physical(values[:, 0, served.target], model, served.target)
        values = values * (len(self.atoms) if PROPERTIES[prop][2] else 1)
        self.results[prop] = float(values.mean())
        if served.ensemble:
            self.results[f"{prop}_std"] = float(values.std())


def to_physical(values: torch.Tensor, model: Any, target: int) -> np.ndarray:
    """Model outputs of one target -> float64 numpy in the property's units (undo log10)."""
    array = values.detach().double().cpu().numpy()
    if model.config.target_transform[target] == "log10":
        array = 10.0**array
    return array
