"""Batch BO benchmark: random search vs BoTorch qLogNEI vs our local penalization.

Problems (maximisation, noise added to observations, regret on the noise-free f):

* ``hartmann6``: negated Hartmann-6, f* = 3.32237;
* ``embedded14``: Hartmann-6 on dimensions (0, 3, 5, 7, 10, 12) of a 14-D cube,
  the other 8 inert; we also check whether the fitted inverse length scales rank
  the 6 active dimensions above the 8 inert ones.

All BO strategies use the same GP (:class:`asegraph.optimize.surrogate.GPSurrogate`,
Matérn-5/2 ARD, learned noise), the same random initial points per seed, and
synchronous batches. Both batch strategies get the same optimiser effort per
proposed point: local penalisation optimises each point with 8 restarts from
256 raw samples, and qLogNEI is optimised sequentially-greedily with the same
settings per point (a joint q x d optimisation with that budget would give a
whole batch the effort of one LP point); runs stored before this rule (without
``ACQ_OPTIMISER`` in their settings) are not reused. Normalised best-so-far =
max f(x_i) / f* over evaluated points; simple regret = f* - max f(x_i).

Full run (issue 6)::

    python benchmarks/bo.py --seeds 20 --workers 2

Reduced run::

    python benchmarks/bo.py --seeds 3 --problems hartmann6 --evals-h6 30

Long runs across sessions: ``--results FILE.jsonl`` appends each run as it
finishes, skips runs already in the file (same problem, strategy, seed and
settings) and prints the table over every matching run in it, so a killed
benchmark continues where it stopped::

    python benchmarks/bo.py --problems embedded14 --results benchmarks/results/bo.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

F_STAR = 3.32237
ACTIVE14 = (0, 3, 5, 7, 10, 12)


def bo_loop(
    f,
    x0: np.ndarray,
    *,
    strategy: str,
    seed: int,
    evals: int,
    batch: int,
    noise: float,
    f_star: float,
    rng: np.random.Generator | None = None,
) -> dict:
    """Synchronous batch BO on a noisy objective from the initial points ``x0 [n, d]``.

    ``f`` maps unit-cube points ``[m, d]`` to noise-free values ``[m]``; each
    observation adds Gaussian noise of sd ``noise`` (generator seeded by
    ``(seed, 1)``).  ``strategy="random"`` draws its points from ``rng``.
    Returns the normalised best-so-far curve ``max f(x_i) / f_star``
    (``bsf [evals]``), the regret, the points ``x``, their noisy observations
    ``y`` and the wall time.
    """
    from asegraph.optimize.acquisition import propose
    from asegraph.optimize.surrogate import GPSurrogate

    dim = x0.shape[1]
    rng = np.random.default_rng([seed, 2]) if rng is None else rng
    noise_rng = np.random.default_rng([seed, 1])

    def observe(pts: np.ndarray) -> np.ndarray:
        return f(pts) + noise * noise_rng.standard_normal(len(pts))

    x = np.asarray(x0, dtype=np.float64)
    y = observe(x)
    t0 = time.perf_counter()
    it = 0
    while len(x) < evals:
        q = min(batch, evals - len(x))
        if strategy == "random":
            new = rng.random((q, dim))
        else:
            gp = GPSurrogate(seed=seed).fit(x, y)
            new = propose(gp, q, strategy=strategy, seed=seed * 1000 + it, dim=dim)
        x, y = np.vstack([x, new]), np.concatenate([y, observe(new)])
        it += 1
    fx = f(x)
    return {
        "seed": seed,
        "strategy": strategy,
        "bsf": (np.maximum.accumulate(fx) / f_star).tolist(),
        "regret": float(f_star - fx.max()),
        "x": x.tolist(),
        "y": y.tolist(),
        "seconds": time.perf_counter() - t0,
    }


def run_one(
    problem: str, strategy: str, seed: int, evals: int, n_initial: int, batch: int, noise: float
) -> dict:
    """One BO run; returns the normalised best-so-far curve and final diagnostics."""
    import torch

    torch.set_num_threads(1)
    from asegraph.optimize.surrogate import GPSurrogate
    from asegraph.optimize.testfunctions import embedded_hartmann, hartmann6

    dim = 6 if problem == "hartmann6" else 14
    f = hartmann6 if problem == "hartmann6" else embedded_hartmann
    rng = np.random.default_rng(seed)
    x0 = rng.random((n_initial, dim))
    run = bo_loop(
        f,
        x0,
        strategy=strategy,
        seed=seed,
        evals=evals,
        batch=batch,
        noise=noise,
        f_star=F_STAR,
        rng=rng,
    )
    x, y = np.array(run.pop("x")), np.array(run.pop("y"))
    out = {"problem": problem, **run}
    if problem == "embedded14":
        inv = GPSurrogate(seed=seed).fit(x, y).inverse_lengthscales
        inert = [k for k in range(dim) if k not in ACTIVE14]
        out["active_above_inert"] = bool(inv[list(ACTIVE14)].min() > inv[inert].max())
        out["active_in_top6"] = int(len(set(np.argsort(-inv)[:6]) & set(ACTIVE14)))
    return out


#: How batch acquisitions are optimised; part of each stored run's key.
ACQ_OPTIMISER = "per-point: 8 restarts x 256 raw (LP sequential, qLogNEI sequential greedy)"


def _key(problem, strategy, seed, evals, n_initial, batch, noise) -> tuple:
    settings = (int(seed), int(evals), int(n_initial), int(batch), float(noise))
    return (problem, strategy, *settings, ACQ_OPTIMISER)


def _load_results(path: str | None) -> dict:
    """Runs already in a results file, by key (a torn last line is ignored)."""
    done: dict = {}
    if path is None or not Path(path).is_file():
        return done
    for line in Path(path).read_text().splitlines():
        try:
            run = json.loads(line)
            done[tuple(run["settings"])] = run
        except (ValueError, KeyError):
            continue
    return done


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--problems", nargs="+", default=["hartmann6", "embedded14"])
    p.add_argument("--strategies", nargs="+", default=["random", "qlognei", "lp-logei"])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--evals-h6", type=int, default=50)
    p.add_argument("--evals-14d", type=int, default=110)
    p.add_argument("--n-initial", type=int, default=10)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--noise", type=float, default=0.05)
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--json", default=None, help="write all runs to this JSON file")
    p.add_argument(
        "--results",
        default=None,
        help="append runs to this JSON-lines file; runs already in it are not repeated",
    )
    args = p.parse_args(argv)
    jobs = [
        (
            pr,
            st,
            s,
            args.evals_h6 if pr == "hartmann6" else args.evals_14d,
            args.n_initial,
            args.batch,
            args.noise,
        )
        for pr in args.problems
        for s in range(args.seeds)
        for st in args.strategies
    ]
    done = _load_results(args.results)  # seeds outermost: a partial run covers every strategy
    todo = [job for job in jobs if _key(*job) not in done]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as ex:
        futures = {ex.submit(run_one, *job): job for job in todo}
        for future in as_completed(futures):
            run = future.result()
            run["settings"] = list(_key(*futures[future]))
            done[_key(*futures[future])] = run
            if args.results:  # one line per finished run, flushed at once
                with open(args.results, "a") as fh:
                    fh.write(json.dumps(run) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
    wall = time.perf_counter() - t0
    runs = [done[_key(*job)] for job in jobs if _key(*job) in done]
    print(
        f"# {len(runs)} runs ({len(todo)} new), {args.seeds} seeds, batch {args.batch}, "
        f"{args.n_initial} initial, noise sd {args.noise}, wall {wall:.0f} s"
    )
    print(f"# acquisition optimiser, same effort per proposed point: {ACQ_OPTIMISER}")
    print(
        f"{'problem':<12} {'strategy':<9} {'evals':>5} {'median nBSF':>11} {'IQR':>13} "
        f"{'median regret':>13} {'s/run':>7} {'active>inert':>12}"
    )
    for pr in args.problems:
        for st in args.strategies:
            rs = [r for r in runs if r["problem"] == pr and r["strategy"] == st]
            if not rs:
                continue
            final = np.array([r["bsf"][-1] for r in rs])
            reg = np.array([r["regret"] for r in rs])
            q25, q75 = np.percentile(final, [25, 75])
            extra = ""
            if pr == "embedded14" and st != "random":
                extra = (
                    f"{sum(r['active_above_inert'] for r in rs)}/{len(rs)} "
                    f"(top6 {np.mean([r['active_in_top6'] for r in rs]):.1f})"
                )
            print(
                f"{pr:<12} {st:<9} {len(rs[0]['bsf']):>5} {np.median(final):>11.3f} "
                f"{q25:>6.3f}-{q75:<6.3f} {np.median(reg):>13.3f} "
                f"{np.mean([r['seconds'] for r in rs]):>7.1f} {extra:>12}"
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "runs": runs}, fh)


if __name__ == "__main__":
    main()
