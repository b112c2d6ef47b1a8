"""``GDyNetAnalysis``: GDyNet as an MDAnalysis analysis class.

Example
-------
>>> import MDAnalysis as mda
>>> from asegraph.analysis.dynamics import GDyNetAnalysis
>>> u = mda.Universe("top.pdb", "traj.dcd")
>>> gd = GDyNetAnalysis(u, select="name Li", n_states=2, lag="1ps").run(step=1)
>>> gd.results.dataset["implied_timescale"]          # (lag, process), ps
>>> gd.save("li.nc")                                 # netCDF + li.pt model + PNGs

The frames are streamed once (``_single_frame`` stores each frame's
neighbour table, see :mod:`~asegraph.analysis.dynamics.graphs`); training,
the Koopman analysis and the Dataset happen in ``_conclude``.
:meth:`GDyNetAnalysis.build_graphs` runs the same frame loop alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from MDAnalysis.analysis.base import AnalysisBase

from asegraph.analysis.dynamics.graphs import FrameGraphs, GraphStore
from asegraph.analysis.dynamics.koopman import (
    INTERVAL_SOURCES,
    crisp_memberships,
    koopman_analysis,
    membership_map,
    softmax_order,
)
from asegraph.analysis.dynamics.model import build_model
from asegraph.analysis.dynamics.training import (
    GDyNetTrainer,
    GraphData,
    atomic_torch_save,
    split_blocks,
)
from asegraph.analysis.dynamics.trajectory import (
    check_box,
    file_frames,
    frame_cell,
    parse_time,
    select_targets,
    species_labels,
)
from asegraph.exceptions import ParameterError

MODEL_FORMAT = "asegraph-gdynet-model-2"


class GDyNetAnalysis(AnalysisBase):
    """Learn Koopman states and timescales of target atoms/molecules (thesis ch. 4).

    Parameters
    ----------
    universe : MDAnalysis.Universe or AtomGroup
        The whole system (neighbours may be any atom).
    select : str
        MDAnalysis selection of the target atoms.
    n_states : int
        ``K`` >= 2.
    lag : float or str
        Lag time ``tau``: ps, or a string such as ``"1ps"``, ``"500fs"``; it
        must be a whole number of analysed frames.
    group : {"atoms", "residues", "molecules"}
        Pool target atoms per residue or molecule (e.g. water).
    environment : str, optional
        MDAnalysis selection of the atoms allowed as neighbours (default: all).
        E.g. ``"not name Li"`` when the targets are independent walkers whose
        mutual encounters should not count as a slow process.
    max_neighbors : int
        ``M`` nearest neighbours per target atom.
    cutoff : float, Å
        Neighbour search radius (and end of the Gaussian expansion).
    split : (float, float, float)
        Contiguous (train, validation, test) fractions of the frames of one
        trajectory; with several trajectory files, the training files are cut
        train:validation in these proportions and the test files analysed whole.
    train_files, test_files : list of int, optional
        With several independent trajectory files (a ``ChainReader`` universe, or
        several files given to :func:`~asegraph.analysis.dynamics.trajectory.load_universe`):
        positions (0-based) of the files to train on and to analyse. Default:
        train on the first, analyse the others. No lag pair crosses a file
        boundary, ever.
    timestep_ps : float, optional, ps
        Overrides the trajectory's time between frames.
    atom_dim, n_conv, hidden_dim : int
        Model size (see :class:`~asegraph.analysis.dynamics.model.GDyNet`).
    receptive_field : {"multi-shell", "first-shell"}
        ``"multi-shell"`` (thesis Eq. 4.4): every atom of the graph is
        convolved, so ``n_conv`` convolutions reach the ``n_conv``-th neighbour
        shell. ``"first-shell"``: only the targets are updated from their
        neighbours' raw type embeddings — faster, but blind beyond the first
        shell. A ``model_file`` brings its own.
    max_epochs, patience, batch_frames : int
    learning_rate : float
    seed : int
        Seeds the initial weights and the shuffling (no global seeding).
    its_lags : sequence of float, ps, optional
        Lags of the implied-timescale scan (default ~10 lags up to 4 ``lag``).
    ck_steps : int
    n_blocks : int
        Independent subsets of the test block for the 95 % intervals.
    interval_source : {"auto", "time", "targets", "trajectories"}
        Where the intervals come from: ``auto`` = the independent test
        trajectories when there are several, else ``n_blocks`` contiguous time
        blocks; ``targets`` = disjoint random (seeded) target subsets. When the
        subsets are too short for the CK test, it falls back (fewer blocks,
        target subsets, fewer CK steps) and says so (``dataset.attrs["fallback"]``).
    checkpoint : path, optional
        Training checkpoint; an existing one is resumed.
    model_file : path, optional
        A model written by :meth:`save`: skip training and apply it to every
        analysed frame (all of them are test frames).
    graphs : GraphStore, optional
        Neighbour tables already built by :meth:`build_graphs` of an analysis
        with the same universe, selection, environment, neighbours, receptive
        field and frames (e.g. a scan over K and lag): the frames are not
        searched again.
    graph_cache : path, optional
        Keep the neighbour lists in memory-mapped files ``<graph_cache>.*.npy``
        instead of RAM (``8 T M`` bytes per frame), for very long trajectories.
    verbose : bool
        Progress bars (frames, epochs).
    """

    def __init__(
        self,
        universe,
        select: str = "name Li",
        n_states: int = 2,
        lag: float | str = 1.0,
        group: str = "atoms",
        environment: str | None = None,
        max_neighbors: int = 12,
        cutoff: float = 6.0,
        split: tuple[float, float, float] = (0.5, 0.25, 0.25),
        train_files: list[int] | None = None,
        test_files: list[int] | None = None,
        timestep_ps: float | None = None,
        atom_dim: int = 16,
        n_conv: int = 2,
        hidden_dim: int = 16,
        receptive_field: str = "multi-shell",
        max_epochs: int = 30,
        patience: int = 5,
        batch_frames: int = 32,
        learning_rate: float = 3e-3,
        seed: int = 0,
        its_lags=None,
        ck_steps: int = 5,
        n_blocks: int = 5,
        interval_source: str = "auto",
        checkpoint: str | Path | None = None,
        model_file: str | Path | None = None,
        graph_cache: str | Path | None = None,
        graphs: GraphStore | None = None,
        verbose: bool = False,
    ) -> None:
        universe = universe.universe
        super().__init__(universe.trajectory, verbose=verbose)
        if int(n_states) != n_states or n_states < 2:
            raise ParameterError(f"n_states must be an integer >= 2, got {n_states!r}")
        if max_neighbors < 1 or cutoff <= 0:
            raise ParameterError(
                f"max_neighbors must be >= 1 and cutoff > 0 Å, got {max_neighbors} and {cutoff}"
            )
        if interval_source not in INTERVAL_SOURCES:
            raise ParameterError(
                f"interval_source must be one of {INTERVAL_SOURCES}, got {interval_source!r}"
            )
        self.universe = universe
        self.select, self.group = select, group
        self.n_states, self.lag_ps = int(n_states), parse_time(lag, "lag")
        self.timestep_ps = None if timestep_ps is None else parse_time(timestep_ps, "timestep")
        self.targets, self.group_index = select_targets(universe, select, group)
        self.environment_select = environment
        self.environment = None
        if environment is not None:
            try:
                chosen = universe.select_atoms(environment)
            except Exception as exc:  # SelectionError and friends
                raise ParameterError(
                    f"environment={environment!r}: MDAnalysis cannot parse it: {exc}"
                ) from exc
            if chosen.n_atoms == 0:
                raise ParameterError(
                    f"environment={environment!r} selects no atoms; the targets need neighbours"
                )
            self.environment = np.zeros(universe.atoms.n_atoms, dtype=bool)
            self.environment[chosen.indices] = True
        labels = species_labels(universe.atoms)
        self.vocabulary = sorted(set(labels))
        self.model_state = None
        if model_file is not None:
            from asegraph.analysis.dynamics.training import load_checkpoint

            self.model_state = load_checkpoint(model_file)
            self.vocabulary = list(self.model_state["vocabulary"])
            unknown = sorted(set(labels) - set(self.vocabulary))
            if unknown:
                raise ParameterError(
                    f"model_file '{model_file}' was trained on species {self.vocabulary}; this "
                    f"system also has {unknown} — train a new model"
                )
        if self.model_state is not None:
            # model files from before the multi-shell default were first-shell models
            config = {"receptive_field": "first-shell", **self.model_state.get("config", {})}
            self.model_state["config"] = config
            receptive_field = config["receptive_field"]
            # the model brings its own states and cutoff: another K was written into the
            # result's attributes over the model's K states, another cutoff built other graphs
            for name, option, given in (
                ("n_states", "--states", self.n_states),
                ("cutoff", "--cutoff", float(cutoff)),
            ):
                saved = config.get(name)
                if saved is not None and not np.isclose(float(saved), float(given)):
                    raise ParameterError(
                        f"{name}={given:g} but model_file '{model_file}' was trained with "
                        f"{name}={saved:g}; give {saved:g} ({option} {saved:g}) or train a new "
                        "model"
                    )
        lookup = {label: i for i, label in enumerate(self.vocabulary)}
        self.species = np.array([lookup[label] for label in labels], dtype=np.int64)
        self.max_neighbors, self.cutoff, self.split = int(max_neighbors), float(cutoff), split
        self.train_files, self.test_files = train_files, test_files
        self.model_config = {
            "n_species": len(self.vocabulary),
            "n_states": self.n_states,
            "atom_dim": atom_dim,
            "n_conv": n_conv,
            "hidden_dim": hidden_dim,
            "cutoff": self.cutoff,
            "receptive_field": receptive_field,
        }
        self.frame_graphs = FrameGraphs(
            universe.atoms.n_atoms,
            self.targets,
            self.environment,
            self.max_neighbors,
            self.cutoff,
            receptive_field,
        )
        self.training = {
            "max_epochs": max_epochs,
            "patience": patience,
            "batch_frames": batch_frames,
            "learning_rate": learning_rate,
        }
        self.seed = int(seed)
        self.its_lags_ps = (
            None if its_lags is None else [parse_time(x, "its_lags") for x in its_lags]
        )
        self.ck_steps, self.n_blocks, self.interval_source = ck_steps, n_blocks, interval_source
        self.checkpoint, self.model_file = checkpoint, model_file
        self.graph_cache = graph_cache
        self.reused_graphs = graphs

    def _prepare(self) -> None:
        if self.n_frames < 2:
            raise ParameterError(
                f"only {self.n_frames} frame(s) left after slicing start={self.start}, "
                f"stop={self.stop}, step={self.step}; GDyNet needs a trajectory of at least 2 "
                f"frames"
            )
        if self.start is None:  # run(frames=...)
            raise ParameterError(
                "GDyNetAnalysis needs evenly spaced frames: use run(start, stop, step) instead "
                "of run(frames=...)"
            )
        dt = self.timestep_ps if self.timestep_ps is not None else self._trajectory.dt
        self.frame_ps = float(dt) * self.step
        check_box(self._trajectory[self.start].dimensions, self.start)
        expected = (self.n_frames, self.frame_graphs.n_rows, self.max_neighbors)
        if self.reused_graphs is not None:
            if self.reused_graphs.neighbors.shape != expected:
                raise ParameterError(
                    f"graphs: the given neighbour tables have shape "
                    f"{self.reused_graphs.neighbors.shape}, this analysis needs {expected} "
                    f"(frames, rows, neighbours); build them with the same settings and frames"
                )
            self.store = self.reused_graphs
        else:
            self.store = GraphStore(*expected, self.graph_cache)
        if not getattr(self, "_graphs_only", False):
            self._check_lag()

    def _check_lag(self) -> None:
        """Lag in frames, and the train/validation/test blocks."""
        lag_frames = self.lag_ps / self.frame_ps
        if round(lag_frames) < 1 or abs(lag_frames - round(lag_frames)) > 1e-3 * lag_frames:
            raise ParameterError(
                f"lag={self.lag_ps} ps is not a whole number of analysed frames of "
                f"{self.frame_ps:g} ps (timestep × step); use a multiple of {self.frame_ps:g} ps"
            )
        self.lag_frames = int(round(lag_frames))
        if self.lag_frames >= self.n_frames:
            raise ParameterError(
                f"lag={self.lag_ps:g} ps ({self.lag_frames} frames) is not shorter than the "
                f"analysed trajectory ({self.n_frames} frames, "
                f"{self.n_frames * self.frame_ps:g} ps); use a shorter lag or more frames"
            )
        self.segments = self._segments()
        self.blocks = split_blocks(
            self.segments,
            self.split,
            self.lag_frames,
            self.train_files,
            self.test_files,
            apply_only=self.model_state is not None,
        )

    def _segments(self) -> list[range]:
        """Analysed frames (indices 0..F-1) of each independent trajectory file."""
        counts = file_frames(self.universe)
        ends = np.cumsum(counts)  # global frame index where each file ends
        frames = np.arange(self.start, self.stop, self.step)  # global index of analysed frames
        files = np.searchsorted(ends, frames, side="right")
        self.frame_file = files  # [F] file of each analysed frame
        return [range(int(a), int(b)) for a, b in _runs(files)]

    def _single_frame(self) -> None:
        if self.reused_graphs is not None:
            return
        ts = self._ts
        check_box(ts.dimensions, ts.frame)
        neighbors, distances = self.frame_graphs(ts.positions, frame_cell(ts.dimensions), ts.frame)
        self.store.set_frame(self._frame_index, neighbors, distances, float(ts.time))

    def build_graphs(self, start=None, stop=None, step=None) -> GraphStore:
        """Only the frame loop of :meth:`run`: the neighbour tables of the frames.

        Returns
        -------
        GraphStore
            Also kept as ``self.store``; :meth:`run` builds exactly the same.
        """
        self._graphs_only = True
        try:
            self.run(start=start, stop=stop, step=step)
        finally:
            self._graphs_only = False
        return self.store

    def graph_data(self) -> GraphData:
        """The model input of the frames read so far (after :meth:`build_graphs`)."""
        graphs = self.frame_graphs
        return GraphData(
            self.store,
            self.species[graphs.nodes],
            graphs.row_nodes,
            graphs.target_rows,
            self.group_index,
        )

    def _conclude(self) -> None:
        from asegraph.analysis.dynamics.io import build_dataset

        if getattr(self, "_graphs_only", False):
            return
        data = self.graph_data()
        seed = self.seed
        if self.model_state is not None:
            self.model_config = dict(self.model_state["config"])
            seed = int(self.model_state["seed"])
        model = build_model(self.model_config, seed)
        trainer = GDyNetTrainer(
            model,
            data,
            self.lag_frames,
            self.blocks,
            seed=seed,
            checkpoint=self.checkpoint,
            **self.training,
        )
        if self.model_state is not None:
            model.load_state_dict(self.model_state["model"])
            trainer.max_epochs = 0
            model.eval()
        else:
            trainer.fit(progress=self._verbose)
        chi = trainer.transform(range(self.n_frames))  # [F, n, K]
        if self.model_state is not None:
            mapping = np.asarray(self.model_state["membership_map"])
        else:
            fitted = np.concatenate([chi[b.start : b.stop] for b in self.fitted_blocks])
            mapping = membership_map(fitted.reshape(-1, self.n_states))
        memberships = chi @ mapping  # [F, n, K], rows sum to 1
        softmax = chi[:, :, softmax_order(mapping)]  # thesis' states, in the same order
        its_lags = (
            None
            if self.its_lags_ps is None
            else [int(round(t / self.frame_ps)) for t in self.its_lags_ps]
        )
        test = self.blocks.test
        settings = (self.lag_frames, its_lags, self.ck_steps, self.n_blocks, self.interval_source)
        koopman = koopman_analysis([memberships[b.start : b.stop] for b in test], *settings, seed)
        # the thesis' definition: Koopman model of the raw softmax, same subsets and CK steps
        used = (self.lag_frames, koopman.its_lags, len(koopman.ck_lags), koopman.n_blocks)
        koopman_softmax = koopman_analysis(
            [softmax[b.start : b.stop] for b in test], *used, koopman.interval_source, seed
        )
        first = self.store.times[0] if self.timestep_ps is None else self.start * self.timestep_ps
        times = first + np.arange(self.n_frames) * self.frame_ps  # [F], ps
        role = np.full(self.n_frames, -1, dtype=np.int8)
        for code, name in enumerate(("train", "validation", "test")):
            for block in getattr(self.blocks, name):
                role[block.start : block.stop] = code
        attrs = {
            "select": self.select,
            "group": self.group,
            "environment": self.environment_select,
            "n_states": self.n_states,
            "lag_ps": self.lag_ps,
            "lag_frames": self.lag_frames,
            "frame_ps": self.frame_ps,
            "seed": seed,
            "max_neighbors": self.max_neighbors,
            "cutoff_angstrom": self.cutoff,
            "receptive_field": self.model_config["receptive_field"],
            "split": list(self.split),
            "hyperparameters": {**self.model_config, **self.training},
            "batch_frames_used": trainer.batch_frames_used,
            "species": self.vocabulary,
            "n_trajectory_files": len(self.segments),
            "test_start_ps": float(times[test[0].start]),
            "test_stop_ps": float(times[test[-1].stop - 1]),
            "interval_source": koopman.interval_source,
            "n_blocks": koopman.n_blocks,
            "ck_steps": len(koopman.ck_lags),
            "fallback": koopman.fallback,
            "model_file": str(self.model_file),
            "trajectory": str(getattr(self._trajectory, "filename", None)),
            "best_validation_vamp2": float(trainer.best_score),
        }
        self.results.dataset = build_dataset(
            koopman,
            crisp_memberships(memberships),
            times,
            self.frame_ps,
            self.targets,
            self.group_index,
            trainer.history,
            attrs,
            softmax=softmax,
            softmax_result=koopman_softmax,
            test_frames=role == 2,
            frame_role=role,
            frame_file=self.frame_file,
        )
        self.results.koopman = koopman
        self.results.koopman_softmax = koopman_softmax
        self.results.model = model
        self.results.softmax = chi
        self.results.memberships = memberships
        self.results.membership_map = mapping
        self.results.history = trainer.history
        self.results.blocks = self.blocks

    @property
    def fitted_blocks(self) -> list[range]:
        """Frames the model was fitted on (training and validation)."""
        return self.blocks.train + self.blocks.validation

    def model_state_dict(self) -> dict:
        """Everything needed to apply the trained model to another trajectory."""
        return {
            "format": MODEL_FORMAT,
            "config": self.results.model.config,
            "model": self.results.model.state_dict(),
            "vocabulary": self.vocabulary,
            "membership_map": self.results.membership_map.tolist(),
            "seed": self.seed,
            "lag_ps": self.lag_ps,
            "select": self.select,
            "group": self.group,
            "environment": self.environment_select,
            "max_neighbors": self.max_neighbors,
            "cutoff": self.cutoff,
        }

    def save(self, path: str | Path, figures: bool = True) -> list[Path]:
        """Write ``path`` (netCDF), ``<stem>.pt`` (model) and, optionally, PNG figures."""
        from asegraph.analysis.dynamics.io import write_figures, write_netcdf

        if not hasattr(self.results, "dataset"):
            raise ParameterError("nothing to save: call run() first")
        path = Path(path)
        stem = path.with_suffix("")
        model_path = path.with_name(f"{stem.name}.pt")  # stems may hold dots (K2_lag0.5ps)
        atomic_torch_save(self.model_state_dict(), model_path)
        written = [write_netcdf(self.results.dataset, path), model_path]
        if figures:
            written += write_figures(self.results.dataset, stem)
        return written


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of equal consecutive values."""
    cuts = np.flatnonzero(np.diff(values)) + 1
    edges = np.concatenate([[0], cuts, [len(values)]])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
