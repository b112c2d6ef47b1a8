"""Ground truth on the shipped toy system (thesis ch. 4.3), and the toy generator itself."""

from __future__ import annotations

import numpy as np
import pytest

from asegraph.examples import li_fcc


def test_calculator_forces_match_finite_differences():
    from ase.calculators.fd import calculate_numerical_forces

    atoms = li_fcc.make_li_fcc(n_cells=2, n_li=3, seed=2)
    atoms.rattle(0.1, seed=3)
    numeric = calculate_numerical_forces(atoms, eps=1e-5)
    np.testing.assert_allclose(atoms.get_forces(), numeric, atol=1e-4)


def test_nearest_site_type_on_ideal_sites():
    a = 5.7
    sulfur = (li_fcc.FCC_BASIS * a)[None]
    li = np.vstack([li_fcc.OCTAHEDRAL_SITES, li_fcc.TETRAHEDRAL_SITES])[None] * a + 0.3
    types = li_fcc.nearest_site_type(li - 0.3 + 0.05, sulfur + 0.0)
    np.testing.assert_array_equal(types[0], [0] * 4 + [1] * 8)


def test_short_md_writes_a_readable_trajectory(tmp_path):
    from asegraph.analysis.dynamics.trajectory import load_universe

    li_fcc.generate(
        tmp_path / "t.dcd", tmp_path / "t.pdb", n_frames=4, interval=5, n_li=2, progress=False
    )
    u = load_universe(tmp_path / "t.dcd", tmp_path / "t.pdb")
    assert u.trajectory.n_frames == 4 and u.trajectory.dt == pytest.approx(0.01, rel=1e-4)
    assert len(u.select_atoms("name Li")) == 2


@pytest.mark.slow
def test_gdynet_recovers_the_geometric_msm(toy_universe, toy_site_types):
    """2-state GDyNet vs nearest-site MSM at the same lag (1 ps) on the same test frames."""
    from asegraph.analysis.dynamics import GDyNetAnalysis

    run = GDyNetAnalysis(
        toy_universe,
        select="name Li",
        environment="name S",
        n_states=2,
        lag="1ps",
        max_epochs=10,
        seed=0,
    ).run()
    test = run.results.blocks.test[0]
    geometric = li_fcc.geometric_msm(toy_site_types[test.start : test.stop], lag=10)
    geometric_ps = geometric.timescales()[0] * run.frame_ps
    gdynet_ps = run.results.koopman.slowest_timescale * run.frame_ps
    assert gdynet_ps == pytest.approx(geometric_ps, rel=0.15)
    states = run.results.dataset["state_assignment"].values  # [F, 16]
    agreement = np.mean(states == toy_site_types)
    assert max(agreement, 1 - agreement) >= 0.90
    assert run.results.koopman.ck_passed


@pytest.mark.slow
def test_global_vampnet_baseline_runs_on_the_same_data(toy_universe):
    """deeptime VAMPNet on flattened coordinates (thesis ch. 4.3), analysed like GDyNet."""
    from asegraph.analysis.dynamics.compare import global_features, global_vampnet
    from asegraph.analysis.dynamics.koopman import koopman_analysis
    from asegraph.analysis.dynamics.training import split_blocks
    from asegraph.analysis.dynamics.trajectory import select_targets

    targets, groups = select_targets(toy_universe, "name Li")
    features = global_features(toy_universe, targets, groups, stop=1200)
    assert features.shape == (1200, 16, 3 * 33)
    blocks = split_blocks(1200, (0.5, 0.25, 0.25), 10)
    memberships, scores = global_vampnet(features, 10, blocks, n_epochs=6, seed=0)
    np.testing.assert_allclose(memberships.sum(axis=2), 1.0, atol=1e-6)
    assert scores.max() > 1.05  # it learned some correlation on the validation block
    test = blocks.test[0]
    result = koopman_analysis(memberships[test.start : test.stop], 10, n_blocks=3)
    assert np.isfinite(result.slowest_timescale)
