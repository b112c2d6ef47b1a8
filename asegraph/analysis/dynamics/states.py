"""What the learned states mean: per-state structure, charge and transport (thesis ch. 4.4).

Each class is an MDAnalysis :class:`~MDAnalysis.analysis.base.AnalysisBase`
that takes a universe plus a GDyNet result (the ``xarray.Dataset`` of
:class:`~asegraph.analysis.dynamics.analysis.GDyNetAnalysis`, its netCDF file,
or the analysis object itself). Every target-frame counts with its state
probability ``chi_k(t)``, so nothing depends on an arbitrary assignment:

* :class:`StateRDF` — state-resolved RDFs ``g_k(r)`` and coordination numbers
  ``n_k(r)`` (the RDF integrals), on :class:`MDAnalysis.analysis.rdf.InterRDF`'s
  machinery (``capped_distance``: triclinic and changing boxes);
* :class:`StateSolvationCharge` — cumulative charge around the target vs radius
  per state, and the net charge of the first shell (thesis Fig. 4-5c, Table 4.1);
* :class:`StateTransport` — each (i -> j) transition's contribution to the
  targets' mean-squared displacement over the lag and to the conductivity
  (thesis Fig. 4-6); the contributions sum to the state-free MSD because
  ``sum_i chi_i = 1`` at both ends.

The order parameters (Steinhardt q_l, distributions along an axis) and the
representative configurations live in :mod:`asegraph.analysis.dynamics.state_order`.

Frames are matched to the result by time (the result's ``time`` coordinate,
ps), so a universe may hold more frames than were analysed by GDyNet; frames
without a match are skipped. Target groups (residues, molecules) give each of
their atoms the group's probability.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from MDAnalysis.analysis.rdf import InterRDF
from MDAnalysis.lib import distances

from asegraph.exceptions import InputFileError, ParameterError

#: ``membership`` parameter -> result variable.
MEMBERSHIP_VARIABLES = {
    "refined": "state_probability",
    "softmax": "state_probability_softmax",
    "assignment": "state_probability",  # one-hot of its most probable state
}
# e^2 / k_B [C^2 K / J] and the unit factors of sigma = N e^2 q^2 MSD / (6 V k_B T tau):
# Å^2/ps -> m^2/s is 1e-8, 1/Å^3 -> 1/m^3 is 1e30, S/m -> S/cm is 1e-2.
_E2_OVER_KB = (1.602176634e-19) ** 2 / 1.380649e-23
_SIGMA_UNITS = 1e-8 * 1e30 * 1e-2


class StateProbabilities:
    """State probabilities of a GDyNet result, per target *atom*, matched by time.

    Parameters
    ----------
    result : xarray.Dataset, path or GDyNetAnalysis
        A GDyNet result (``state_probability(time, target, state)``,
        ``target_atom``, ``target_group``; attributes ``frame_ps``, ``lag_ps``).
    membership : {"refined", "softmax", "assignment"}
        ``"refined"``: the assigned memberships (``state_probability``, rows
        sum to 1, the default); ``"softmax"``: the network's raw softmax outputs
        (``state_probability_softmax``), the thesis' definition;
        ``"assignment"``: crisp states, 1 for each target-frame's most probable
        state (``state_assignment``). Soft memberships weight a state's
        averages with the other states' target-frames too (on the toy, the
        octahedral state's refined weight is 0.84 on octahedral and 0.07 on the
        four times more common tetrahedral frames, so its Li–S coordination
        number is 5.5 instead of 6.0); crisp states do not.

    Attributes
    ----------
    probability : ndarray, shape (F, n_groups, K)
    times : ndarray, shape (F,), ps
    target_atoms, target_group : ndarray of int, shape (T,)
    frame_ps, lag_ps : float, ps
    """

    def __init__(self, result, membership: str = "refined") -> None:
        dataset = load_result(result)
        if membership not in MEMBERSHIP_VARIABLES:
            raise ParameterError(
                f"membership must be one of {sorted(MEMBERSHIP_VARIABLES)}, got {membership!r}"
            )
        name = MEMBERSHIP_VARIABLES[membership]
        if not {"state_probability", "state_probability_softmax", "target_atom"} & set(dataset):
            # e.g. the states.nc of an earlier `analyze`: say so, not "use another membership"
            label = f"'{result}'" if isinstance(result, (str, Path)) else "the dataset"
            held = ", ".join(map(str, list(dataset.data_vars)[:6])) or "no variables"
            raise InputFileError(
                f"{label} is not a GDyNet result (it holds {held}, not state_probability and "
                "target_atom); give the .nc that asegraph-dynamics run wrote"
            )
        if name not in dataset:
            available = sorted(v for v in dataset.data_vars if str(v).startswith("state_prob"))
            raise ParameterError(
                f"membership={membership!r} needs the variable {name!r}, which this GDyNet "
                f"result lacks (it has {available}); use membership='refined' or rerun "
                f"asegraph-dynamics with a version that writes it"
            )
        for needed in ("target_atom", "target_group"):
            if needed not in dataset:
                raise ParameterError(f"GDyNet result lacks {needed!r}: not a GDyNet result")
        self.membership = membership
        self.dataset = dataset
        self.probability = np.asarray(dataset[name].values, dtype=np.float64)  # [F, G, K]
        if membership == "assignment":  # the result's crisp states (argmax) as one-hot rows
            crisp = dataset["state_assignment"].values if "state_assignment" in dataset else None
            if crisp is None:
                crisp = self.probability.argmax(axis=2)
            self.probability = np.eye(self.probability.shape[2])[np.asarray(crisp, dtype=int)]
        self.times = np.asarray(dataset["time"].values, dtype=np.float64)
        self.target_atoms = np.asarray(dataset["target_atom"].values, dtype=np.int64)
        self.target_group = np.asarray(dataset["target_group"].values, dtype=np.int64)
        self.n_states = self.probability.shape[2]
        self.frame_ps = float(dataset.attrs.get("frame_ps", np.median(np.diff(self.times))))
        self.lag_ps = float(dataset.attrs.get("lag_ps", self.frame_ps))

    def check_universe(self, universe) -> None:
        """Raise if the result's target atoms do not exist in ``universe``."""
        n = universe.atoms.n_atoms
        if self.target_atoms.max() >= n:
            raise ParameterError(
                f"the GDyNet result's target atoms go up to index {self.target_atoms.max()}, "
                f"but the universe has {n} atoms; give the trajectory the result was made from"
            )

    def frame_index(self, time_ps: float) -> int | None:
        """Index of the result frame at ``time_ps`` (ps), or None."""
        k = int(round((time_ps - self.times[0]) / self.frame_ps))
        if 0 <= k < len(self.times) and abs(self.times[k] - time_ps) <= 1e-3 * self.frame_ps:
            return k
        return None

    def atom_weights(self, k: int) -> np.ndarray:
        """Probabilities of each target atom at result frame ``k``, shape (T, K)."""
        return self.probability[k][self.target_group]


def load_result(result) -> xr.Dataset:
    """The Dataset of a GDyNet result given as Dataset, netCDF path or GDyNetAnalysis."""
    if isinstance(result, xr.Dataset):
        return result
    dataset = getattr(getattr(result, "results", None), "dataset", None)
    if isinstance(dataset, xr.Dataset):
        return dataset
    if isinstance(result, (str, Path)):
        path = Path(result)
        if not path.is_file():
            raise FileNotFoundError(f"GDyNet result '{path}' does not exist; check the path")
        try:
            return xr.load_dataset(path)
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
            raise InputFileError(
                f"GDyNet result '{path}' could not be read as netCDF ({type(exc).__name__}); "
                f"give the .nc written by asegraph-dynamics"
            ) from exc
    raise ParameterError(
        "result must be an xarray.Dataset, a netCDF path or a GDyNetAnalysis, got "
        f"{type(result).__name__}"
    )


def _select(universe, selection, name: str):
    """AtomGroup from a selection string or an AtomGroup."""
    if not isinstance(selection, str):
        return selection
    try:
        group = universe.select_atoms(selection)
    except Exception as exc:  # noqa: BLE001 - SelectionError and friends
        raise ParameterError(f"{name}={selection!r}: MDAnalysis cannot parse it: {exc}") from exc
    if group.n_atoms == 0:
        raise ParameterError(f"{name}={selection!r} selects no atoms")
    return group


def atom_charges(universe, charges: dict | None = None) -> np.ndarray:
    """Charge of every atom (e): from ``charges`` {species: q} or the topology.

    ``charges`` keys are matched against the species label of each atom
    (element, else type, else name — as GDyNet labels atoms), then its name and
    type. Atoms with no matching key get 0.
    """
    atoms = universe.atoms
    if charges is None:
        if not hasattr(atoms, "charges"):
            raise ParameterError(
                "the topology has no charges; give them per species, e.g. "
                "charges={'Li': 1.0, 'S': -1.0} (CLI: --charges Li=1,S=-1)"
            )
        return np.asarray(atoms.charges, dtype=np.float64)
    from asegraph.analysis.dynamics.trajectory import species_labels

    labels = species_labels(atoms)
    columns = [labels]
    for attr in ("names", "types"):
        if hasattr(atoms, attr):
            columns.append([str(x) for x in getattr(atoms, attr)])
    known = set().union(*map(set, columns))
    unknown = sorted(set(charges) - known)
    if unknown:
        raise ParameterError(
            f"charges: no atom is called {unknown} (species, names and types here: "
            f"{sorted(set(labels))[:10]}); use those labels"
        )
    q = np.zeros(atoms.n_atoms)
    for column in reversed(columns):  # species labels win
        for i, label in enumerate(column):
            if label in charges:
                q[i] = float(charges[label])
    return q


class SerialStateAnalysis:
    """MDAnalysis backends for the per-state analyses: serial only.

    The analyses accumulate running sums frame by frame (and ``StateTransport``
    pairs frames a lag apart) without MDAnalysis' parallel result aggregators,
    so their frames are not split over workers. Put it first among the bases so
    it overrides ``AnalysisBase``.
    """

    _analysis_algorithm_is_parallelizable = False

    @classmethod
    def get_supported_backends(cls):
        return ("serial",)


class StateRDF(SerialStateAnalysis, InterRDF):
    """State-resolved radial distribution functions and coordination numbers.

    For state ``k``, with ``w_ak(t)`` the probability of target atom ``a`` and
    ``c_b`` the weight of atom ``b`` of ``other`` (1, or e.g. a charge),

    ``count_k(r) = sum_t sum_a w_ak(t) sum_b c_b [r_ab(t) in bin r]``,
    ``n_k(r) = cumsum(count_k) / sum_t sum_a w_ak(t)`` (coordination number),
    ``g_k(r) = count_k(r) / (sum_t sum_a w_ak(t) N_b / V(t) * 4 pi r^2 dr)``,

    so ``n_k(r) = integral of rho_k g_k(r') 4 pi r'^2 dr'`` with the
    probability-weighted density ``rho_k`` (exact also when the box changes).
    Pairs of an atom with itself, and of two atoms of one target group (a
    water's O and H), are excluded. The state-free RDF of the same
    pairs is kept as ``rdf_all`` (equal to ``InterRDF`` without self pairs).

    Parameters
    ----------
    universe : MDAnalysis.Universe
    result : xarray.Dataset, path or GDyNetAnalysis
    other : str or AtomGroup
        Partner atoms (e.g. ``"name S"``, ``"element O"``).
    membership : {"refined", "softmax", "assignment"}
    nbins : int
    range : (float, float), Å
    other_weights : ndarray, shape (len(other),), optional
        Per-partner weight ``c_b`` (default 1); with charges, ``cumulative``
        is the charge within ``r``.
    **kwargs
        Passed to :class:`~MDAnalysis.analysis.base.AnalysisBase` (``verbose``).

    Attributes
    ----------
    results.bins, results.edges : ndarray, Å
    results.count : ndarray, shape (K, nbins)
    results.weight : ndarray, shape (K,)
        ``sum_t sum_a w_ak(t)`` (target-frames in each state).
    results.rdf : ndarray, shape (K, nbins)
    results.cumulative : ndarray, shape (K, nbins)
        Coordination number (or weighted sum) within the upper bin edge.
    results.rdf_all : ndarray, shape (nbins,)
        State-free RDF of the pairs (not weighted by ``c_b``).
    results.cumulative_all : ndarray, shape (nbins,)
        State-free coordination number (or weighted sum).
    results.neighbours_all : ndarray, shape (nbins,)
        State-free coordination number, not weighted by ``c_b``.
    """

    def __init__(
        self,
        universe,
        result,
        other,
        membership: str = "refined",
        nbins: int = 75,
        range: tuple[float, float] = (0.0, 8.0),  # noqa: A002 - InterRDF's name
        other_weights: np.ndarray | None = None,
        **kwargs,
    ) -> None:
        universe = universe.universe
        self.states = StateProbabilities(result, membership)
        self.states.check_universe(universe)
        targets = universe.atoms[self.states.target_atoms]
        partners = _select(universe, other, "other")
        if nbins < 1 or not (0 <= range[0] < range[1]):
            raise ParameterError(
                f"nbins must be >= 1 and range (lo, hi) with 0 <= lo < hi Å, got {nbins}, {range}"
            )
        super().__init__(targets, partners, nbins=nbins, range=range, **kwargs)
        if other_weights is None:
            other_weights = np.ones(partners.n_atoms)
        other_weights = np.asarray(other_weights, dtype=np.float64)
        if other_weights.shape != (partners.n_atoms,):
            raise ParameterError(
                f"other_weights: expected one value per atom of other ({partners.n_atoms}), got "
                f"shape {other_weights.shape}"
            )
        self.other_weights = other_weights
        # how many partners a target atom has (itself excluded), [T]
        # and pairs inside one target group (a water's O–H) are no solvation: excluded too
        group_of = np.full(universe.atoms.n_atoms, -1, dtype=np.int64)
        group_of[self.states.target_atoms] = self.states.target_group
        self._partner_group = group_of[partners.indices]  # [B], -1: not a target
        same = np.bincount(
            self._partner_group[self._partner_group >= 0],
            minlength=int(self.states.target_group.max()) + 1,
        )
        self._n_partners = partners.n_atoms - same[self.states.target_group]  # [T]
        self._shell_partners: np.ndarray | None = None  # bool per partner, subclasses

    def _prepare(self) -> None:
        super()._prepare()
        k, nbins = self.states.n_states, len(self.results.bins)
        self.results.count = np.zeros((k, nbins))
        self.results.count_all = np.zeros(nbins)
        self.results.weight = np.zeros(k)
        self._density = np.zeros(k)  # sum_t sum_a w_ak N_b / V(t), 1/Å^3
        self._density_all = 0.0
        self._pairs_all = np.zeros(nbins)  # unweighted by c_b: the plain RDF
        self._pairs_shell = np.zeros(nbins)  # the same for the partners that define the shell
        self._n_used = 0

    def _single_frame(self) -> None:
        k = self.states.frame_index(self._ts.time)
        if k is None:
            return
        weights = self.states.atom_weights(k)  # [T, K]
        pairs, dist = distances.capped_distance(
            self.g1.positions, self.g2.positions, self._maxrange, box=self._ts.dimensions
        )
        keep = self.states.target_group[pairs[:, 0]] != self._partner_group[pairs[:, 1]]
        pairs, dist = pairs[keep], dist[keep]
        pair_weight = self.other_weights[pairs[:, 1]]  # [P]
        bins = self.rdf_settings["bins"]
        lo, hi = self.rdf_settings["range"]
        index = np.floor((dist - lo) / (hi - lo) * bins).astype(np.int64)
        inside = (index >= 0) & (index < bins)
        index, pairs, pair_weight = index[inside], pairs[inside], pair_weight[inside]
        flat = np.zeros((bins, weights.shape[1]))
        np.add.at(flat, index, weights[pairs[:, 0]] * pair_weight[:, None])  # [nbins, K]
        self.results.count += flat.T
        self.results.count_all += np.bincount(index, pair_weight, minlength=bins)
        self._pairs_all += np.bincount(index, minlength=bins)
        if self._shell_partners is not None:
            chosen = self._shell_partners[pairs[:, 1]]
            self._pairs_shell += np.bincount(index[chosen], minlength=bins)
        volume = self._ts.volume
        self.results.weight += weights.sum(axis=0)
        self._density += (weights * self._n_partners[:, None]).sum(axis=0) / volume
        self._density_all += self._n_partners.sum() / volume
        self._n_used += 1

    def _conclude(self) -> None:
        if self._n_used == 0:
            raise ParameterError(
                f"no frame of the trajectory has a time of the GDyNet result "
                f"({self.states.times[0]:g}–{self.states.times[-1]:g} ps); give the trajectory "
                f"the result was made from (and the same --timestep)"
            )
        edges = self.results.edges
        shell = 4.0 / 3.0 * np.pi * np.diff(edges**3)  # [nbins], Å^3
        with np.errstate(invalid="ignore", divide="ignore"):
            self.results.rdf = self.results.count / (self._density[:, None] * shell[None])
            self.results.cumulative = (
                np.cumsum(self.results.count, axis=1) / (self.results.weight[:, None])
            )
        n_targets = self._n_used * len(self.g1)
        self.results.rdf_all = self._pairs_all / (self._density_all * shell)
        self.results.cumulative_all = np.cumsum(self.results.count_all) / n_targets
        self.results.neighbours_all = np.cumsum(self._pairs_all) / n_targets
        self.results.n_frames_used = self._n_used

    def coordination_number(self, radius: float) -> np.ndarray:
        """Coordination number of each state within ``radius`` (Å), shape (K,).

        Linear interpolation of :attr:`results.cumulative` between bin edges.
        """
        edges = self.results.edges
        curve = np.concatenate([np.zeros((self.states.n_states, 1)), self.results.cumulative], 1)
        return np.array([np.interp(radius, edges, c) for c in curve])


def first_minimum(bins: np.ndarray, rdf: np.ndarray, neighbours: np.ndarray) -> float:
    """Radius (Å) of the first minimum after the main peak of ``rdf``.

    ``neighbours`` (the running coordination number, shape like ``rdf``)
    skips the noisy bins at small r that hold under 0.2 neighbours; the main
    peak is the highest ``g(r)`` after them. The first-shell radius used by
    :class:`StateSolvationCharge` when none is given.
    """
    rdf = np.nan_to_num(np.asarray(rdf, dtype=np.float64))
    # smooth over 3 bins so that noise does not end the shell early
    smooth = np.convolve(rdf, np.ones(3) / 3, mode="same")
    start = int(np.argmax(np.asarray(neighbours) >= 0.2))
    peak = start + int(np.argmax(smooth[start:]))
    for i in range(peak + 1, len(rdf) - 1):
        if smooth[i] <= smooth[i - 1] and smooth[i] < smooth[i + 1]:
            return float(bins[i])
    return float(bins[-1])


class StateSolvationCharge(StateRDF):
    """Cumulative charge around the target vs radius, per state (thesis Fig. 4-5c).

    ``Q_k(r) = <q_target>_k + sum of the charges within r``, averaged over the
    target-frames of state ``k`` with their probabilities; the net charge of
    the first solvation shell is ``Q_k(r_shell)`` (thesis Table 4.1).

    Parameters
    ----------
    universe, result, membership, nbins, range
        As :class:`StateRDF`.
    charges : dict, optional
        ``{species: charge (e)}``; default: the topology's charges.
    other : str, optional
        Atoms whose charges count (default every charged atom).
    shell_radius : float, Å, optional
        First-shell radius; default: the first minimum after the main peak of
        the state-free RDF of the targets and the counter-charged atoms (anions
        round a cation), else all charged atoms.

    Attributes
    ----------
    results.charge : ndarray, shape (K, nbins), e
        ``Q_k`` at the upper bin edges.
    results.shell_radius : float, Å
    results.shell_charge : ndarray, shape (K,), e
    """

    def __init__(
        self,
        universe,
        result,
        charges: dict | None = None,
        other: str | None = None,
        membership: str = "refined",
        nbins: int = 75,
        range: tuple[float, float] = (0.0, 8.0),  # noqa: A002
        shell_radius: float | None = None,
        **kwargs,
    ) -> None:
        universe = universe.universe
        q = atom_charges(universe, charges)
        partners = universe.atoms[q != 0] if other is None else _select(universe, other, "other")
        if partners.n_atoms == 0:
            raise ParameterError("no atom carries a charge; give charges={'Li': 1.0, ...}")
        super().__init__(
            universe,
            result,
            partners,
            membership=membership,
            nbins=nbins,
            range=range,
            other_weights=q[partners.indices],
            **kwargs,
        )
        self.target_charges = q[self.states.target_atoms]
        # the shell is bounded by the counter-ions' first minimum (anions around Li+)
        sign = np.sign(self.target_charges[self.states.target_group == 0].sum())  # group net
        counter = np.sign(q[partners.indices]) == -sign if sign != 0 else None
        if counter is not None and counter.any():
            self._shell_partners = counter
        if shell_radius is not None and not (range[0] < shell_radius <= range[1]):
            raise ParameterError(
                f"shell_radius={shell_radius} Å lies outside range={range}; widen range"
            )
        self.requested_shell = shell_radius

    def _prepare(self) -> None:
        super()._prepare()
        self._own = np.zeros(self.states.n_states)  # sum_t sum_a w_ak q_a

    def _single_frame(self) -> None:
        k = self.states.frame_index(self._ts.time)
        if k is not None:
            self._own += (self.states.atom_weights(k) * self.target_charges[:, None]).sum(axis=0)
        super()._single_frame()

    def _conclude(self) -> None:
        super()._conclude()
        own = self._own / self.results.weight  # [K], e
        self.results.charge = own[:, None] + self.results.cumulative
        if self.requested_shell is None:
            if self._shell_partners is None:
                rdf, neighbours = self.results.rdf_all, self.results.neighbours_all
            else:
                shell = 4.0 / 3.0 * np.pi * np.diff(self.results.edges**3)
                rdf = self._pairs_shell / shell  # shape only: the scale does not move minima
                neighbours = np.cumsum(self._pairs_shell) / (self._n_used * len(self.g1))
            self.results.shell_radius = first_minimum(self.results.bins, rdf, neighbours)
        else:
            self.results.shell_radius = float(self.requested_shell)
        edges = self.results.edges
        curve = np.concatenate([own[:, None], self.results.charge], axis=1)
        self.results.shell_charge = np.array(
            [np.interp(self.results.shell_radius, edges, c) for c in curve]
        )
