"""The tour behind ``asegraph demo``: the three uses of asegraph on bundled data, offline.

1. :func:`cgcnn_step` — a CGCNN trained on the bundled EMT alloy energies, tested
   against the mean-value baseline, then used as an ASE calculator.
2. :func:`gdynet_step` — GDyNet on the bundled Li-in-FCC-S toy trajectory, written
   to netCDF.
3. :func:`bo_step` — a short Bayesian-optimisation campaign on a synthetic
   evaluator (Hartmann-6 with noise), the machinery of ``asegraph optimize``.

Each step returns a :class:`TourStep` with one result line and the files it wrote.
Sizes are chosen so the whole tour takes about three minutes on two cores, most
of it the CGCNN's training budget (``max_time_s``).
"""

from __future__ import annotations

import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class TourStep:
    """The outcome of one step of the tour.

    Attributes
    ----------
    name : str
        ``"cgcnn"``, ``"gdynet"`` or ``"bo"``.
    summary : str
        One line: the result and what it is compared with.
    outputs : list of Path
        Files and folders the step wrote.
    seconds : float
        Wall-clock time of the step, s.
    details : dict
        The numbers behind the summary (for tests and scripts).
    """

    name: str
    summary: str
    outputs: list[Path]
    seconds: float
    details: dict = field(default_factory=dict)


def cgcnn_step(
    output_dir: str | Path,
    seed: int = 0,
    max_time_s: float = 60.0,
    progress: bool = False,
    epochs: int = 400,
) -> TourStep:
    """Train a gated CGCNN on the bundled alloys (80/10/10 split), then use it in ASE.

    Training stops after ``epochs`` epochs or ``max_time_s`` seconds, whichever
    comes first (the time budget is what keeps the tour short on any machine).

    Writes ``best_model.pt``, ``log.csv`` and ``test_predictions.csv`` (id, EMT and
    CGCNN energy per atom, eV/atom) into ``output_dir``; a previous run's training
    files are removed first, so the step always starts afresh.
    """
    import ase.io
    import torch
    from ase.calculators.emt import EMT

    from asegraph._utils.files import atomic_write_text
    from asegraph.calculators import CGCNNCalculator
    from asegraph.data.emt_alloys import EXAMPLE_PATH
    from asegraph.graph.crystal_graph import build_graphs
    from asegraph.models import CGCNN, CGCNNConfig
    from asegraph.training import Trainer, TrainingConfig

    start = time.perf_counter()
    out = Path(output_dir)
    for stale in ("checkpoint.pt", "log.csv", "best_model.pt"):
        (out / stale).unlink(missing_ok=True)
    frames = ase.io.read(EXAMPLE_PATH, index=":")
    targets = np.array([f.info["energy_per_atom"] for f in frames])  # eV/atom
    graphs = build_graphs(frames, cutoff=6.0, names=[f"alloy-{k}" for k in range(len(frames))])
    order = np.random.default_rng(seed).permutation(len(graphs))
    n_train, n_val = int(0.8 * len(order)), int(0.1 * len(order))
    split = {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }

    def pick(name):
        return [graphs[i] for i in split[name]], targets[split[name]]

    with torch.random.fork_rng():  # the weights' initialisation, without touching the caller's
        torch.manual_seed(seed)
        model = CGCNN(
            CGCNNConfig(
                targets=["energy_per_atom"],
                units=["eV/atom"],
                atom_dim=32,
                n_conv=3,
                hidden_dim=64,
                cutoff=6.0,
                gaussian={"start": 0.0, "stop": 6.0, "step": 0.2, "width": 0.2},
            )
        )
    trainer = Trainer(
        model,
        TrainingConfig(epochs=epochs, batch_size=32, lr=3e-3, max_time_s=max_time_s, seed=seed),
        output_dir=out,
        progress=progress,
    )
    trainer.fit(*pick("train"), *pick("val"))
    test_graphs, test_y = pick("test")
    test = trainer.evaluate(test_graphs, test_y)
    baseline = float(np.abs(test_y - targets[split["train"]].mean()).mean())
    predicted = trainer.predict(test_graphs)[:, 0]
    lines = ["id,energy_per_atom_emt,energy_per_atom_cgcnn"]
    lines += [f"alloy-{i},{y:.6f},{p:.6f}" for i, y, p in zip(split["test"], test_y, predicted)]
    atomic_write_text(out / "test_predictions.csv", "\n".join(lines) + "\n")

    # The trained model behind ASE: energy and autograd forces of a test alloy, with EMT
    # (the potential that labelled the data) beside it.
    alloys = [i for i in split["test"] if len(set(frames[i].numbers)) > 1]
    k = int(max(alloys or split["test"], key=lambda i: len(frames[i])))  # largest test alloy
    atoms = frames[k].copy()
    atoms.calc = CGCNNCalculator(model)
    energy = atoms.get_potential_energy() / len(atoms)  # eV/atom
    max_force = float(np.abs(atoms.get_forces()).max())  # eV/Å
    atoms.calc = EMT()
    energy_emt = atoms.get_potential_energy() / len(atoms)
    summary = (
        f"CGCNN: {len(trainer.history)} epochs on {n_train} alloys, test MAE "
        f"{test['mae'] * 1000:.1f} meV/atom (predicting the mean: {baseline * 1000:.1f}); "
        f"as an ASE calculator on {atoms.get_chemical_formula()}: {energy:.3f} eV/atom "
        f"(EMT {energy_emt:.3f}), max |F| {max_force:.2f} eV/Å"
    )
    return TourStep(
        "cgcnn",
        summary,
        [out / "best_model.pt", out / "log.csv", out / "test_predictions.csv"],
        time.perf_counter() - start,
        {
            "test_mae": float(test["mae"]),
            "baseline_mae": baseline,
            "epochs": len(trainer.history),
            "calculator_energy": float(energy),
            "emt_energy": float(energy_emt),
        },
    )


def gdynet_step(
    output_dir: str | Path, seed: int = 0, n_frames: int = 1500, max_epochs: int = 10
) -> TourStep:
    """GDyNet with two states on the first ``n_frames`` of the bundled toy trajectory.

    Writes ``li.nc`` (the xarray Dataset), ``li.pt`` (the model) and PNG figures into
    ``output_dir``. The toy is the thesis' test case: 16 Li hopping between the
    tetrahedral and octahedral sites of an FCC S lattice (frames 0.1 ps apart).
    """
    import MDAnalysis as mda

    from asegraph.analysis.dynamics import GDyNetAnalysis
    from asegraph.examples.li_fcc import shipped_trajectory

    start = time.perf_counter()
    topology, trajectory = shipped_trajectory()
    with warnings.catch_warnings():
        # MDAnalysis 2.x announces a future change of its DCD reader on every DCD it
        # reads; the tour reads every frame once and is not affected
        warnings.filterwarnings("ignore", message="DCDReader currently makes independent")
        universe = mda.Universe(str(topology), str(trajectory))
        gd = GDyNetAnalysis(
            universe,
            select="name Li",
            environment="name S",
            n_states=2,
            lag="1ps",
            max_epochs=max_epochs,
            seed=seed,
        ).run(stop=n_frames)
    written = gd.save(Path(output_dir) / "li.nc")
    ds = gd.results.dataset
    its = ds["implied_timescale"].sel(lag=1.0, method="nearest").max().item()  # ps
    passed = bool(ds.attrs["ck_passed"])
    summary = (
        f"GDyNet: {ds.sizes['target']} Li over {ds.sizes['time']} frames, slowest implied "
        f"timescale {its:.1f} ps at lag 1 ps, Chapman-Kolmogorov test "
        f"{'passed' if passed else 'failed'}"
    )
    return TourStep(
        "gdynet",
        summary,
        written,
        time.perf_counter() - start,
        {"implied_timescale_ps": float(its), "ck_passed": passed},
    )


def bo_step(output_dir: str | Path, seed: int = 0, budget: int = 24, batch: int = 4) -> TourStep:
    """Batch Bayesian optimisation of noisy Hartmann-6 (maximum 3.322) against random search.

    Two campaigns of ``budget`` evaluations each, ``lp-logei`` (local penalisation of
    log expected improvement, batches of ``batch``) and ``random``, in
    ``output_dir/bo.campaign/{lp-logei,random}``; an earlier run there is removed
    first.
    """
    from asegraph.optimize.campaign import Campaign, CampaignConfig
    from asegraph.optimize.space import DesignSpace, Parameter
    from asegraph.optimize.testfunctions import HARTMANN6_MAX

    start = time.perf_counter()
    root = Path(output_dir) / "bo.campaign"
    shutil.rmtree(root, ignore_errors=True)  # the tour starts afresh (campaigns resume)
    space = DesignSpace([Parameter(f"x{k}", 0.0, 1.0) for k in range(6)])
    best = {}
    for strategy in ("lp-logei", "random"):
        config = CampaignConfig(
            space=space,
            name=f"hartmann6-{strategy}",
            seed=seed,
            strategy=strategy,
            n_initial=min(8, budget),
            batch=batch,
            budget=budget,
            objective="value",  # the synthetic evaluator returns "value" (to maximise)
            evaluator="asegraph.optimize.testfunctions:synthetic",
            simulation={"function": "hartmann6", "noise_sd": 0.05},
        )
        results = Campaign(config, root / strategy).run(executor="threads", progress=False)
        best[strategy] = max(r["value"] for r in results.values() if r["status"] == "ok")
    summary = (
        f"BO: best of {budget} noisy Hartmann-6 evaluations {best['lp-logei']:.2f} with "
        f"batches of {batch} (random search: {best['random']:.2f}; maximum {HARTMANN6_MAX:.2f})"
    )
    return TourStep(
        "bo",
        summary,
        [root / "lp-logei", root / "random"],
        time.perf_counter() - start,
        {"best": best["lp-logei"], "random_best": best["random"]},
    )


def run_tour(
    output_dir: str | Path = "asegraph-demo",
    seed: int = 0,
    max_time_s: float = 60.0,
    progress: bool = False,
    on_step=None,
    epochs: int = 400,
) -> list[TourStep]:
    """Run the three steps; call ``on_step(step)`` after each (e.g. to print it).

    Parameters
    ----------
    output_dir : path
        Everything is written here (created if missing).
    seed : int
        Seeds the data split, the initial weights, GDyNet and the campaigns.
    max_time_s : float, s
        Training budget of the CGCNN (the rest of the tour takes about a minute).
    progress : bool
        Progress bar over the CGCNN's epochs.
    on_step : callable, optional
        Called with each :class:`TourStep` as soon as it finishes.
    epochs : int
        At most this many CGCNN epochs (``max_time_s`` may stop training earlier).
    """
    if max_time_s <= 0:
        from asegraph.exceptions import ParameterError

        raise ParameterError(f"max_time_s must be > 0 seconds, got {max_time_s}")
    if epochs < 1:
        from asegraph.exceptions import ParameterError

        raise ParameterError(f"epochs must be >= 1, got {epochs}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    steps = []
    for step in (
        lambda: cgcnn_step(out, seed, max_time_s, progress, epochs),
        lambda: gdynet_step(out, seed),
        lambda: bo_step(out, seed),
    ):
        steps.append(step())
        if on_step is not None:
            on_step(steps[-1])
    return steps
