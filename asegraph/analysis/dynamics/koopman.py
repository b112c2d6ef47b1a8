"""Koopman analysis of GDyNet (or any soft-state) outputs with deeptime.

From state probabilities ``chi(x)`` of every target group in every frame:

1. **State memberships.** VAMP-2 is invariant to invertible linear maps of
   the features, so the softmax columns need not span [0, 1] (e.g. a state
   may range over 0.14–0.84). :func:`membership_map` finds the vertices of the
   simplex the outputs fill (the inner-simplex step of PCCA+) and maps them to
   the unit vectors: memberships ``m = chi @ M`` are the PCCA+-style fuzzy
   assignments, and the crisp state is their argmax.
2. **Koopman matrix** at lag ``tau``: ``K = C00⁺ C0t`` with the (non mean-free)
   instantaneous and time-lagged covariances of the memberships from
   deeptime's :class:`~deeptime.covariance.Covariance`, one trajectory per
   target group. In the membership basis ``K`` is a transition matrix between
   the states (rows sum to one).
3. **Implied timescales** ``t_i = -tau / ln|lambda_i|`` over a range of lags
   (deeptime's :func:`~deeptime.util.validation.implied_timescales`), and the
   **Chapman–Kolmogorov test** ``K(n tau) ≈ K(tau)^n``
   (:func:`~deeptime.util.validation.ck_test`), each with 95 % intervals
   (Student t) from independent trajectories, contiguous time blocks or
   disjoint random target subsets; when these are too short for the CK test,
   :func:`resolve_intervals` falls back and says what it changed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from deeptime.decomposition import TransferOperatorModel

from asegraph.exceptions import ParameterError

INTERVAL_SOURCES = ("auto", "time", "targets", "trajectories")


def membership_map(chi: np.ndarray) -> np.ndarray:
    """Linear map from softmax outputs to memberships (inner simplex algorithm).

    Parameters
    ----------
    chi : ndarray, shape (P, K)
        Softmax outputs (rows sum to one) of all frames and targets.

    Returns
    -------
    ndarray, shape (K, K)
        ``M`` such that ``chi @ M`` has rows summing to one and the extreme
        outputs at the unit vectors; states ordered by decreasing population.
    """
    chi = np.asarray(chi, dtype=np.float64)
    k = chi.shape[1]
    affine = np.hstack([chi[:, : k - 1], np.ones((len(chi), 1))])  # [P, K]: coordinates + 1
    centred = chi[:, : k - 1] - chi[:, : k - 1].mean(axis=0)
    vertices = [int(np.argmax(np.sum(centred**2, axis=1)))]
    for _ in range(1, k):  # next vertex: farthest from the affine hull of the chosen ones
        base = chi[vertices[0], : k - 1]
        span = (chi[vertices[1:], : k - 1] - base).T  # [K-1, j]
        rel = chi[:, : k - 1] - base
        if span.size:
            q, _ = np.linalg.qr(span)
            rel = rel - (rel @ q) @ q.T
        vertices.append(int(np.argmax(np.sum(rel**2, axis=1))))
    basis = np.hstack([np.eye(k)[:, : k - 1], np.ones((k, 1))])  # chi -> affine, [K, K]
    try:
        mapping = basis @ np.linalg.inv(affine[vertices])
    except np.linalg.LinAlgError:
        raise ParameterError(
            "the model's state outputs are degenerate (all frames give the same probabilities); "
            "train longer, change the lag or use fewer states"
        ) from None
    order = np.argsort(-np.mean(chi @ mapping, axis=0), kind="stable")
    return mapping[:, order]


def softmax_order(mapping: np.ndarray) -> np.ndarray:
    """Softmax column behind each membership state: ``chi[..., order]`` lists the thesis'
    softmax states in the order of the memberships ``chi @ mapping``.

    Row ``j`` of ``inv(mapping)`` is the softmax output at the vertex of state ``j``
    (where its membership is 1); state ``j`` gets the column that is highest there,
    as an assignment (so the order is a permutation even when the softmax is squashed,
    e.g. both vertices having column 1 above column 0).
    """
    from scipy.optimize import linear_sum_assignment

    vertices = np.linalg.inv(np.asarray(mapping, dtype=np.float64))  # [K states, K columns]
    _, columns = linear_sum_assignment(-vertices)
    return columns


def crisp_memberships(memberships: np.ndarray) -> np.ndarray:
    """Memberships clipped to [0, 1] and renormalised (for reporting)."""
    clipped = np.clip(memberships, 0.0, 1.0)
    return clipped / np.maximum(clipped.sum(axis=-1, keepdims=True), 1e-12)


class KoopmanModel(TransferOperatorModel):
    """A Koopman matrix at a lag, with deeptime's ``timescales``/``lagtime`` protocol.

    Parameters
    ----------
    koopman_matrix : ndarray, shape (K, K)
    lagtime : int, frames
    """

    def __init__(self, koopman_matrix: np.ndarray, lagtime: int) -> None:
        super().__init__(koopman_matrix)
        self.lagtime = int(lagtime)

    def eigen(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eigenvalues [K] sorted by decreasing modulus, right [K, K] and left [K, K]
        eigenvectors (columns; left ones normalised so the first sums to one)."""
        values, right = np.linalg.eig(self.koopman_matrix)
        order = np.argsort(-np.abs(values))
        values, right = values[order], right[:, order]
        left = np.linalg.inv(right).T
        left = left / left[:, :1].sum()
        return values, right, left

    def timescales(self, k: int | None = None) -> np.ndarray:
        """Implied timescales [K-1] in frames: ``-lagtime / ln|lambda_i|``, i >= 1."""
        values = np.abs(self.eigen()[0][1:])
        with np.errstate(divide="ignore", invalid="ignore"):
            result = np.where((values > 0) & (values < 1), -self.lagtime / np.log(values), np.inf)
        return result if k is None else result[:k]

    def stationary_distribution(self) -> np.ndarray:
        """Left eigenvector of eigenvalue ~1, normalised to sum 1: [K]."""
        return np.real(self.eigen()[2][:, 0])


def stationary_population(model: KoopmanModel) -> np.ndarray:
    """The model's stationary distribution [K]; warns when it is not a distribution.

    With many states the estimated Koopman matrix need not be a transition
    matrix, and its "populations" then go negative.
    """
    population = model.stationary_distribution()
    if population.min() < -1e-6:
        k = len(population)
        warnings.warn(
            f"the Koopman model with {k} states has negative stationary populations (down to "
            f"{population.min():.3g}): at this number of states it is not a valid transition "
            f"matrix, so populations and timescales are unreliable; use fewer states "
            f"(e.g. {max(2, k - 1)})",
            RuntimeWarning,
            stacklevel=3,
        )
    return population


def estimate_koopman(trajectories: list[np.ndarray], lag: int) -> KoopmanModel:
    """Koopman matrix ``C00⁺ C0t`` from membership trajectories (each [F_i, K]) at ``lag``."""
    from deeptime.covariance import Covariance

    usable = [np.ascontiguousarray(t, dtype=np.float64) for t in trajectories if len(t) > lag]
    if not usable:
        raise ParameterError(f"lag={lag} frames is not shorter than any trajectory block")
    cov = (
        Covariance(lagtime=lag, compute_c0t=True, remove_data_mean=False, bessels_correction=False)
        .fit(usable)
        .fetch_model()
    )
    return KoopmanModel(np.linalg.pinv(cov.cov_00) @ cov.cov_0t, lag)


class _KoopmanObservable:
    """CK observable for deeptime's :func:`ck_test`: the matrix ``K^mlag`` flattened."""

    def __init__(self, n_states: int) -> None:
        self.n_states = n_states

    def __call__(self, model, mlag=1, **kwargs) -> np.ndarray:
        if model is None:
            return np.eye(self.n_states).ravel()
        return np.linalg.matrix_power(model.koopman_matrix, int(round(mlag))).ravel()


def _subsets(
    segments: list[np.ndarray], n_blocks: int, source: str, seed: int
) -> list[list[np.ndarray]]:
    """Independent subsets of per-group trajectories (each [F_i, K]).

    ``time``: the b-th contiguous chunk of every segment; ``trajectories``: one
    segment each; ``targets``: disjoint random (seeded) subsets of the groups —
    atom indices often follow position, so consecutive indices are not
    independent samples.
    """
    if source == "trajectories":
        return [[seg[:, j] for j in range(seg.shape[1])] for seg in segments]
    if source == "time":
        subsets: list[list[np.ndarray]] = [[] for _ in range(n_blocks)]
        for seg in segments:
            for b, chunk in enumerate(np.array_split(np.arange(len(seg)), n_blocks)):
                subsets[b] += [seg[chunk, j] for j in range(seg.shape[1])]
        return subsets
    order = np.random.default_rng(seed).permutation(segments[0].shape[1])
    return [
        [seg[:, j] for seg in segments for j in np.sort(chunk)]
        for chunk in np.array_split(order, n_blocks)
    ]


def _block_frames(lengths: list[int], source: str, n_blocks: int) -> int:
    """Frames of the shortest trajectory piece an interval subset is made of."""
    return min(lengths) // n_blocks if source == "time" else min(lengths)


def resolve_intervals(
    lengths: list[int],
    n_groups: int,
    lag: int,
    ck_steps: int,
    n_blocks: int,
    interval_source: str,
) -> tuple[str, int, int, str]:
    """Interval subsets and CK steps that the data can hold, with a fallback.

    ``interval_source="auto"`` means ``trajectories`` when there are several
    independent trajectories, else ``time``. When the subsets are too short for
    a CK test to ``ck_steps × lag``, this tries, in order: the requested
    setting; fewer time blocks (down to 3); disjoint target subsets; then the
    same with fewer CK steps (down to 2).

    Returns
    -------
    (interval_source, n_blocks, ck_steps, note)
        ``note`` is "" when nothing was changed, else one line saying what was.

    Raises
    ------
    ParameterError
        When no setting can hold a CK test to ``2 × lag``.
    """
    if interval_source not in INTERVAL_SOURCES:
        raise ParameterError(
            f"interval_source must be one of {INTERVAL_SOURCES}, got {interval_source!r}"
        )
    if n_blocks < 2 or (interval_source == "targets" and n_blocks > n_groups):
        raise ParameterError(
            f"n_blocks={n_blocks}: need at least 2 independent subsets"
            + (f" and at most n_groups={n_groups}" if interval_source == "targets" else "")
        )
    if interval_source == "trajectories" and len(lengths) < 2:
        raise ParameterError(
            "interval_source='trajectories' needs at least 2 independent test trajectories, "
            f"got {len(lengths)}; use 'time' or 'targets'"
        )
    preferred = interval_source
    if interval_source == "auto":
        preferred = "trajectories" if len(lengths) >= 2 else "time"
    requested = (preferred, len(lengths) if preferred == "trajectories" else n_blocks)
    options = [requested]
    options += [("time", b) for b in range(min(n_blocks, 5), 2, -1) if ("time", b) != requested]
    if n_groups >= 2:
        options.append(("targets", min(n_blocks, n_groups)))
    for steps in range(ck_steps, 1, -1):
        for source, blocks in options:
            if steps * lag < _block_frames(lengths, source, blocks):
                if (source, blocks, steps) == (*requested, ck_steps):
                    return source, blocks, steps, ""
                fewer = f" and a CK test to {steps}×lag" if steps < ck_steps else ""
                note = (
                    f"{requested[0]} intervals from {requested[1]} subsets of "
                    f"{_block_frames(lengths, *requested)} frames cannot hold a CK test to "
                    f"{ck_steps}×lag={ck_steps * lag} frames; used {source} intervals from "
                    f"{blocks} subsets{fewer}"
                )
                return source, blocks, steps, note
    raise ParameterError(
        f"the analysed frames give trajectories of {min(lengths)} frames, too short for "
        f"lag={lag} frames and a CK test to {ck_steps}×lag with any interval subsets (even 2 "
        f"CK steps with target subsets); use a shorter lag, fewer ck_steps or a longer "
        f"trajectory"
    )


def _interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95 % Student-t interval half-widths' bounds of the mean of ``samples`` along axis 0."""
    import warnings

    from scipy.stats import t as student

    n = np.sum(np.isfinite(samples), axis=0)
    with warnings.catch_warnings():  # a process with no finite timescale in any subset: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(samples, axis=0)
        half = student.ppf(0.975, np.maximum(n - 1, 1)) * np.nanstd(samples, axis=0, ddof=1)
    half = half / np.sqrt(np.maximum(n, 1))
    return mean - half, mean + half


@dataclass
class KoopmanResult:
    """Koopman analysis of one set of membership trajectories (times in frames).

    Attributes
    ----------
    lag : int
    koopman_matrix : ndarray (K, K)
    eigenvalues : ndarray (K,) complex
    right_eigenvectors, left_eigenvectors : ndarray (K, K)
    population : ndarray (K,)
        Stationary distribution of ``koopman_matrix``.
    its_lags : ndarray of int (L,)
    implied_timescales, its_lower, its_upper : ndarray (L, K-1), frames
    ck_lags : ndarray of int (C,)
    ck_predicted, ck_estimated : ndarray (C, K, K)
    ck_predicted_lower, ck_predicted_upper, ck_estimated_lower, ck_estimated_upper
    ck_passed : bool
        Every predicted and estimated interval overlaps.
    interval_source : str
        Subsets the intervals came from: ``time``, ``targets`` or ``trajectories``.
    n_blocks : int
        Number of those subsets.
    fallback : str
        "" or one line saying what :func:`resolve_intervals` changed.
    """

    lag: int
    koopman_matrix: np.ndarray
    eigenvalues: np.ndarray
    right_eigenvectors: np.ndarray
    left_eigenvectors: np.ndarray
    population: np.ndarray
    its_lags: np.ndarray
    implied_timescales: np.ndarray
    its_lower: np.ndarray
    its_upper: np.ndarray
    ck_lags: np.ndarray
    ck_predicted: np.ndarray
    ck_estimated: np.ndarray
    ck_predicted_lower: np.ndarray
    ck_predicted_upper: np.ndarray
    ck_estimated_lower: np.ndarray
    ck_estimated_upper: np.ndarray
    ck_passed: bool
    interval_source: str = "time"
    n_blocks: int = 5
    fallback: str = ""

    @property
    def slowest_timescale(self) -> float:
        """Slowest implied timescale at ``lag`` (frames)."""
        return float(KoopmanModel(self.koopman_matrix, self.lag).timescales()[0])


def koopman_analysis(
    memberships: np.ndarray | list[np.ndarray],
    lag: int,
    its_lags: np.ndarray | list[int] | None = None,
    ck_steps: int = 5,
    n_blocks: int = 5,
    interval_source: str = "auto",
    seed: int = 0,
) -> KoopmanResult:
    """Koopman matrix, implied timescales and CK test with 95 % intervals.

    Parameters
    ----------
    memberships : ndarray, shape (F, n, K), or list of such arrays
        State memberships (or softmax outputs) of ``n`` target groups in
        consecutive frames; a list holds independent trajectories (lag pairs
        never cross from one to the next).
    lag : int, frames
    its_lags : sequence of int, frames, optional
        Lags of the implied-timescale scan (default: ~10 lags up to ``4 lag``).
    ck_steps : int
        CK test at ``lag, 2 lag, ..., ck_steps lag``.
    n_blocks : int
        Number of independent subsets for the intervals (>= 2).
    interval_source : {"auto", "time", "targets", "trajectories"}
        See :func:`resolve_intervals`, which also falls back to other subsets
        or fewer CK steps when these are too short (``result.fallback``).
    seed : int
        Random assignment of targets to subsets (``targets``).
    """
    from deeptime.util.validation import ck_test, implied_timescales

    segments = [memberships] if isinstance(memberships, np.ndarray) else list(memberships)
    n_groups, k = segments[0].shape[1], segments[0].shape[2]
    lengths = [len(seg) for seg in segments]
    source, n_blocks, ck_steps, note = resolve_intervals(
        lengths, n_groups, lag, ck_steps, n_blocks, interval_source
    )
    block_frames = _block_frames(lengths, source, n_blocks)
    if its_lags is None:
        its_lags = np.unique(np.linspace(1, 4 * lag, 10).round().astype(int))
    its_lags = np.asarray([int(x) for x in its_lags if 0 < x < block_frames])
    ck_lags = np.arange(1, ck_steps + 1) * lag
    full = [seg[:, j] for seg in segments for j in range(n_groups)]
    subsets = _subsets(segments, n_blocks, source, seed)
    observable = _KoopmanObservable(k)

    def its_of(trajs):
        result = implied_timescales([estimate_koopman(trajs, int(t)) for t in its_lags])
        return np.stack([result.timescales_for_process(i) for i in range(k - 1)], axis=1)

    def ck_of(trajs):
        test = ck_test([estimate_koopman(trajs, int(t)) for t in ck_lags], observable)
        return (test.predictions.reshape(-1, k, k)[1:], test.estimates.reshape(-1, k, k)[1:])

    its = its_of(full)  # [L, K-1]
    its_blocks = np.stack([its_of(s) for s in subsets])  # [B, L, K-1]
    its_blocks[~np.isfinite(its_blocks)] = np.nan
    its_lower, its_upper = _interval(its_blocks)
    predicted, estimated = ck_of(full)
    ck_blocks = [ck_of(s) for s in subsets]
    pred_lower, pred_upper = _interval(np.stack([p for p, _ in ck_blocks]))
    est_lower, est_upper = _interval(np.stack([e for _, e in ck_blocks]))
    passed = bool(np.all((pred_lower <= est_upper + 1e-9) & (est_lower <= pred_upper + 1e-9)))
    model = estimate_koopman(full, lag)
    values, right, left = model.eigen()
    return KoopmanResult(
        lag=int(lag),
        koopman_matrix=model.koopman_matrix,
        eigenvalues=values,
        right_eigenvectors=right,
        left_eigenvectors=left,
        population=stationary_population(model),
        its_lags=its_lags,
        implied_timescales=its,
        its_lower=its_lower,
        its_upper=its_upper,
        ck_lags=ck_lags,
        ck_predicted=predicted,
        ck_estimated=estimated,
        ck_predicted_lower=pred_lower,
        ck_predicted_upper=pred_upper,
        ck_estimated_lower=est_lower,
        ck_estimated_upper=est_upper,
        ck_passed=passed,
        interval_source=source,
        n_blocks=len(subsets),
        fallback=note,
    )
