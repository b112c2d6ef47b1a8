import numpy as np
import pytest
from scipy import constants

from asegraph.exceptions import ParameterError
from asegraph.optimize.transport import onsager_transport

DT = 10.0  # fs between frames
VOL = 30.0**3  # Å³
T = 400.0


def _brownian(rng, n_frames, n, d_ang2_per_fs):
    steps = rng.standard_normal((n_frames, n, 3)) * np.sqrt(2 * d_ang2_per_fs * DT)
    return np.cumsum(steps, axis=0)


def _ne_sigma(n_c, d_c, n_a, d_a):
    """Analytic Nernst-Einstein σ (S/cm) for unit charges, D in Å²/fs."""
    return constants.e**2 / (VOL * 1e-30 * constants.k * T) * (n_c * d_c + n_a * d_a) * 1e-5 / 100


def test_independent_ions_match_nernst_einstein():
    rng = np.random.default_rng(0)
    n, d_c, d_a = 10, 0.02, 0.005
    pos = np.concatenate([_brownian(rng, 4000, n, d_c), _brownian(rng, 4000, n, d_a)], axis=1)
    q = np.r_[np.ones(n), -np.ones(n)]
    res = onsager_transport(pos, q, timestep_fs=DT, volume=VOL, temperature_K=T)
    expected = _ne_sigma(n, d_c, n, d_a)
    assert res.d_cation == pytest.approx(d_c * 1000, rel=0.15)
    assert res.d_anion == pytest.approx(d_a * 1000, rel=0.15)
    assert res.sigma_ne == pytest.approx(expected, rel=0.15)
    assert res.t_li_ne == pytest.approx(d_c / (d_c + d_a), rel=0.05)
    assert res.t_li == pytest.approx(d_c / (d_c + d_a), abs=3 * res.t_li_err + 0.05)
    # collective estimate is noisier but unbiased: within 30 % and 3 standard errors
    assert res.sigma == pytest.approx(expected, rel=0.3)
    assert abs(res.sigma - expected) < 3 * res.sigma_err
    assert res.sigma_li == pytest.approx(res.sigma * res.t_li)
    assert res.sigma_err > 0 and res.fit_window_ps == pytest.approx((0.5, 2.5))
    assert "cross-correlations" in res.estimator["sigma"]


def test_ion_pairs_carry_no_current():
    """Cation-anion pairs that move together: NE counts them, Onsager does not."""
    rng = np.random.default_rng(1)
    n = 10
    cat = _brownian(rng, 3000, n, 0.01)
    ani = cat + 3.0 + 0.05 * rng.standard_normal(cat.shape)  # bound partner
    res = onsager_transport(
        np.concatenate([cat, ani], 1),
        np.r_[np.ones(n), -np.ones(n)],
        timestep_fs=DT,
        volume=VOL,
        temperature_K=T,
    )
    assert res.sigma_ne == pytest.approx(_ne_sigma(n, 0.01, n, 0.01), rel=0.15)
    assert abs(res.sigma) < 0.02 * res.sigma_ne
    assert abs(res.sigma_li) < 0.02 * res.sigma_ne


def test_transport_errors():
    pos = np.zeros((50, 2, 3))
    kw = dict(timestep_fs=1.0, volume=1.0, temperature_K=300.0)
    with pytest.raises(ParameterError, match="need both cations"):
        onsager_transport(pos, [1.0, 1.0], **kw)
    with pytest.raises(ParameterError, match=r"must be \[n_frames, n_ions, 3\]"):
        onsager_transport(pos[:, :, :2], [1.0, -1.0], **kw)
    with pytest.raises(ParameterError, match="fit_window must satisfy"):
        onsager_transport(pos, [1.0, -1.0], fit_window=(0.5, 0.2), **kw)
    with pytest.raises(ParameterError, match="n_blocks must be >= 2"):
        onsager_transport(pos, [1.0, -1.0], n_blocks=1, **kw)
    with pytest.raises(ParameterError, match="volume must be > 0"):
        onsager_transport(pos, [1.0, -1.0], timestep_fs=1.0, volume=0.0, temperature_K=1.0)
    with pytest.raises(ParameterError, match="NaN or inf"):
        onsager_transport(np.full((50, 2, 3), np.nan), [1.0, -1.0], **kw)
    with pytest.raises(ParameterError, match="fewer than 3 lags"):
        onsager_transport(np.zeros((4, 2, 3)), [1.0, -1.0], **kw)
    with pytest.raises(ParameterError, match="one charge value per species"):
        onsager_transport(np.zeros((50, 3, 3)), [1.0, 2.0, -1.0], **kw)


def test_msd_loglog_slopes_flag_non_diffusive_motion():
    rng = np.random.default_rng(2)
    n, frames = 8, 2000
    q = np.r_[np.ones(n), -np.ones(n)]
    brown = np.concatenate([_brownian(rng, frames, n, 0.02), _brownian(rng, frames, n, 0.01)], 1)
    res = onsager_transport(brown, q, timestep_fs=DT, volume=VOL, temperature_K=T)
    assert res.msd_slope_cation == pytest.approx(1.0, abs=0.1)
    assert res.msd_slope_anion == pytest.approx(1.0, abs=0.1)
    assert res.diffusive and res.to_dict()["diffusive"] is True
    # ballistic cations (constant velocities): slope 2
    t = np.arange(frames)[:, None, None] * DT
    ballistic = brown.copy()
    ballistic[:, :n] = rng.standard_normal((1, n, 3)) * 0.01 * t
    res = onsager_transport(ballistic, q, timestep_fs=DT, volume=VOL, temperature_K=T)
    assert res.msd_slope_cation == pytest.approx(2.0, abs=0.05) and not res.diffusive
    # caged anions (bounded rattling): slope near 0
    caged = brown.copy()
    caged[:, n:] = 0.3 * rng.standard_normal((frames, n, 3))
    res = onsager_transport(caged, q, timestep_fs=DT, volume=VOL, temperature_K=T)
    assert res.msd_slope_anion < 0.3 and not res.diffusive
    with pytest.raises(ParameterError, match="diffusive_range must satisfy"):
        onsager_transport(
            brown, q, timestep_fs=DT, volume=VOL, temperature_K=T, diffusive_range=(1.2, 1.5)
        )


def test_slope_of_one_inside_a_cage_is_not_diffusion():
    # overdamped ions in harmonic cages (Ornstein-Uhlenbeck, sd 0.5 Å per axis, relaxation
    # 2000 frames): at lags << the relaxation time the MSD grows linearly (slope ~1) though
    # no ion ever leaves its cage; only the MSD at the window start (<< the cage size²)
    # tells, so min_msd (Å²) must reject it while free Brownian ions still pass
    rng = np.random.default_rng(3)
    n, frames, sd, a = 8, 2000, 0.5, np.exp(-1 / 2000)
    x = np.empty((frames, 2 * n, 3))
    x[0] = sd * rng.standard_normal((2 * n, 3))
    for k in range(1, frames):
        x[k] = a * x[k - 1] + np.sqrt(1 - a**2) * sd * rng.standard_normal((2 * n, 3))
    q = np.r_[np.ones(n), -np.ones(n)]
    kw = dict(timestep_fs=DT, volume=VOL, temperature_K=T)
    slopes_only = onsager_transport(x, q, **kw)
    assert slopes_only.msd_slope_cation == pytest.approx(1.0, abs=0.1)
    assert slopes_only.msd_slope_anion == pytest.approx(1.0, abs=0.1)
    assert slopes_only.diffusive  # what the slope test alone says
    caged = onsager_transport(x, q, **kw, min_msd=1.0)
    assert not caged.diffusive and caged.min_msd == 1.0
    assert max(caged.msd_start_cation, caged.msd_start_anion) < 0.1 * 6 * sd**2
    brown = np.concatenate([_brownian(rng, frames, n, 0.02), _brownian(rng, frames, n, 0.01)], 1)
    free = onsager_transport(brown, q, **kw, min_msd=1.0)
    assert free.diffusive and min(free.msd_start_cation, free.msd_start_anion) > 1.0
    assert free.to_dict()["msd_start_anion"] == free.msd_start_anion
    with pytest.raises(ParameterError, match="min_msd must be >= 0"):
        onsager_transport(brown, q, **kw, min_msd=-1.0)


def test_free_ions_and_pairs_separate_onsager_from_nernst_einstein():
    """10 free Li+ (D 0.02), 10 free anions (D 0.005) and 10 bound pairs (D 0.01 Å²/fs).

    Pairs carry no current: Onsager t_Li = D_c / (D_c + D_a) = 0.8, while Nernst–Einstein
    counts every ion: t_NE = (0.2 + 0.1) / (0.2 + 0.05 + 0.2) = 2/3 — 0.133 lower.
    """
    rng = np.random.default_rng(2)
    n, frames = 10, 4000
    free_c = _brownian(rng, frames, n, 0.02)
    free_a = _brownian(rng, frames, n, 0.005)
    pair_c = _brownian(rng, frames, n, 0.01)
    pair_a = pair_c + 3.0 + 0.05 * rng.standard_normal(pair_c.shape)
    pos = np.concatenate([free_c, pair_c, free_a, pair_a], axis=1)
    q = np.r_[np.ones(2 * n), -np.ones(2 * n)]
    res = onsager_transport(pos, q, timestep_fs=DT, volume=VOL, temperature_K=T)
    assert res.t_li_ne == pytest.approx(2 / 3, rel=0.05)
    assert res.sigma_ne == pytest.approx(_ne_sigma(2 * n, 0.015, 2 * n, 0.0075), rel=0.15)
    assert res.t_li == pytest.approx(0.8, abs=3 * res.t_li_err + 0.05)
    assert res.t_li - res.t_li_ne == pytest.approx(0.8 - 2 / 3, abs=3 * res.t_li_err + 0.05)
    onsager = _ne_sigma(n, 0.02, n, 0.005)  # only the free ions conduct
    assert res.sigma == pytest.approx(onsager, rel=0.3)
    assert abs(res.sigma - onsager) < 3 * res.sigma_err
