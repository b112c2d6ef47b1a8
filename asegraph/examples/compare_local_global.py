"""Validation on the toy system: GDyNet vs the geometric MSM vs a global VAMPnet (ch. 4.3).

    python -m asegraph.examples.compare_local_global [OUTPUT_FOLDER]

On the shipped Li-in-FCC-S trajectory (3,000 frames, 0.1 ps apart; the last
quarter is the test block) this prints, at lag 1 ps:

* the nearest-site-type MSM (deeptime) — the geometric ground truth;
* the 2-state GDyNet (local, graph-based);
* a 2-state global VAMPnet (deeptime ``VAMPNet`` on flattened coordinates);

with slowest implied timescales (95 % intervals from 5 time blocks), the
agreement of the crisp states with the site type, and the CK test. Figures go
to ``OUTPUT_FOLDER`` (default ``.``): ``toy_gdynet_*.png`` and
``toy_comparison_timescales.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def site_agreement(states: np.ndarray, site_types: np.ndarray) -> float:
    """Fraction of (frame, target) whose crisp state matches the site type, best labelling."""
    agreement = float(np.mean(states == site_types))
    return max(agreement, 1.0 - agreement)


def run(output: Path, lag_ps: float = 1.0, max_epochs: int = 10, seed: int = 0) -> dict:
    """Fit both models and the geometric MSM; write figures; return a summary dict."""
    import torch

    from asegraph.analysis.dynamics import GDyNetAnalysis
    from asegraph.analysis.dynamics.compare import global_features, global_vampnet
    from asegraph.analysis.dynamics.io import plot_timescales, write_figures
    from asegraph.analysis.dynamics.koopman import koopman_analysis
    from asegraph.analysis.dynamics.trajectory import load_universe
    from asegraph.examples import li_fcc

    torch.set_num_threads(1)
    topology, trajectory = li_fcc.shipped_trajectory()
    u = load_universe(trajectory, topology)
    li, s = u.select_atoms("name Li").indices, u.select_atoms("name S").indices
    positions = np.stack([u.atoms.positions.copy() for _ in u.trajectory])
    site_types = li_fcc.nearest_site_type(positions[:, li], positions[:, s])

    local = GDyNetAnalysis(
        u,
        select="name Li",
        environment="name S",
        n_states=2,
        lag=lag_ps,
        max_epochs=max_epochs,
        seed=seed,
    ).run()
    frame_ps, lag, test = local.frame_ps, local.lag_frames, local.results.blocks.test[0]
    output.mkdir(parents=True, exist_ok=True)
    write_figures(local.results.dataset, output / "toy_gdynet")

    geometric = np.eye(2)[site_types]  # crisp memberships: the MSM of the site labels
    geo = koopman_analysis(geometric[test.start : test.stop], lag)
    msm = li_fcc.geometric_msm(site_types[test.start : test.stop], lag)

    features = global_features(u, local.targets, local.group_index)
    memberships, _ = global_vampnet(features, lag, local.results.blocks, n_states=2, seed=seed)
    glob = koopman_analysis(memberships[test.start : test.stop], lag)

    rows = {
        "geometric MSM": (geo, site_types),
        "GDyNet": (local.results.koopman, local.results.dataset["state_assignment"].values),
        "global VAMPnet": (glob, np.argmax(memberships, axis=2)),
    }
    summary = {"deeptime_msm_timescale_ps": float(msm.timescales()[0] * frame_ps)}
    print(
        f"toy system: {len(li)} Li, {len(s)} S, {u.trajectory.n_frames} frames of "
        f"{frame_ps:g} ps; test block {test.start * frame_ps:g}-{test.stop * frame_ps:g} ps; "
        f"lag {lag * frame_ps:g} ps"
    )
    print(
        f"deeptime MaximumLikelihoodMSM of the site labels: slowest timescale "
        f"{summary['deeptime_msm_timescale_ps']:.3f} ps"
    )
    print(f"{'model':<16}{'t1 (ps)':>9}{'95% interval':>18}{'agree':>8}{'CK':>6}   K(tau)")
    index = int(np.argmin(np.abs(geo.its_lags - lag)))
    for name, (result, states) in rows.items():
        t1 = result.slowest_timescale * frame_ps
        low, high = result.its_lower[index, 0] * frame_ps, result.its_upper[index, 0] * frame_ps
        agree = site_agreement(states, site_types)
        matrix = np.array2string(result.koopman_matrix, precision=3).replace("\n", "")
        print(
            f"{name:<16}{t1:>9.3f}{f'[{low:.2f}, {high:.2f}]':>18}{agree:>8.3f}"
            f"{'pass' if result.ck_passed else 'FAIL':>6}   {matrix}"
        )
        summary[name] = {"timescale_ps": t1, "agreement": agree, "ck_passed": result.ck_passed}

    ds = local.results.dataset
    reference = {
        "geometric MSM": (geo.its_lags * frame_ps, geo.implied_timescales[:, 0] * frame_ps),
        "global VAMPnet": (glob.its_lags * frame_ps, glob.implied_timescales[:, 0] * frame_ps),
    }
    plot_timescales(ds, output / "toy_comparison_timescales.png", reference=reference)
    return summary


if __name__ == "__main__":  # pragma: no cover
    run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("."))
