"""Validation on the toy system: GDyNet vs the geometric MSM vs a global VAMPnet (ch. 4.3).

    python -m asegraph.examples.compare_local_global [OUTPUT_FOLDER]
    python -m asegraph.examples.compare_local_global OUTPUT_FOLDER --files 3

On the shipped Li-in-FCC-S trajectory (3,000 frames, 0.1 ps apart; the last
quarter is the test block) this prints, at lag 1 ps:

* the nearest-site-type MSM (deeptime) — the geometric ground truth;
* the 2-state GDyNet (local, graph-based);
* a 2-state global VAMPnet (deeptime ``VAMPNet`` on flattened coordinates);

with slowest implied timescales (95 % intervals from 5 time blocks), the
agreement of the crisp states with the site type, and the CK test; then the
global dynamics built from the local 2-state model (thesis §4.6.1, Eq. 4.9,
:mod:`asegraph.analysis.dynamics.lattice`) against a 12-site MSM of the
geometric site labels of the same test frames, and where that MSM's slowest
timescale would scatter (finite data) if the dynamics obeyed Eq. 4.9 exactly
(:func:`~asegraph.analysis.dynamics.lattice.sampled_slowest_timescales`). Figures go to
``OUTPUT_FOLDER`` (default ``.``): ``toy_gdynet_*.png`` and
``toy_comparison_timescales.png``.

``--files N`` instead cuts the trajectory into N files treated as independent
runs (train on the first, analyse the others, intervals from them) and
compares with the geometric MSM on the same test frames.
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
    summary["global"] = global_from_local(
        local.results.koopman.koopman_matrix,
        local.results.dataset["state_assignment"].values[test.start : test.stop],
        site_types[test.start : test.stop],
        li_fcc.nearest_site(
            positions[test.start : test.stop][:, li], positions[test.start : test.stop][:, s]
        ),
        lag,
        frame_ps,
    )
    return summary


def global_from_local(
    local_matrix: np.ndarray,
    states: np.ndarray,
    site_types: np.ndarray,
    sites: np.ndarray,
    lag: int,
    frame_ps: float,
) -> dict:
    """Global (12-site) slowest timescale built from a local 2-state model (Eq. 4.9) vs the
    MSM of the geometric site labels; prints and returns them (ps).

    ``states`` [F, L] are the model's crisp states, ``site_types`` [F, L] the geometric
    types (0 oct, 1 tet), ``sites`` [F, L] the site indices 0-11 of the same frames.
    """
    from asegraph.analysis.dynamics.lattice import (
        fcc_interstitial_sites,
        global_transition_matrix,
        sampled_slowest_timescales,
        slowest_timescale,
    )
    from asegraph.examples import li_fcc

    # which learned state is the octahedral one: the labelling that agrees best
    order = [0, 1] if np.mean(states == site_types) >= 0.5 else [1, 0]
    k_local = local_matrix[np.ix_(order, order)]  # rows: octahedral, tetrahedral
    _, types, adjacency = fcc_interstitial_sites()
    built_matrix = global_transition_matrix(k_local, types, adjacency)
    built = slowest_timescale(built_matrix, lag)
    geometric_local = li_fcc.geometric_msm(site_types, lag).transition_matrix
    built_geometric = slowest_timescale(
        global_transition_matrix(geometric_local, types, adjacency), lag
    )
    observed = li_fcc.geometric_msm(sites, lag).timescales()[0]
    # The built slowest process is 7-fold degenerate (tetrahedral modes); the largest of
    # seven eigenvalues estimated from this much data lies above it. Walks of the built
    # matrix sized like the data (one walker per target, frames / lag steps) show where
    # an observed estimate would fall if the dynamics obeyed Eq. 4.9 exactly.
    n_steps = len(sites) // lag
    sampled = sampled_slowest_timescales(built_matrix, lag * frame_ps, sites.shape[1], n_steps)
    low, median, high = np.percentile(sampled, [5, 50, 95])
    result = {
        "built_from_gdynet_ps": built * frame_ps,
        "built_from_geometric_local_ps": built_geometric * frame_ps,
        "observed_global_msm_ps": observed * frame_ps,
        "sampled_built_ps_5_50_95": (low, median, high),
    }
    inside = "inside" if low <= observed * frame_ps <= high else "outside"
    print(
        f"global dynamics (12 sites, Eq. 4.9) at lag {lag * frame_ps:g} ps: built from the GDyNet "
        f"local model {result['built_from_gdynet_ps']:.2f} ps; built from the geometric 2-type "
        f"MSM {result['built_from_geometric_local_ps']:.2f} ps; observed 12-site MSM of the "
        f"site labels {result['observed_global_msm_ps']:.2f} ps\n"
        f"the same 12-site MSM from walks of the built matrix, {sites.shape[1]} walkers x "
        f"{n_steps} steps of {lag * frame_ps:g} ps (as much data as observed): median "
        f"{median:.2f} ps, 5-95 % [{low:.2f}, {high:.2f}] ps; the observed value lies {inside}"
    )
    return result


def run_files(output: Path, n_files: int = 3, lag_ps: float = 1.0, max_epochs: int = 10, seed=0):
    """The shipped trajectory cut into ``n_files`` independent files: train on the first,
    analyse the others; GDyNet vs the geometric MSM on the same test frames."""
    import MDAnalysis as mda
    import torch

    from asegraph.analysis.dynamics import GDyNetAnalysis
    from asegraph.analysis.dynamics.trajectory import load_universe
    from asegraph.examples import li_fcc

    torch.set_num_threads(1)
    topology, trajectory = li_fcc.shipped_trajectory()
    whole = load_universe(trajectory, topology)
    output.mkdir(parents=True, exist_ok=True)
    per_file = whole.trajectory.n_frames // n_files
    paths = []
    for i in range(n_files):
        path = output / f"toy_run{i + 1}.dcd"
        with mda.Writer(str(path), whole.atoms.n_atoms, dt=whole.trajectory.dt) as writer:
            for _ in whole.trajectory[i * per_file : (i + 1) * per_file]:
                writer.write(whole.atoms)
        paths.append(str(path))
    u = load_universe(paths, topology)
    li, s = u.select_atoms("name Li").indices, u.select_atoms("name S").indices
    positions = np.stack([u.atoms.positions.copy() for _ in u.trajectory])
    site_types = li_fcc.nearest_site_type(positions[:, li], positions[:, s])
    gd = GDyNetAnalysis(
        u,
        select="name Li",
        environment="name S",
        n_states=2,
        lag=lag_ps,
        max_epochs=max_epochs,
        seed=seed,
    ).run()
    gd.save(output / "toy_files.nc", figures=True)
    frame_ps, lag, test = gd.frame_ps, gd.lag_frames, gd.results.blocks.test
    msm = li_fcc.geometric_msm([site_types[b.start : b.stop] for b in test], lag)
    ds = gd.results.dataset
    states = ds["state_assignment"].values
    mask = ds["frame_role"].values == 2
    agree = site_agreement(states[mask], site_types[mask])
    index = int(np.argmin(np.abs(ds["lag"].values - lag_ps)))
    low, high = (
        ds["implied_timescale_lower"].values[index, 0],
        ds["implied_timescale_upper"].values[index, 0],
    )
    t1 = gd.results.koopman.slowest_timescale * frame_ps
    t1_softmax = gd.results.koopman_softmax.slowest_timescale * frame_ps
    print(
        f"{n_files} independent files of {per_file} frames; trained on file 1 "
        f"(train {len(gd.results.blocks.train[0])}, validation "
        f"{len(gd.results.blocks.validation[0])} frames), analysed files 2-{n_files}; "
        f"lag {lag_ps:g} ps; intervals from {ds.attrs['n_blocks']} {ds.attrs['interval_source']}"
    )
    print(
        f"GDyNet slowest timescale {t1:.3f} ps [{low:.2f}, {high:.2f}] (softmax basis "
        f"{t1_softmax:.3f} ps); geometric MSM on the same test frames "
        f"{msm.timescales()[0] * frame_ps:.3f} ps; state agreement {agree:.3f}; CK "
        f"{'pass' if ds.attrs['ck_passed'] else 'FAIL'} (softmax "
        f"{'pass' if ds.attrs['ck_passed_softmax'] else 'FAIL'}); populations "
        f"{np.round(ds['population'].values, 3)} (mean softmax "
        f"{np.round(ds['population_softmax'].values, 3)})"
    )
    return {"timescale_ps": t1, "geometric_ps": msm.timescales()[0] * frame_ps, "agreement": agree}


if __name__ == "__main__":  # pragma: no cover
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
    if "--files" in sys.argv:
        run_files(folder, int(sys.argv[sys.argv.index("--files") + 1]))
    else:
        run(folder)
