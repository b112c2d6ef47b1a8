import numpy as np
import pytest
from ase.calculators.calculator import CalculatorSetupError
from ase.calculators.fd import calculate_numerical_forces

from asegraph.exceptions import ParameterError, StructureError
from asegraph.optimize.cgmd import CGForceField, CGTopology, build_system
from asegraph.optimize.cgmd.ewald import coulomb_error_vs_ewald
from asegraph.optimize.cgmd.md import (
    CGMDSettings,
    DiffusiveExtension,
    SimulationFailed,
    run_cgmd,
    transport_from_frames,
)
from asegraph.optimize.space import PEO_LITFSI_REFERENCE

SMALL = CGTopology(n_chains=4, chain_length=8, secondary_ratio=0.2, packing_fraction=0.35)


@pytest.fixture(scope="module")
def small():
    params = dict(PEO_LITFSI_REFERENCE, c_salt=0.15)
    return build_system(params, SMALL, seed=0)


def test_build_system_neutral_bonded_no_overlap(small):
    a = small
    q = a.get_initial_charges()
    assert q.sum() == 0 and (q > 0).sum() == (q < 0).sum() >= 3
    types = a.arrays["bead_type"]
    assert (types == 3).sum() == 4  # one secondary site per 5 EO on 8-bead chains
    assert a.info["bonds"].shape == (4 * 7, 2)
    d = a.get_all_distances(mic=True) + np.eye(len(a)) * 100
    sigma = np.array([0.8, 3.3, 2.0, 2.0])
    assert (d >= 0.75 * (sigma[types][:, None] + sigma[types][None, :]) - 1e-9).all()
    # bead volumes fill the requested packing fraction
    vol = np.sum(4 / 3 * np.pi * sigma[types] ** 3)
    assert vol / a.get_volume() == pytest.approx(0.35)


@pytest.mark.parametrize("coulomb", ["pme", "ewald", "dsf"])
def test_forces_match_finite_differences(small, coulomb):
    a = small.copy()
    a.rattle(0.05, seed=1)
    a.calc = CGForceField(coulomb=coulomb, coulomb_cutoff=8.0)
    f = a.get_forces()
    idx = list(range(0, len(a), 5)) + list(np.flatnonzero(a.get_initial_charges()))
    fd = calculate_numerical_forces(a, eps=1e-5, iatoms=idx)
    np.testing.assert_allclose(f[idx], fd, atol=1e-6 * max(1.0, np.abs(fd).max()))
    # Newton's third law; SPME's analytic mesh forces conserve momentum only to its accuracy
    assert abs(f.sum(axis=0)).max() < (1e-5 * np.abs(f).sum() if coulomb == "pme" else 1e-8)
    assert a.get_potential_energies().sum() == pytest.approx(a.get_potential_energy())


@pytest.mark.parametrize("coulomb,tol", [("ewald", 1e-9), ("pme", 1e-4)])
def test_translation_invariance_and_skin_reuse(small, coulomb, tol):
    # the mesh breaks exact translation invariance of PME at its accuracy level
    a = small.copy()
    a.calc = CGForceField(coulomb=coulomb)
    e0, f0 = a.get_potential_energy(), a.get_forces()
    b = a.copy()
    b.calc = CGForceField(coulomb=coulomb)
    b.translate([7.3, -2.1, 40.0])  # outside the box: wrapped internally
    assert b.get_potential_energy() == pytest.approx(e0, abs=tol)
    np.testing.assert_allclose(b.get_forces(), f0, atol=tol)
    calc = a.calc
    a.positions += 0.3  # uniform shift below skin/2: list reused
    a.get_forces()
    assert calc.n_rebuilds == 1


def test_ewald_matches_pymatgen_and_dsf_error_is_stated(small):
    ewald = coulomb_error_vs_ewald(small, coulomb="ewald", coulomb_cutoff=8.0)
    assert ewald.relative_force_error < 1e-4
    assert abs(ewald.energy_error_per_ion) < 1e-4
    dsf = coulomb_error_vs_ewald(small, coulomb="dsf", coulomb_cutoff=8.0, dsf_alpha=0.2)
    assert dsf.relative_force_error > 10 * ewald.relative_force_error


def test_forcefield_errors(small):
    a = small.copy()
    a.calc = CGForceField(coulomb="pppm")
    with pytest.raises(CalculatorSetupError, match="coulomb must be 'pme', 'ewald' or 'dsf'"):
        a.get_forces()
    b = small.copy()
    b.set_initial_charges(b.get_initial_charges() + 0.01)
    b.calc = CGForceField()
    with pytest.raises(CalculatorSetupError, match="Ewald/PME needs a neutral system"):
        b.get_forces()
    c = small.copy()
    del c.arrays["bead_type"]
    c.calc = CGForceField()
    with pytest.raises(CalculatorSetupError, match="lack arrays\\['bead_type'\\]"):
        c.get_forces()
    d = small.copy()
    d.pbc = False
    d.calc = CGForceField()
    with pytest.raises(CalculatorSetupError, match="needs pbc=True"):
        d.get_forces()


def test_build_errors():
    with pytest.raises(ParameterError, match="packing_fraction must be in"):
        CGTopology(packing_fraction=0.7)
    with pytest.raises(ParameterError, match="chain_length >= 2"):
        CGTopology(chain_length=1)
    with pytest.raises(ParameterError, match="secondary_ratio must be in"):
        CGTopology(secondary_ratio=2.0)
    with pytest.raises(ParameterError, match="c_salt must be > 0"):
        build_system(dict(c_salt=0.0), SMALL, seed=0)
    with pytest.raises(
        StructureError, match=r"could not grow chain 0 without overlap in 3 attempts of 32 trials"
    ):
        build_system(
            PEO_LITFSI_REFERENCE,
            CGTopology(4, 8, packing_fraction=0.59),
            seed=0,
            overlap_factor=1.6,
            max_tries=2,
            max_chain_attempts=3,
        )


def test_a_chain_that_walls_itself_in_is_grown_again():
    # seed 4 of the default 660-bead reference system: chain 18's walk traps
    # itself at bead 554 (this used to fail the evaluation)
    a = build_system(PEO_LITFSI_REFERENCE, seed=4)
    types, mol = a.arrays["bead_type"], a.arrays["mol_id"]
    n_chains, length = 20, 30
    assert len(a) == 660 and (mol[: n_chains * length] == np.repeat(np.arange(20), 30)).all()
    bonds = a.info["bonds"]
    assert len(bonds) == n_chains * (length - 1) and (mol[bonds[:, 0]] == mol[bonds[:, 1]]).all()
    radius = np.array([0.8, 3.3, 2.0, 2.0])[types]  # r_li, r_ani, r_cha, r_ss (Å)
    bond_lengths = a.get_distances(bonds[:, 0], bonds[:, 1], mic=True)
    np.testing.assert_allclose(bond_lengths, radius[bonds[:, 0]] + radius[bonds[:, 1]])
    d = a.get_all_distances(mic=True) + np.eye(len(a)) * 100
    assert (d >= 0.75 * (radius[:, None] + radius[None, :]) - 1e-9).all()


def test_settings_errors():
    with pytest.raises(ParameterError, match="backend must be 'ase' or 'lammps'"):
        CGMDSettings(backend="gromacs")
    with pytest.raises(ParameterError, match="fewer than 8 frames per block"):
        CGMDSettings(n_prod=100, stride=10)
    with pytest.raises(ParameterError, match="unknown simulation settings"):
        CGMDSettings.from_dict({"n_steps": 3})
    with pytest.raises(ParameterError, match="timestep_fs must be > 0"):
        CGMDSettings(timestep_fs=0)
    with pytest.raises(ParameterError, match="coulomb must be"):
        CGMDSettings(coulomb="pppm")


TINY = dict(
    n_chains=3,
    chain_length=8,
    n_minimize=50,
    n_equil=100,
    n_prod=320,
    stride=10,
    coulomb_cutoff=8.0,
)


def test_run_cgmd_tiny_gives_finite_transport():
    # 1.3 ps runs are never diffusive: "flag" so the default "extend" does not double them
    res = run_cgmd(
        dict(PEO_LITFSI_REFERENCE, c_salt=0.15), dict(TINY, non_diffusive="flag"), seed=0
    )
    for key in ("sigma", "sigma_li", "t_li", "sigma_ne", "value", "uncertainty"):
        assert np.isfinite(res[key])
    assert res["value"] == res["sigma_li"] and res["backend"] == "ase"
    assert res["n_ions"] == 8 and res["seconds_per_step"] > 0


@pytest.mark.parametrize("n_equil", [100, 105, 0])
def test_ase_records_the_production_start_and_every_stride_after_it(n_equil):
    # frames at production steps 0, 10, ..., 320 -> 33, the start dropped -> 32 frames,
    # whatever the equilibration length (it used to lose one frame after equilibration)
    from asegraph.optimize.cgmd.md import prepare_system, run_ase_md

    s = CGMDSettings.from_dict(dict(TINY, n_equil=n_equil, n_minimize=10))
    atoms = prepare_system(dict(PEO_LITFSI_REFERENCE, c_salt=0.15), s, seed=0)
    seen = []
    frames, _ = run_ase_md(atoms, s, seed=0, extend=lambda f: seen.append(len(f)) or 0)
    assert frames.shape == (s.n_prod // s.stride, 8, 3) and seen == [32]
    assert np.allclose(frames[-1], atoms.positions[atoms.get_initial_charges() != 0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_run_cgmd_divergence_is_reported():
    # a huge time step makes the light Li+ beads fly apart
    with pytest.raises(SimulationFailed, match="MD diverged \\(non-finite positions\\)"):
        run_cgmd(
            dict(PEO_LITFSI_REFERENCE, c_salt=0.15),
            dict(TINY, timestep_fs=400.0, friction_per_fs=0.0, n_minimize=0),
            seed=0,
        )


def test_more_forcefield_and_settings_errors(small):
    a = small.copy()
    a.info["bonds"] = np.array(
        [
            [
                int(np.flatnonzero(a.get_initial_charges() > 0)[0]),
                int(np.flatnonzero(a.get_initial_charges() < 0)[0]),
            ]
        ]
    )
    a.calc = CGForceField()
    with pytest.raises(CalculatorSetupError, match="a bond joins two charged beads"):
        a.get_forces()
    b = small.copy()
    b.calc = CGForceField(sigma=np.ones((2, 2)), epsilon_kcal=np.ones((2, 2)))
    with pytest.raises(CalculatorSetupError, match="has no σ/ε row"):
        b.get_forces()
    with pytest.raises(ParameterError, match="n_equil must be >= 0"):
        CGMDSettings(n_equil=-1)


def test_diffusive_default_extends_once_flag_and_fail():
    params = dict(PEO_LITFSI_REFERENCE, c_salt=0.15)
    strict = dict(TINY, diffusive_range=[0.999, 1.001])  # practically never met
    # the default policy: extend once (same trajectory, 2x production, fit at 2x the lags),
    # then keep the result flagged as not diffusive
    ext = run_cgmd(params, strict, seed=0)
    assert CGMDSettings().non_diffusive == "extend" and CGMDSettings().max_extensions == 1
    assert ext["n_extensions"] == 1 and ext["n_prod_steps"] == 2 * TINY["n_prod"]
    assert ext["production_ps"] == pytest.approx(2 * TINY["n_prod"] * 4.0 / 1000)
    assert ext["diffusive"] is False and np.isfinite(ext["sigma_li"])
    res = run_cgmd(params, dict(strict, non_diffusive="flag"), seed=0)
    assert res["diffusive"] is False and res["n_extensions"] == 0
    assert res["n_prod_steps"] == TINY["n_prod"]
    assert np.isfinite(res["msd_slope_cation"]) and np.isfinite(res["msd_slope_anion"])
    assert res["fit_window_ps"][1] > res["fit_window_ps"][0] > 0
    # refitted at twice the lags (to a frame: blocks are whole frames)
    assert ext["fit_window_ps"] == pytest.approx([2 * t for t in res["fit_window_ps"]], rel=0.1)
    with pytest.raises(SimulationFailed, match="not diffusive in the fit window"):
        run_cgmd(params, dict(strict, non_diffusive="fail"), seed=0)
    with pytest.raises(ParameterError, match="non_diffusive must be"):
        CGMDSettings(non_diffusive="ignore")
    with pytest.raises(ParameterError, match="diffusive_range must be"):
        CGMDSettings(diffusive_range=[1.1, 1.2])


def test_default_extension_doubles_a_default_run_once_at_most():
    # the policy object run_cgmd uses, with the default settings and a mocked analysis:
    # a 2 ns run that stays non-diffusive gets one more 2 ns (4 ns in all), never more;
    # a diffusive one none
    s = CGMDSettings()
    calls = []

    def never(frames):
        calls.append(len(frames))
        return type("R", (), {"diffusive": False})()

    ext = DiffusiveExtension(s, never)
    assert ext(np.zeros((2000, 2, 3))) == s.n_prod == 500_000
    assert ext(np.zeros((4000, 2, 3))) == 0 and ext.n_extensions == 1
    assert ext.n_prod * s.timestep_fs / 1000 == pytest.approx(4000.0)  # ps
    assert calls == [2000]  # no analysis once the budget is spent
    ok = DiffusiveExtension(s, lambda frames: type("R", (), {"diffusive": True})())
    assert ok(np.zeros((2000, 2, 3))) == 0 and ok.n_extensions == 0


def test_extend_policy_reaches_the_diffusive_window_of_a_caged_then_diffusive_trajectory():
    # ions rattle in a cage (amplitude 1.5 Å) around slowly diffusing centres: the MSD
    # log-log slope is well below 1 at short lags and approaches 1 once 6 D t >> 6 A²
    s = CGMDSettings(
        n_prod=2000, stride=10, fit_start=0.2, fit_end=0.5, non_diffusive="extend", max_extensions=3
    )
    rng = np.random.default_rng(0)
    n, n_frames = 32, 8 * s.n_prod // s.stride
    steps = rng.standard_normal((n_frames, 2 * n, 3)) * np.sqrt(2 * 0.01 * s.timestep_fs * s.stride)
    traj = np.cumsum(steps, axis=0) + 1.5 * rng.standard_normal((n_frames, 2 * n, 3))
    q = np.r_[np.ones(n), -np.ones(n)]

    def analyse(frames):
        return transport_from_frames(frames, q, 30.0**3, s, n_beads=660)

    first = analyse(traj[: s.n_prod // s.stride])
    assert not first.diffusive and first.msd_slope_cation < 0.85
    ext, done = DiffusiveExtension(s, analyse), s.n_prod
    while (more := ext(traj[: done // s.stride])) > 0:
        assert more == done  # each extension doubles the production
        done += more
    final = analyse(traj[: done // s.stride])
    assert 1 <= ext.n_extensions <= s.max_extensions and done == s.n_prod * 2**ext.n_extensions
    assert final.diffusive and final.fit_window_ps[0] > first.fit_window_ps[0]
    # no extension once the budget is spent
    assert DiffusiveExtension(CGMDSettings(max_extensions=0), analyse)(traj) == 0
    with pytest.raises(ParameterError, match="fit_start, fit_end must satisfy"):
        CGMDSettings(fit_start=0.5, fit_end=0.2)


def test_default_run_fits_where_the_reference_point_was_measured_diffusive():
    # measured (issue #15, LAMMPS, 2.9 ns): Li and anion MSD log-log slopes within
    # 0.85-1.15 at lags >= 100 ps; the defaults must fit there, inside one block
    s = CGMDSettings()
    assert s.production_ps == pytest.approx(2000.0) and s.n_equil * s.timestep_fs >= 100_000
    lo, hi = s.fit_window_ps
    assert 100.0 <= lo < hi <= s.production_ps / s.n_blocks
    # the analysis accepts a default-length run and reports that window
    rng = np.random.default_rng(1)
    n_frames = s.n_prod // s.stride
    step = rng.standard_normal((n_frames, 8, 3)) * np.sqrt(2 * 1e-4 * s.timestep_fs * s.stride)
    q = np.r_[np.ones(4), -np.ones(4)]
    res = transport_from_frames(np.cumsum(step, axis=0), q, 40.0**3, s, n_beads=660)
    assert res.fit_window_ps == pytest.approx((lo, hi))
    assert res.diffusive  # Brownian ions, slopes ~1 at these lags
    # ... and moved more than a mean bead spacing (here 4.6 Å) by the window start
    assert s.diffusive_min_rms == 1.0 and res.min_msd == pytest.approx((40.0**3 / 660) ** (2 / 3))
    assert min(res.msd_start_cation, res.msd_start_anion) > res.min_msd
    slow = transport_from_frames(np.cumsum(step, axis=0) / 3, q, 40.0**3, s, n_beads=660)
    assert slow.msd_slope_cation == pytest.approx(res.msd_slope_cation)  # same slopes,
    assert not slow.diffusive  # but 9x smaller MSDs: still inside the first neighbour shell
    with pytest.raises(ParameterError, match="diffusive_min_rms must be >= 0"):
        CGMDSettings(diffusive_min_rms=-0.5)
