"""Contribution of each state transition to transport (thesis ch. 4.4.3, Fig. 4-6).

With unwrapped displacements ``dr_a(t, tau) = r_a(t + tau) - r_a(t)`` and the
state probabilities at both ends,

``MSD_ij(tau) = < chi_ai(t) chi_aj(t + tau) |dr_a(t, tau)|^2 >_{a, t}``,

and since ``sum_i chi_ai = 1`` at every time, ``sum_ij MSD_ij`` is the
state-free MSD of the targets at that lag (all time origins). With charges the
Nernst–Einstein conductivity splits the same way,

``sigma_ij = N e^2 q_ij^2 MSD_ij / (6 V k_B T tau)``,

with ``q_ij`` either the targets' own (bare) charge — then ``sum_ij sigma_ij``
is the state-free Nernst–Einstein conductivity — or the charge the target
carries with its solvation shell, ``q_ij = (q_i + q_j) / 2`` from the states'
first-shell net charges (:class:`~asegraph.analysis.dynamics.states.StateSolvationCharge`):
a Li whose shell holds an anion moves little net charge. The latter is this
package's reading of thesis Fig. 4-6 (which does not give its formula); both
are reported.
"""

from __future__ import annotations

import numpy as np
from MDAnalysis.analysis.base import AnalysisBase
from MDAnalysis.lib.distances import minimize_vectors

from asegraph.analysis.dynamics.states import (
    _E2_OVER_KB,
    _SIGMA_UNITS,
    SerialStateAnalysis,
    StateProbabilities,
)
from asegraph.analysis.dynamics.trajectory import parse_time
from asegraph.exceptions import ParameterError


class StateTransport(SerialStateAnalysis, AnalysisBase):
    """Each (i -> j) transition's contribution to the targets' MSD and conductivity.

    Parameters
    ----------
    universe : MDAnalysis.Universe
    result : xarray.Dataset, path or GDyNetAnalysis
    membership : {"refined", "softmax", "assignment"}
    lag : float or str, optional
        Lag ``tau`` (ps or ``"1ps"``); default the GDyNet result's lag.
    unwrap : bool
        Unwrap positions by the minimum image of the displacement between
        consecutive analysed frames (needs moves under half a box length per
        frame). False when the trajectory is already unwrapped.
    target_charge : float, e, optional
        Bare charge of a target for the Nernst–Einstein split (default: the
        topology's net charge of the first target group, else no conductivity).
    state_charges : sequence of float, shape (K,), e, optional
        Net first-shell charge of each state (Table 4.1 style).
    temperature_K : float, optional
        Needed for conductivities.
    **kwargs
        Passed to :class:`~MDAnalysis.analysis.base.AnalysisBase`.

    Attributes
    ----------
    results.lag_ps : float
    results.msd : float, Å^2
        State-free MSD of the target atoms at the lag (all time origins).
    results.msd_contribution : ndarray, shape (K, K), Å^2
        Sums to ``msd``.
    results.fraction : ndarray, shape (K, K)
        ``msd_contribution / msd``.
    results.conductivity_bare, results.conductivity_solvation : ndarray, shape (K, K), S/cm
        Present when the charges and ``temperature_K`` are known.
    results.volume : float, Å^3
        Mean box volume.
    """

    def __init__(
        self,
        universe,
        result,
        membership: str = "refined",
        lag: float | str | None = None,
        unwrap: bool = True,
        target_charge: float | None = None,
        state_charges=None,
        temperature_K: float | None = None,
        **kwargs,
    ) -> None:
        universe = universe.universe
        super().__init__(universe.trajectory, **kwargs)
        self.states = StateProbabilities(result, membership)
        self.states.check_universe(universe)
        self.targets = universe.atoms[self.states.target_atoms]
        self.lag_ps = self.states.lag_ps if lag is None else parse_time(lag, "lag")
        self.unwrap = bool(unwrap)
        if target_charge is None and hasattr(universe.atoms, "charges"):
            first = self.states.target_atoms[self.states.target_group == 0]
            target_charge = float(universe.atoms[first].charges.sum())  # a group's net charge
        self.target_charge = target_charge
        if state_charges is not None:
            state_charges = np.asarray(state_charges, dtype=np.float64)
            if state_charges.shape != (self.states.n_states,):
                raise ParameterError(
                    f"state_charges: expected {self.states.n_states} values (one per state), "
                    f"got shape {state_charges.shape}"
                )
        self.state_charges = state_charges
        if temperature_K is not None and not temperature_K > 0:
            raise ParameterError(f"temperature_K must be > 0, got {temperature_K}")
        self.temperature_K = temperature_K

    def _prepare(self) -> None:
        self._positions: list[np.ndarray] = []
        self._boxes: list[np.ndarray] = []
        self._frames: list[int] = []
        self._volumes: list[float] = []

    def _single_frame(self) -> None:
        k = self.states.frame_index(self._ts.time)
        if k is None:
            return
        self._frames.append(k)
        self._positions.append(self.targets.positions.astype(np.float64))
        self._boxes.append(self._ts.dimensions.copy())
        self._volumes.append(float(self._ts.volume))

    def _conclude(self) -> None:
        frames = np.asarray(self._frames)
        if len(frames) < 2 or np.any(np.diff(frames) != 1):
            raise ParameterError(
                "StateTransport needs consecutive frames of the GDyNet result; run it over the "
                "trajectory the result was made from with the same step (got "
                f"{len(frames)} matching frames)"
            )
        positions = np.stack(self._positions)  # [F, T, 3], Å
        if self.unwrap:
            steps = np.diff(positions, axis=0)  # [F-1, T, 3]
            for f in range(len(steps)):
                steps[f] = minimize_vectors(steps[f], self._boxes[f + 1])
            positions = positions[0] + np.concatenate(
                [np.zeros_like(positions[:1]), np.cumsum(steps, axis=0)]
            )
        lag = self.lag_ps / self.states.frame_ps
        if round(lag) < 1 or abs(lag - round(lag)) > 1e-3 * lag or round(lag) >= len(frames):
            raise ParameterError(
                f"lag={self.lag_ps:g} ps must be a whole number (>= 1) of frames of "
                f"{self.states.frame_ps:g} ps, shorter than the {len(frames)} analysed frames"
            )
        lag = int(round(lag))
        chi = self.states.probability[frames][:, self.states.target_group]  # [F, T, K]
        d2 = np.sum((positions[lag:] - positions[:-lag]) ** 2, axis=2)  # [F-lag, T], Å^2
        n = d2.size
        contribution = np.einsum("fti,ftj,ft->ij", chi[:-lag], chi[lag:], d2) / n  # [K, K]
        r = self.results
        r.lag_ps = lag * self.states.frame_ps
        r.msd = float(d2.mean())
        r.msd_contribution = contribution
        r.fraction = contribution / r.msd
        r.volume = float(np.mean(self._volumes))
        r.n_frames_used = len(frames)
        if self.temperature_K is not None:
            # N e^2 / (6 V k_B T tau) per unit q^2 MSD, in S/cm per Å^2
            scale = (
                len(self.targets)
                * _E2_OVER_KB
                / (6.0 * r.volume * self.temperature_K * r.lag_ps)
                * _SIGMA_UNITS
            )
            if self.target_charge is not None:
                r.conductivity_bare = scale * self.target_charge**2 * contribution
            if self.state_charges is not None:
                q = 0.5 * (self.state_charges[:, None] + self.state_charges[None, :])
                r.conductivity_solvation = scale * q**2 * contribution
