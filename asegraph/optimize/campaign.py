"""Persistent, resumable Bayesian-optimisation campaigns over simulations.

A campaign proposes design points (an initial design, then a BO strategy
from :mod:`asegraph.optimize.acquisition`), runs the evaluator on each through a
:mod:`concurrent.futures` executor — processes by default, ``dask.distributed``
when a scheduler address is given — and appends every proposal and every
result to an append-only store (:mod:`asegraph.optimize.store`) the moment it
happens.  Proposals come in batches, as in the thesis (ch. 5.2: "multiple points
are proposed in each iteration", local penalization of González et al. 2016): once
every evaluation of a batch has finished, the GP is refitted and the next
``batch`` points are chosen together.  The same seed gives the same campaign.
``schedule = "asynchronous"`` is the faster variant for evaluations of uneven
length: whenever a slot frees, the GP is refitted on the finished evaluations
and new points are chosen with the running ones as pending points (penalised by
local penalization, fantasised by qLogNEI), so no worker idles, but which
evaluation finishes first decides the next proposal and two runs with the same
seed can take different paths.

Resuming (run the same config on the same directory) re-submits the proposals
that have no result, with their original point and seed, and never re-runs a
finished one.  A failed evaluation (exception, non-finite value, dead worker)
is recorded with ``status="failed"`` and the campaign goes on.

Config file (TOML or YAML)::

    [campaign]
    name = "anion"          # default directory: <config dir>/<name>.campaign
    seed = 0
    strategy = "lp-logei"   # lp-logei | lp-ucb | qlognei | random | sobol
    n_initial = 10
    initial_design = "sobol"  # or "random" (the thesis: 50 random points)
    batch = 4
    budget = 100
    objective = "sigma_li"  # key of the evaluator's result to maximise
    transform = "identity"  # or "log10" (values floored at 1e-12)
    failed = "worst"        # failed points enter the GP at the worst value, or "skip"
    schedule = "synchronous"  # or "asynchronous": propose whenever a worker frees
    include_reference = true
    evaluator = "cgmd"      # or "package.module:function"

    [space]                 # see asegraph.optimize.space
    builtin = "peo_litfsi"
    group = "anion"

    [simulation]            # evaluator settings (CGMDSettings for "cgmd")
    n_chains = 20
"""

from __future__ import annotations

import importlib
import math
import socket
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asegraph._utils.jsonsafe import jsonsafe
from asegraph.exceptions import InputFileError, ParameterError
from asegraph.optimize.acquisition import INITIAL_DESIGNS, STRATEGIES, initial_point
from asegraph.optimize.space import DesignSpace, read_config_file, space_from_config
from asegraph.optimize.store import CampaignStore

__all__ = ["CampaignConfig", "Campaign", "evaluate", "make_executor"]

_CAMPAIGN_KEYS = {
    "name",
    "seed",
    "strategy",
    "n_initial",
    "initial_design",
    "batch",
    "budget",
    "objective",
    "transform",
    "failed",
    "include_reference",
    "evaluator",
    "beta",
    "schedule",
}


@dataclass
class CampaignConfig:
    """Validated campaign configuration (see module docstring for the file format)."""

    space: DesignSpace
    name: str = "campaign"
    seed: int = 0
    strategy: str = "lp-logei"
    n_initial: int = 10
    initial_design: str = "sobol"
    batch: int = 4
    budget: int = 100
    objective: str = "sigma_li"
    transform: str = "identity"
    failed: str = "worst"
    include_reference: bool = True
    evaluator: str = "cgmd"
    beta: float = 2.0
    schedule: str = "synchronous"
    simulation: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_types()
        if self.strategy not in STRATEGIES:
            raise ParameterError(
                f"campaign.strategy must be one of {list(STRATEGIES)}, got {self.strategy!r}"
            )
        for key in ("batch", "budget"):
            if int(getattr(self, key)) < 1:
                raise ParameterError(f"campaign.{key} must be >= 1, got {getattr(self, key)}")
        if self.n_initial < 0:
            raise ParameterError(f"campaign.n_initial must be >= 0, got {self.n_initial}")
        if self.initial_design not in INITIAL_DESIGNS:
            raise ParameterError(
                f"campaign.initial_design must be one of {list(INITIAL_DESIGNS)}, "
                f"got {self.initial_design!r}"
            )
        if self.transform not in ("identity", "log10"):
            raise ParameterError(
                f"campaign.transform must be 'identity' or 'log10', got {self.transform!r}"
            )
        if self.schedule not in ("asynchronous", "synchronous"):
            raise ParameterError(
                f"campaign.schedule must be 'asynchronous' or 'synchronous', got {self.schedule!r}"
            )
        if self.failed not in ("worst", "skip"):
            raise ParameterError(f"campaign.failed must be 'worst' or 'skip', got {self.failed!r}")
        if self.evaluator != "cgmd" and ":" not in self.evaluator:
            raise ParameterError(
                f"campaign.evaluator must be 'cgmd' or 'module:function', got {self.evaluator!r}"
            )
        if self.evaluator == "cgmd":
            from asegraph.optimize.cgmd.md import CGMDSettings

            sim = dict(self.simulation)
            if "secondary_ratio" not in sim and any(
                n.startswith(("r_ss", "eps_ss")) for n in self.space.names
            ):
                sim["secondary_ratio"] = 0.2  # thesis: one secondary site per 5 EO
            self.simulation = CGMDSettings.from_dict(sim, source="[simulation]").to_dict()
            from asegraph.optimize.cgmd.model import PARAMETER_NAMES

            # the CG model reads its parameters by name: a misspelt one (r_anion) was
            # optimised while every simulation used the default value
            unknown = sorted(set(self.space.names) - PARAMETER_NAMES)
            unknown += sorted(set(self.space.fixed) - PARAMETER_NAMES)
            if unknown:
                raise ParameterError(
                    f"[space]: {unknown} are not parameters of the CG-MD evaluator, which would "
                    f"ignore them; use {sorted(PARAMETER_NAMES)}"
                )

    def _check_types(self) -> None:
        """TOML gives strings and floats where integers belong: refuse before any folder exists."""
        for key, kind in _CAMPAIGN_TYPES.items():
            value = getattr(self, key)
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                continue
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                expected = {int: "an integer", float: "a number", str: "a string"}.get(
                    kind, "true or false"
                )
                raise ParameterError(
                    f"campaign.{key} must be {expected}, got {value!r} "
                    f"({type(value).__name__}); e.g. {key} = {_EXAMPLES[kind]}"
                )

    def check_objective(self) -> None:
        """Refuse an objective the evaluator does not declare (typos optimised ``value``).

        Evaluators declare their outputs: ``"cgmd"`` those of
        :func:`~asegraph.optimize.cgmd.md.run_cgmd`, a ``module:function``
        through a ``function.outputs`` sequence of keys. Undeclared evaluators are
        checked on their first result.
        """
        outputs = evaluator_outputs(self.evaluator)
        if outputs is not None and self.objective not in outputs:
            raise ParameterError(_objective_message(self.objective, self.evaluator, outputs))

    @classmethod
    def from_file(cls, path: str | Path, **overrides) -> CampaignConfig:
        """Read a TOML/YAML config; ``overrides`` (e.g. ``batch=8``) replace [campaign] keys."""
        path = Path(path)
        if not path.is_file():
            raise InputFileError(f"config file {str(path)!r} does not exist; check the path")
        data = read_config_file(path)
        return cls.from_dict(data, source=str(path), base=path.parent, **overrides)

    @classmethod
    def from_dict(
        cls, data: Mapping, *, source: str = "config", base: Path | None = None, **overrides
    ) -> CampaignConfig:
        unknown = sorted(set(data) - {"campaign", "space", "simulation"})
        if unknown:
            raise InputFileError(
                f"{source}: unknown tables {unknown}; expected [campaign], [space], [simulation]"
            )
        camp = dict(data.get("campaign", {}))
        bad = sorted(set(camp) - _CAMPAIGN_KEYS)
        if bad:
            raise InputFileError(
                f"{source}: unknown [campaign] keys {bad}; allowed: {sorted(_CAMPAIGN_KEYS)}"
            )
        camp.update({k: v for k, v in overrides.items() if v is not None})
        if "space" not in data:
            raise InputFileError(f"{source}: missing [space] table; add builtin or parameters")
        sp = dict(data["space"])
        if "file" in sp:
            from asegraph.optimize.space import load_space

            space = load_space((base or Path(".")) / sp["file"])
        else:
            space = space_from_config(sp, source=f"{source} [space]")
        return cls(space=space, simulation=dict(data.get("simulation", {})), **camp)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in _CAMPAIGN_KEYS}
        return {"campaign": d, "space": self.space.to_dict(), "simulation": dict(self.simulation)}

    def identity(self) -> dict:
        """The keys a resumed campaign must share with the stored one."""
        return {
            "space": self.space.to_dict(),
            "seed": self.seed,
            "strategy": self.strategy,
            "objective": self.objective,
            "evaluator": self.evaluator,
            "n_initial": self.n_initial,
            "initial_design": self.initial_design,
            "simulation": dict(self.simulation),
        }


_CAMPAIGN_TYPES = {
    "name": str,
    "seed": int,
    "strategy": str,
    "n_initial": int,
    "initial_design": str,
    "batch": int,
    "budget": int,
    "objective": str,
    "transform": str,
    "failed": str,
    "include_reference": bool,
    "evaluator": str,
    "beta": float,
    "schedule": str,
}
_EXAMPLES = {int: "10", float: "2.0", str: '"text"', bool: "true"}
#: Identity keys added after campaigns were stored: the value an older header implies.
_IDENTITY_DEFAULTS = {"initial_design": "sobol"}
#: CG-MD settings added after campaigns were stored: the value an older header implies.
_SIMULATION_DEFAULTS = {"diffusive_min_rms": 0.0}


# ------------------------------------------------------------------- evaluation
def evaluator_outputs(evaluator: str) -> list[str] | None:
    """The result keys an evaluator declares, or None when it declares none."""
    if evaluator == "cgmd":
        from dataclasses import fields

        from asegraph.optimize.transport import TransportResult

        numbers = [f.name for f in fields(TransportResult) if f.type in ("float", float)]
        return numbers + ["value", "uncertainty", "n_beads", "n_ions", "seconds_per_step"]
    outputs = getattr(_resolve(evaluator), "outputs", None)
    return None if outputs is None else list(outputs)


def _objective_message(objective: str, evaluator: str, outputs) -> str:
    import difflib

    close = difflib.get_close_matches(objective.lower(), [o.lower() for o in outputs], n=1)
    hint = f"; did you mean {next(o for o in outputs if o.lower() == close[0])!r}?" if close else ""
    return (
        f"campaign.objective {objective!r} is not an output of evaluator {evaluator!r} "
        f"(its outputs: {', '.join(outputs)}){hint} — fix the objective"
    )


#: Marks the result of an evaluator that did not return the objective.
_NO_OBJECTIVE = "result has no objective"


def _resolve(evaluator: str):
    if evaluator == "cgmd":
        from asegraph.optimize.cgmd.md import run_cgmd

        return run_cgmd
    module, _, name = evaluator.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ParameterError(
            f"campaign.evaluator {evaluator!r} cannot be imported ({exc}); give an importable "
            "'package.module:function'"
        ) from exc


def evaluate(evaluator: str, params: dict, settings: dict, seed: int, objective: str) -> dict:
    """Run one evaluation in a worker; never raises (failures are returned).

    Returns
    -------
    dict
        ``status``, ``value``, ``uncertainty``, ``result``, ``error``, ``wall_s``,
        ``host``.
    """
    t0 = time.perf_counter()
    try:
        import torch

        torch.set_num_threads(1)
        fn = _resolve(evaluator)
        result = fn(params, settings, seed=seed)
        if objective not in result:  # never another key: a typo would optimise it
            value, unc = math.nan, math.nan
            status, error = "failed", f"{_NO_OBJECTIVE} {objective!r}"
        else:
            value = float(result[objective])
            unc = float(result.get(f"{objective}_err", result.get("uncertainty", math.nan)))
            status, error = (
                ("ok", None)
                if math.isfinite(value)
                else ("failed", f"non-finite {objective} = {value}")
            )
    except Exception as exc:  # recorded, campaign continues
        result, value, unc = {}, math.nan, math.nan
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    return {
        "status": status,
        "value": value,
        "uncertainty": unc,
        "result": result,
        "error": error,
        "wall_s": time.perf_counter() - t0,
        "host": socket.gethostname(),
    }


def make_executor(
    kind: str = "processes", workers: int = 4, scheduler: str | None = None, timeout_s: float = 10.0
) -> Executor:
    """A :class:`concurrent.futures.Executor`: processes (spawn), threads, or dask.

    With ``scheduler`` (e.g. ``"tcp://host:8786"``) the executor of a
    :class:`distributed.Client` is returned, so a campaign moves to a cluster
    (e.g. started with dask-jobqueue) without code changes.
    """
    if scheduler:
        try:
            from distributed import Client
        except ImportError as exc:
            raise ParameterError(
                "--scheduler needs dask.distributed; pip install 'dask[distributed]'"
            ) from exc
        try:
            client = Client(scheduler, timeout=timeout_s)
        except OSError as exc:
            raise ParameterError(
                f"--scheduler {scheduler!r}: cannot connect ({exc}); check the address"
            ) from exc
        ex = client.get_executor(pure=False)
        ex._asegraph_client = client
        return ex
    if kind == "processes":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    if kind == "threads":
        from concurrent.futures import ThreadPoolExecutor

        return ThreadPoolExecutor(workers)
    raise ParameterError(f"executor must be 'processes' or 'threads', got {kind!r}")


def _eval_seed(seed: int, idx: int) -> int:
    return int(np.random.SeedSequence([seed, idx]).generate_state(1)[0])


class Campaign:
    """A campaign bound to a directory; :meth:`run` starts or resumes it.

    Parameters
    ----------
    config : CampaignConfig
    directory : path
        Campaign directory holding ``campaign.jsonl``.
    """

    def __init__(self, config: CampaignConfig, directory: str | Path):
        self.config = config
        self.store = CampaignStore(directory)

    # ---------------------------------------------------------------- state
    def _open(self) -> tuple[dict[int, dict], dict[int, dict]]:
        from asegraph import __version__

        if not self.store.exists:
            self.store.append(
                {
                    "type": "header",
                    "program": "asegraph",
                    "program_version": __version__,
                    "created": time.time(),
                    "config": self.config.to_dict(),
                    "identity": self.config.identity(),
                }
            )
        records = self.store.load()
        header, proposed, results = self.store.summarize(records)
        stored, mine = dict(header.get("identity", {})), jsonsafe(self.config.identity())
        if isinstance(stored.get("simulation"), dict):  # fill settings added since
            sim = mine["simulation"]
            old = {k: v for k, v in _SIMULATION_DEFAULTS.items() if k in sim}
            stored["simulation"] = {**old, **stored["simulation"]}
        diff = sorted(k for k in mine if stored.get(k, _IDENTITY_DEFAULTS.get(k)) != mine[k])
        if diff:
            raise InputFileError(
                f"campaign {str(self.store.directory)!r} was started with a different {diff}; "
                "resume with the original config or choose a new --campaign directory"
            )
        return proposed, results

    def training_data(self, results: Mapping[int, dict]) -> tuple[np.ndarray, np.ndarray]:
        """Unit-cube inputs ``[n, d]`` and transformed objective ``[n]`` for the GP."""
        ordered = [results[i] for i in sorted(results)]  # by id, not by finishing order
        ok = [r for r in ordered if r["status"] == "ok"]
        bad = [r for r in ordered if r["status"] != "ok"]
        x = [r["x"] for r in ok]
        y = [self._transform(r["value"]) for r in ok]
        if self.config.failed == "worst" and ok:
            x += [r["x"] for r in bad]
            y += [min(y)] * len(bad)
        return np.array(x, dtype=np.float64).reshape(-1, self.config.space.dim), np.array(y)

    def _transform(self, v: float) -> float:
        return math.log10(max(v, 1e-12)) if self.config.transform == "log10" else float(v)

    # ------------------------------------------------------------- proposals
    def _propose(self, k: int, first_id: int, results: dict, pending: np.ndarray) -> np.ndarray:
        from asegraph.optimize.acquisition import propose

        cfg, space = self.config, self.config.space
        ref = space.reference_unit() if cfg.include_reference else None
        rows = []
        while len(rows) < k and first_id + len(rows) < cfg.n_initial:
            rows.append(
                initial_point(
                    first_id + len(rows),
                    method=cfg.initial_design,
                    seed=cfg.seed,
                    dim=space.dim,
                    reference=ref,
                )
            )
        k_model = k - len(rows)
        if k_model:
            x, y = self.training_data(results)
            seed = cfg.seed * 1_000_003 + first_id
            pend = np.vstack([pending, *rows]) if rows else pending
            if cfg.strategy in ("random", "sobol") or len(np.unique(y)) < 2:
                strat = cfg.strategy if cfg.strategy in ("random", "sobol") else "sobol"
                rows.extend(
                    propose(
                        None,
                        k_model,
                        strategy=strat,
                        seed=cfg.seed,
                        dim=space.dim,
                        n_done=first_id + len(rows),
                    )
                )
            else:
                import torch

                from asegraph.optimize.surrogate import GPSurrogate

                # one thread while the simulations use the other cores (DESIGN: two cores)
                threads = torch.get_num_threads()
                torch.set_num_threads(1)
                try:
                    gp = GPSurrogate(seed=seed).fit(x, y)
                    rows.extend(
                        propose(
                            gp,
                            k_model,
                            strategy=cfg.strategy,
                            seed=seed,
                            dim=space.dim,
                            pending=pend,
                            beta=cfg.beta,
                        )
                    )
                finally:
                    torch.set_num_threads(threads)
        return np.clip(np.array(rows, dtype=np.float64).reshape(k, space.dim), 0.0, 1.0)

    # ------------------------------------------------------------------- run
    def run(
        self,
        *,
        executor: str = "processes",
        scheduler: str | None = None,
        progress: bool = True,
        stop_after: int | None = None,
    ) -> dict[int, dict]:
        """Run (or resume) until ``budget`` evaluations have finished.

        Parameters
        ----------
        executor : {"processes", "threads"}
            Local executor kind (ignored with ``scheduler``).  Processes are
            started with ``spawn``: a script that calls :meth:`run` needs the
            usual ``if __name__ == "__main__":`` guard.
        scheduler : str, optional
            dask.distributed scheduler address.
        progress : bool
            Show a tqdm progress bar.
        stop_after : int, optional
            Return after this many new results (for tests and interactive use).

        Returns
        -------
        dict
            Results by evaluation id.
        """
        from tqdm.auto import tqdm

        cfg = self.config
        cfg.check_objective()  # before anything is written
        self.store.lock()
        created = not self.store.exists
        try:
            proposed, results = self._open()
            todo = [proposed[i] for i in sorted(proposed) if i not in results]
            next_id = max(proposed, default=-1) + 1
            pool = make_executor(executor, cfg.batch, scheduler)
            bar = tqdm(
                total=cfg.budget,
                initial=len(results),
                disable=not progress,
                desc=cfg.name,
                unit="eval",
            )
            running: dict[Future, dict] = {}
            new = 0
            try:
                while True:
                    while todo and len(running) < cfg.batch:
                        rec = todo.pop(0)
                        running[self._submit(pool, rec)] = rec
                    free = min(
                        cfg.batch - len(running),
                        cfg.budget - len(results) - len(running) - len(todo),
                    )
                    # synchronous: the next batch waits for the whole previous one
                    batch_done = cfg.schedule == "asynchronous" or not running
                    if free > 0 and not todo and batch_done:
                        pend = np.array([r["x"] for r in running.values()]).reshape(
                            -1, cfg.space.dim
                        )
                        xs = self._propose(free, next_id, results, pend)
                        for x in xs:
                            rec = {
                                "type": "proposed",
                                "id": next_id,
                                "x": x.tolist(),
                                "params": cfg.space.to_params(x),
                                "seed": _eval_seed(cfg.seed, next_id),
                                "strategy": cfg.strategy if next_id >= cfg.n_initial else "initial",
                                "time": time.time(),
                            }
                            self.store.append(rec)
                            running[self._submit(pool, rec)] = rec
                            next_id += 1
                    if not running:
                        break
                    done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                    for fut in done:
                        rec = running.pop(fut)
                        out = self._collect(fut)
                        res = {
                            "type": "result",
                            "id": rec["id"],
                            "x": rec["x"],
                            "params": rec["params"],
                            "seed": rec["seed"],
                            "backend": out["result"].get("backend", cfg.evaluator),
                            "finished": time.time(),
                            **out,
                        }
                        results[rec["id"]] = self.store.append(res)
                        if _NO_OBJECTIVE in str(out["error"]):
                            self._objective_missing(out, created)
                        new += 1
                        bar.update(1)
                        ok = [r["value"] for r in results.values() if r["status"] == "ok"]
                        if ok:
                            bar.set_postfix(best=f"{max(ok):.4g}")
                        if getattr(pool, "_broken", False):
                            pool = self._replace_pool(pool, running, executor, scheduler)
                    if stop_after is not None and new >= stop_after:
                        break
            finally:
                bar.close()
                _shutdown(pool)
            return results
        finally:
            self.store.unlock()

    def _objective_missing(self, out: dict, created: bool) -> None:
        """An undeclared evaluator's result lacks the objective: stop, and leave no folder."""
        keys = [str(k) for k in out["result"]]
        message = _objective_message(self.config.objective, self.config.evaluator, keys)
        if created:  # this run made the folder: remove it so the corrected config can start
            import shutil

            shutil.rmtree(self.store.directory, ignore_errors=True)
            message += "; the campaign folder this run created was removed"
        raise ParameterError(message)

    def _submit(self, pool: Executor, rec: dict) -> Future:
        cfg = self.config
        return pool.submit(
            evaluate, cfg.evaluator, rec["params"], cfg.simulation, rec["seed"], cfg.objective
        )

    @staticmethod
    def _collect(fut: Future) -> dict:
        try:
            return fut.result()
        except BaseException as exc:  # worker died (BrokenProcessPool), cancelled, ...
            return {
                "status": "failed",
                "value": math.nan,
                "uncertainty": math.nan,
                "result": {},
                "error": f"{type(exc).__name__}: {exc}",
                "wall_s": math.nan,
                "host": None,
            }

    def _replace_pool(self, pool, running, executor, scheduler):
        """A process pool broke: resubmit the still-running proposals to a fresh pool."""
        _shutdown(pool)
        new_pool = make_executor(executor, self.config.batch, scheduler)
        for fut in list(running):
            rec = running.pop(fut)
            running[self._submit(new_pool, rec)] = rec
        return new_pool


def _shutdown(pool: Executor) -> None:
    client = getattr(pool, "_asegraph_client", None)
    if client is not None:  # dask ClientExecutor has no cancel_futures
        pool.shutdown(wait=False)
        client.close()
    else:
        pool.shutdown(wait=False, cancel_futures=True)


def default_directory(config_path: str | Path, config: CampaignConfig) -> Path:
    """``<config dir>/<name>.campaign``."""
    return Path(config_path).parent / f"{config.name}.campaign"


def load_campaign(directory: str | Path) -> tuple[CampaignConfig, dict[int, dict], dict]:
    """Config, results by id and header of a stored campaign (read-only)."""
    store = CampaignStore(directory)
    records = store.load()
    header, _, results = store.summarize(records)
    config = CampaignConfig.from_dict(header["config"], source=str(store.path))
    return config, results, header
