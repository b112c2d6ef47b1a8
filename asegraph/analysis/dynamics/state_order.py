"""Order parameters and positions per state; representative configurations (thesis Fig. 4-3/4-4).

* :class:`StateOrder` — Steinhardt ``q_l`` (freud) of every target atom in
  every frame and its distribution per state (thesis Fig. 4-4 compares the
  Si states with ``q3``), plus each state's distribution along a cell axis
  (Fig. 4-3c).
* :class:`RepresentativeConfigurations` — per state, the target-frames with
  the highest probability, written as small extxyz snapshots of the
  environment (thesis Fig. 4-5b).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from MDAnalysis.analysis.base import AnalysisBase
from MDAnalysis.lib.distances import capped_distance, minimize_vectors
from MDAnalysis.lib.mdamath import triclinic_vectors

from asegraph.analysis.dynamics.states import SerialStateAnalysis, StateProbabilities, _select
from asegraph.exceptions import ParameterError

AXES = {"x": 0, "y": 1, "z": 2, "a": 0, "b": 1, "c": 2}


def freud_system(dimensions: np.ndarray, positions: np.ndarray):
    """(freud Box, points) of an MDAnalysis frame: freud boxes are centred on the origin."""
    import freud

    vectors = triclinic_vectors(dimensions)  # rows a, b, c (lower triangular), Å
    box = freud.box.Box.from_matrix(vectors.T)  # freud/HOOMD: columns, upper triangular
    centre = 0.5 * vectors.sum(axis=0)
    return box, box.wrap(np.asarray(positions - centre, dtype=np.float32))


class StateOrder(SerialStateAnalysis, AnalysisBase):
    """Steinhardt ``q_l`` and position along an axis, per target and per state.

    Parameters
    ----------
    universe : MDAnalysis.Universe
    result : xarray.Dataset, path or GDyNetAnalysis
    membership : {"refined", "softmax", "assignment"}
    l : sequence of int
        Spherical-harmonic orders (thesis Fig. 4-4: ``q3``).
    environment : str or AtomGroup, optional
        Atoms that count as neighbours (default all atoms); the targets are
        added to the set.
    num_neighbors : int, optional
        ``q_l`` from this many nearest neighbours (4: diamond). Give this or
        ``r_max``.
    r_max : float, Å, optional
        ``q_l`` from all neighbours within ``r_max`` instead.
    average : bool
        Lechner–Dellago averaged ``q_l`` (over the neighbours too).
    axis : {"x", "y", "z"}
        Cell axis of the position profile (fractional coordinate along the
        cell vector, reported in Å of the mean cell length).
    nbins_q, nbins_axis : int
    **kwargs
        Passed to :class:`~MDAnalysis.analysis.base.AnalysisBase`.

    Attributes
    ----------
    results.q : ndarray, shape (F, T, L)
        ``q_l`` of each target atom in each used frame.
    results.q_edges : ndarray, shape (nbins_q + 1,)
    results.q_histogram : ndarray, shape (K, L, nbins_q)
        Probability-weighted distribution per state (each sums to 1 over bins).
    results.q_mean, results.q_std : ndarray, shape (K, L)
    results.axis_edges : ndarray, shape (nbins_axis + 1,), Å
    results.axis_profile : ndarray, shape (K, nbins_axis)
        Mean number of targets of each state per bin per frame (the states sum
        to the targets' profile).
    """

    def __init__(
        self,
        universe,
        result,
        membership: str = "refined",
        l=(3, 4, 6),  # noqa: E741
        environment=None,
        num_neighbors: int | None = 4,
        r_max: float | None = None,
        average: bool = False,
        axis: str = "z",
        nbins_q: int = 50,
        nbins_axis: int = 50,
        **kwargs,
    ) -> None:
        universe = universe.universe
        super().__init__(universe.trajectory, **kwargs)
        self.states = StateProbabilities(result, membership)
        self.states.check_universe(universe)
        self.l = [int(x) for x in np.atleast_1d(l)]
        if not self.l or min(self.l) < 1:
            raise ParameterError(f"l: expected positive integers such as (3, 4, 6), got {l!r}")
        if (num_neighbors is None) == (r_max is None):
            raise ParameterError(
                f"give exactly one of num_neighbors and r_max, got num_neighbors={num_neighbors}, "
                f"r_max={r_max}"
            )
        if num_neighbors is not None and num_neighbors < 1:
            raise ParameterError(f"num_neighbors must be >= 1, got {num_neighbors}")
        if r_max is not None and not r_max > 0:
            raise ParameterError(f"r_max must be > 0 Å, got {r_max}")
        if axis not in AXES:
            raise ParameterError(f"axis must be one of x, y, z, got {axis!r}")
        self.neighbors = (
            {"num_neighbors": int(num_neighbors)}
            if num_neighbors is not None
            else {"r_max": float(r_max)}
        )
        self.neighbors["exclude_ii"] = True
        self.average, self.axis = bool(average), axis
        targets = universe.atoms[self.states.target_atoms]
        system = universe.atoms if environment is None else _select(universe, environment, "env")
        self.system = system | targets  # sorted, unique
        self._target_rows = np.searchsorted(self.system.indices, targets.indices)
        self.targets = targets
        self.nbins_q, self.nbins_axis = int(nbins_q), int(nbins_axis)

    def _prepare(self) -> None:
        import freud

        self._steinhardt = freud.order.Steinhardt(l=self.l, average=self.average)
        self._q: list[np.ndarray] = []
        self._fractional: list[np.ndarray] = []
        self._lengths: list[float] = []
        self._frames: list[int] = []

    def _single_frame(self) -> None:
        k = self.states.frame_index(self._ts.time)
        if k is None:
            return
        box, points = freud_system(self._ts.dimensions, self.system.positions)
        self._steinhardt.compute((box, points), neighbors=self.neighbors)
        q = np.asarray(self._steinhardt.particle_order, dtype=np.float64).reshape(len(points), -1)
        self._q.append(q[self._target_rows])
        axis = AXES[self.axis]
        vectors = triclinic_vectors(self._ts.dimensions)
        fractional = self.targets.positions @ np.linalg.inv(vectors)  # [T, 3]
        self._fractional.append(fractional[:, axis] % 1.0)
        self._lengths.append(float(np.linalg.norm(vectors[axis])))
        self._frames.append(k)

    def _conclude(self) -> None:
        if not self._frames:
            raise ParameterError(
                "no frame of the trajectory has a time of the GDyNet result; give the "
                "trajectory the result was made from"
            )
        r = self.results
        frames = np.asarray(self._frames)
        chi = self.states.probability[frames][:, self.states.target_group]  # [F, T, K]
        r.q = np.stack(self._q)  # [F, T, L]
        r.l = np.asarray(self.l)
        r.q_edges = np.linspace(0.0, 1.0, self.nbins_q + 1)
        k_states, n_l = chi.shape[2], len(self.l)
        r.q_histogram = np.zeros((k_states, n_l, self.nbins_q))
        r.q_mean = np.zeros((k_states, n_l))
        r.q_std = np.zeros((k_states, n_l))
        weights = chi.reshape(-1, k_states)  # [F*T, K]
        values = np.nan_to_num(r.q.reshape(-1, n_l))  # [F*T, L]; NaN for atoms w/o neighbours
        for s in range(k_states):
            w = weights[:, s]
            total = w.sum()
            for j in range(n_l):
                hist, _ = np.histogram(values[:, j], bins=r.q_edges, weights=w)
                r.q_histogram[s, j] = hist / total if total > 0 else hist
                mean = np.sum(w * values[:, j]) / total if total > 0 else np.nan
                r.q_mean[s, j] = mean
                r.q_std[s, j] = (
                    np.sqrt(np.sum(w * (values[:, j] - mean) ** 2) / total) if total > 0 else np.nan
                )
        length = float(np.mean(self._lengths))
        fractional = np.stack(self._fractional)  # [F, T]
        r.axis_edges = np.linspace(0.0, length, self.nbins_axis + 1)
        r.axis_profile = np.zeros((k_states, self.nbins_axis))
        for s in range(k_states):
            hist, _ = np.histogram(
                fractional.ravel() * length, bins=r.axis_edges, weights=chi[:, :, s].ravel()
            )
            r.axis_profile[s] = hist / len(frames)
        r.n_frames_used = len(frames)


class RepresentativeConfigurations(SerialStateAnalysis, AnalysisBase):
    """Per state, the most probable target-frames as extxyz snapshots of the environment.

    Parameters
    ----------
    universe : MDAnalysis.Universe
    result : xarray.Dataset, path or GDyNetAnalysis
    membership : {"refined", "softmax", "assignment"}
    n_per_state : int
        Snapshots per state (distinct frames are preferred: one target per frame).
    radius : float, Å
        Atoms within ``radius`` of the target atom are written, unwrapped
        around it (minimum image), the target at the origin.
    **kwargs
        Passed to :class:`~MDAnalysis.analysis.base.AnalysisBase`.

    Attributes
    ----------
    results.snapshots : list of list of ase.Atoms
        ``snapshots[k]``: the configurations of state ``k``, most probable first;
        ``info`` holds ``state``, ``probability``, ``time_ps``, ``target_atom``.
    """

    def __init__(
        self,
        universe,
        result,
        membership: str = "refined",
        n_per_state: int = 3,
        radius: float = 6.0,
        **kwargs,
    ) -> None:
        universe = universe.universe
        super().__init__(universe.trajectory, **kwargs)
        if n_per_state < 1 or not radius > 0:
            raise ParameterError(
                f"n_per_state must be >= 1 and radius > 0 Å, got {n_per_state} and {radius}"
            )
        self.universe = universe
        self.states = StateProbabilities(result, membership)
        self.states.check_universe(universe)
        self.n_per_state, self.radius = int(n_per_state), float(radius)

    def _prepare(self) -> None:
        from asegraph.analysis.dynamics.trajectory import species_labels

        self._labels = np.asarray(species_labels(self.universe.atoms))
        p = self.states.probability  # [F, G, K]
        self._wanted: dict[int, list[tuple[int, int, float]]] = {}
        self._picks = []
        for k in range(self.states.n_states):
            best = p[:, :, k].max(axis=1)  # one target per frame: [F]
            group = p[:, :, k].argmax(axis=1)
            frames = np.argsort(-best, kind="stable")[: self.n_per_state]
            self._picks.append([(int(f), int(group[f]), float(best[f])) for f in frames])
            for f in frames:
                self._wanted.setdefault(int(f), []).append((k, int(group[f]), float(best[f])))
        self._found: dict[tuple[int, int], object] = {}

    def _single_frame(self) -> None:
        k = self.states.frame_index(self._ts.time)
        if k is None or k not in self._wanted:
            return
        for state, group, probability in self._wanted[k]:
            atom = int(
                self.states.target_atoms[np.flatnonzero(self.states.target_group == group)[0]]
            )
            self._found[(state, k)] = self._snapshot(atom, state, probability)

    def _snapshot(self, atom: int, state: int, probability: float):
        from ase import Atoms
        from ase.data import chemical_symbols

        positions = self.universe.atoms.positions
        box = self._ts.dimensions
        pairs, _ = capped_distance(positions[atom], positions, self.radius, box=box)
        near = np.unique(pairs[:, 1])
        vectors = minimize_vectors(positions[near] - positions[atom], box)  # [n, 3], Å
        labels = self._labels[near]
        symbols = [x if x in chemical_symbols else "X" for x in labels]
        snapshot = Atoms(symbols=symbols, positions=vectors, pbc=False)
        snapshot.arrays["species"] = np.asarray(labels, dtype="U16")
        snapshot.arrays["atom_index"] = near.astype(np.int64)
        snapshot.info.update(
            state=state,
            probability=probability,
            time_ps=float(self._ts.time),
            target_atom=atom,
        )
        return snapshot

    def _conclude(self) -> None:
        self.results.snapshots = [
            [self._found[(k, f)] for f, _, _ in picks if (k, f) in self._found]
            for k, picks in enumerate(self._picks)
        ]

    def write(self, stem: str | Path) -> list[Path]:
        """Write ``<stem>_state<k>.extxyz`` (one multi-frame file per state), atomically."""
        import io

        import ase.io

        from asegraph._utils.files import atomic_write_text

        written = []
        for k, snapshots in enumerate(self.results.snapshots):
            buffer = io.StringIO()
            ase.io.write(buffer, snapshots, format="extxyz")
            path = Path(f"{stem}_state{k}.extxyz")
            atomic_write_text(path, buffer.getvalue())
            written.append(path)
        return written
