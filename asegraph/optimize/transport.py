"""Ionic conductivity, transference number and Li+ conductivity from trajectories.

Einstein–Helfand / Onsager route (cross-correlations included).  With
``ΔR_a(τ) = Σ_{i∈a} [x_i(t+τ) - x_i(t)]`` the collective displacement of species
``a`` (unwrapped coordinates, time origins ``t`` averaged)::

    L^ab = 1/(6 V k_B T) d/dτ <ΔR_a(τ) · ΔR_b(τ)>
    σ     = e² Σ_ab q_a q_b L^ab
    σ_Li  = e² (q_+² L^{++} + q_+ q_- L^{+-})          (Li+ share of the current)
    t_Li  = σ_Li / σ

The Nernst–Einstein values (no cross-correlations) are reported beside them::

    D_a = 1/6 d/dτ <|Δx_i(τ)|²>_{i∈a}
    σ_NE = e²/(V k_B T) Σ_a N_a q_a² D_a,   t_NE = N_+ q_+² D_+ / Σ_a N_a q_a² D_a

The trajectory is cut into ``n_blocks`` contiguous blocks; in each, slopes are
least-squares fits over a lag window (fractions of the block length); each
number is the mean over blocks and its uncertainty the standard error of that
mean.  Mean squared displacements use the FFT algorithm of :mod:`tidynamics`.

Diffusive regime: the slopes are Einstein coefficients only where the MSD grows
linearly in the lag.  For each species the log-log slope
d ln MSD / d ln τ of the self MSD over the fit window (the MSD averaged over
every time origin of the whole trajectory, not block by block, so that lags of
a good fraction of a block are well sampled) is recorded
(``msd_slope_cation``, ``msd_slope_anion``; 1 = diffusive, < 1 sub-diffusive
cage motion, up to 2 ballistic) with the window in ps, and ``diffusive`` is
true when both lie in ``diffusive_range`` (default 0.85–1.15) and both self
MSDs at the window's first lag (``msd_start_cation``, ``msd_start_anion``, Å²)
are at least ``min_msd``.  The second test catches short lags where the slope
passes through 1 without diffusion: on the way down from ballistic (2) to
caged (< 1), or inside a cage (overdamped motion in a trap is linear in the
lag until the cage size is reached); an ion has diffused only once it has
left its neighbours behind.
Conductivities are in S/cm, diffusion coefficients in Å²/ps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import constants

from asegraph.exceptions import ParameterError

__all__ = ["TransportResult", "onsager_transport"]

_ANG2_PER_FS_TO_M2_PER_S = 1e-20 / 1e-15


@dataclass
class TransportResult:
    """Transport coefficients of one trajectory.

    All conductivities in S/cm, diffusion coefficients in Å²/ps; ``*_err`` are
    standard errors from block averaging; ``estimator`` names the method of each
    number; ``fit_window_ps`` is the lag window used for the slopes.
    """

    sigma: float
    sigma_err: float
    t_li: float
    t_li_err: float
    sigma_li: float
    sigma_li_err: float
    sigma_ne: float
    t_li_ne: float
    sigma_li_ne: float
    d_cation: float
    d_anion: float
    fit_window_ps: tuple[float, float]
    n_blocks: int
    msd_slope_cation: float = float("nan")
    msd_slope_anion: float = float("nan")
    msd_start_cation: float = float("nan")
    msd_start_anion: float = float("nan")
    min_msd: float = 0.0
    diffusive: bool = False
    diffusive_range: tuple[float, float] = (0.85, 1.15)
    estimator: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain-float dict for JSON."""
        d = asdict(self)
        d["fit_window_ps"] = list(self.fit_window_ps)
        d["diffusive_range"] = list(self.diffusive_range)
        d["diffusive"] = bool(self.diffusive)
        return d


def _slope(t: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(t, y, 1)[0])


def _loglog_slope(t: np.ndarray, y: np.ndarray) -> float:
    """d ln y / d ln t over the window (NaN if some y <= 0)."""
    if (y <= 0).any():
        return float("nan")
    return float(np.polyfit(np.log(t), np.log(y), 1)[0])


def _msd_collective(x: np.ndarray) -> np.ndarray:
    import tidynamics

    return tidynamics.msd(x)


def _self_msd(pos: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Self MSD ``[F]`` (Å²) of atoms ``idx``, averaged over them and all time origins."""
    return np.mean([_msd_collective(pos[:, i]) for i in idx], axis=0)


def _window_lags(n: int, window: tuple[float, float]) -> tuple[int, int]:
    """First and end lag (frames) of a fit window given as fractions of ``n`` frames."""
    lo = max(1, int(window[0] * n))
    hi = max(lo + 2, int(window[1] * n))
    if hi >= n:
        raise ParameterError(
            f"transport: fit window {window} leaves fewer than 3 lags in {n} frames; "
            "record more frames or lower fit_end"
        )
    return lo, hi


def _coefficients(
    pos: np.ndarray,
    cat: np.ndarray,
    ani: np.ndarray,
    q_cat: float,
    q_ani: float,
    dt_fs: float,
    window: tuple[float, float],
) -> dict[str, float]:
    """Slopes (Å²/fs) of the collective and self displacement correlations."""
    lo, hi = _window_lags(pos.shape[0], window)
    lags = np.arange(lo, hi) * dt_fs
    r_cat = pos[:, cat].sum(axis=1)  # [F, 3]
    r_ani = pos[:, ani].sum(axis=1)
    m_cc = _msd_collective(r_cat)[lo:hi]
    m_aa = _msd_collective(r_ani)[lo:hi]
    m_sum = _msd_collective(r_cat + r_ani)[lo:hi]
    m_ca = 0.5 * (m_sum - m_cc - m_aa)  # <ΔR_+ · ΔR_->
    self_c = _self_msd(pos, cat)[lo:hi]
    self_a = _self_msd(pos, ani)[lo:hi]
    s = {
        k: _slope(lags, v)
        for k, v in dict(cc=m_cc, aa=m_aa, ca=m_ca, self_c=self_c, self_a=self_a).items()
    }
    s["sigma"] = q_cat**2 * s["cc"] + 2 * q_cat * q_ani * s["ca"] + q_ani**2 * s["aa"]
    s["sigma_li"] = q_cat**2 * s["cc"] + q_cat * q_ani * s["ca"]
    return s


def onsager_transport(
    positions: np.ndarray,
    charges: np.ndarray,
    *,
    timestep_fs: float,
    volume: float,
    temperature_K: float,
    fit_window: tuple[float, float] = (0.05, 0.25),
    n_blocks: int = 4,
    diffusive_range: tuple[float, float] = (0.85, 1.15),
    min_msd: float = 0.0,
) -> TransportResult:
    """σ, t_Li, σ_Li (Onsager, with cross-correlations) and Nernst–Einstein values.

    Parameters
    ----------
    positions : array ``[n_frames, n_ions, 3]``, Å
        Unwrapped ion positions, equally spaced in time, preferably in the
        centre-of-mass frame.
    charges : array ``[n_ions]``, e
        Positive entries are cations (Li+), negative ones anions; one charge
        value per species.
    timestep_fs : float
        Time between frames (fs).
    volume : float
        Box volume (Å³).
    temperature_K : float
        Temperature (K).
    fit_window : (float, float)
        Lag window as fractions of the block length.
    n_blocks : int
        Contiguous blocks for the standard errors (>= 2).
    diffusive_range : (float, float)
        Log-log MSD slopes counted as diffusive (both species).
    min_msd : float
        Self MSD (Å²) both species must have reached at the window's first lag
        to count as diffusive (0: slopes only).

    Returns
    -------
    TransportResult
    """
    pos = np.asarray(positions, dtype=np.float64)
    q = np.asarray(charges, dtype=np.float64)
    if pos.ndim != 3 or pos.shape[2] != 3 or pos.shape[1] != len(q):
        raise ParameterError(
            f"transport: positions must be [n_frames, n_ions, 3] matching charges [{len(q)}], "
            f"got {pos.shape}"
        )
    cat, ani = np.flatnonzero(q > 0), np.flatnonzero(q < 0)
    if len(cat) == 0 or len(ani) == 0:
        raise ParameterError(
            f"transport: need both cations (q > 0) and anions (q < 0), got {len(cat)} and "
            f"{len(ani)}; pass the charges of the ions"
        )
    if len(np.unique(q[cat])) > 1 or len(np.unique(q[ani])) > 1:
        raise ParameterError("transport: expected one charge value per species (cation, anion)")
    if not (0.0 <= fit_window[0] < fit_window[1] <= 1.0):
        raise ParameterError(
            f"transport: fit_window must satisfy 0 <= start < end <= 1, got {fit_window}"
        )
    if n_blocks < 2:
        raise ParameterError(f"transport: n_blocks must be >= 2, got {n_blocks}")
    if not (0.0 < diffusive_range[0] < 1.0 < diffusive_range[1]):
        raise ParameterError(
            f"transport: diffusive_range must satisfy 0 < low < 1 < high, got {diffusive_range}"
        )
    if not min_msd >= 0:
        raise ParameterError(f"transport: min_msd must be >= 0 (Å²), got {min_msd}")
    for name, v in (
        ("timestep_fs", timestep_fs),
        ("volume", volume),
        ("temperature_K", temperature_K),
    ):
        if not v > 0:
            raise ParameterError(f"transport: {name} must be > 0, got {v}")
    if not np.isfinite(pos).all():
        raise ParameterError("transport: positions contain NaN or inf; the simulation diverged")
    q_c, q_a = float(q[cat][0]), float(q[ani][0])
    n_frames = pos.shape[0]
    size = n_frames // n_blocks
    blocks = [
        _coefficients(pos[b * size : (b + 1) * size], cat, ani, q_c, q_a, timestep_fs, fit_window)
        for b in range(n_blocks)
    ]
    # estimate = mean over independent blocks, so that the block standard error is its error
    full = {k: float(np.mean([b[k] for b in blocks])) for k in blocks[0]}

    # S/cm per (e² Å²/fs): e²/(6 V kB T) * slope, SI -> S/m, /100 -> S/cm
    pref = (
        constants.e**2
        * _ANG2_PER_FS_TO_M2_PER_S
        / (6.0 * volume * 1e-30 * constants.k * temperature_K)
        / 100.0
    )

    def err(key: str, scale: float = 1.0) -> float:
        vals = np.array([b[key] for b in blocks]) * scale
        return float(np.std(vals, ddof=1) / np.sqrt(n_blocks))

    sigma = pref * full["sigma"]
    sigma_li = pref * full["sigma_li"]
    t_li = full["sigma_li"] / full["sigma"] if full["sigma"] != 0 else float("nan")
    t_blocks = np.array([b["sigma_li"] / b["sigma"] if b["sigma"] != 0 else np.nan for b in blocks])
    d_c, d_a = full["self_c"] / 6.0, full["self_a"] / 6.0  # Å²/fs
    n_c, n_a = len(cat), len(ani)
    ne = 6.0 * pref * np.array([n_c * q_c**2 * d_c, n_a * q_a**2 * d_a])
    sigma_ne = float(ne.sum())
    t_ne = float(ne[0] / sigma_ne) if sigma_ne != 0 else float("nan")
    total_ps = size * timestep_fs / 1000.0
    # diffusive check on the whole production (every time origin, not per block): at lags
    # of a good part of a block, one block holds few independent origins
    lo, hi = _window_lags(size, fit_window)
    lags = np.arange(lo, hi) * timestep_fs
    msd_c, msd_a = _self_msd(pos, cat)[lo:hi], _self_msd(pos, ani)[lo:hi]
    slope_c, slope_a = _loglog_slope(lags, msd_c), _loglog_slope(lags, msd_a)
    lo_d, hi_d = diffusive_range
    moved = min(msd_c[0], msd_a[0]) >= min_msd
    diffusive = bool(lo_d <= slope_c <= hi_d and lo_d <= slope_a <= hi_d and moved)
    return TransportResult(
        sigma=float(sigma),
        sigma_err=err("sigma", pref),
        t_li=float(t_li),
        t_li_err=float(np.nanstd(t_blocks, ddof=1) / np.sqrt(n_blocks)),
        sigma_li=float(sigma_li),
        sigma_li_err=err("sigma_li", pref),
        sigma_ne=sigma_ne,
        t_li_ne=t_ne,
        sigma_li_ne=float(sigma_ne * t_ne),
        d_cation=float(d_c * 1000.0),
        d_anion=float(d_a * 1000.0),
        fit_window_ps=(fit_window[0] * total_ps, fit_window[1] * total_ps),
        n_blocks=n_blocks,
        msd_slope_cation=slope_c,
        msd_slope_anion=slope_a,
        msd_start_cation=float(msd_c[0]),
        msd_start_anion=float(msd_a[0]),
        min_msd=float(min_msd),
        diffusive=diffusive,
        diffusive_range=(float(lo_d), float(hi_d)),
        estimator={
            "sigma": "Einstein-Helfand (Onsager, with cross-correlations), linear fit",
            "t_li": "Onsager: (L++ + q-/q+ L+-) / sum",
            "sigma_li": "sigma * t_li (Onsager)",
            "sigma_ne": "Nernst-Einstein from self-diffusion",
            "t_li_ne": "Nernst-Einstein",
            "sigma_li_ne": "sigma_ne * t_li_ne",
            "errors": f"mean and standard error over {n_blocks} contiguous blocks",
            "msd_slope": (
                "d ln MSD / d ln lag of the self MSD over the fit window, all time origins "
                "of the whole trajectory; diffusive also needs the self MSD at the "
                "window's first lag >= min_msd"
            ),
        },
    )
