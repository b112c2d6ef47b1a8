"""Coarse-grained polymer-electrolyte systems built as :class:`ase.Atoms`.

The model (thesis ch. 5) has four bead types:

=====  ==========  ======  =======================================
type   name        charge  meaning
=====  ==========  ======  =======================================
0      ``cat``     +1      Li+
1      ``ani``     -1      anion (TFSI- as one bead)
2      ``cha``      0      backbone monomer (EO)
3      ``ss``       0      secondary site on the chain (optional)
=====  ==========  ======  =======================================

Chains are linear bead-spring chains (harmonic bonds).  Each bead type has a
radius ``r_X`` (Å); Lennard-Jones σ_ij = r_i + r_j and well depths
``eps_X_Y`` (kcal/mol) come from the design point.  Charges are stored as
initial charges (units of e), bead types in ``atoms.arrays["bead_type"]``,
molecule ids in ``atoms.arrays["mol_id"]`` and bonds (``[n_bonds, 2]`` int) in
``atoms.info["bonds"]``.  The box is cubic, sized so the bead volumes
Σ 4/3 π r_i³ fill ``packing_fraction`` of it, and beads are placed without
overlaps (no pair closer than ``overlap_factor`` σ_ij).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from asegraph.exceptions import ParameterError, StructureError

__all__ = ["BEAD_TYPES", "CGTopology", "build_system", "pair_tables", "param_key"]

BEAD_TYPES = ("cat", "ani", "cha", "ss")
_SYMBOLS = ("Li", "S", "O", "N")  # display symbols only; masses are set explicitly
_MASSES = {"cat": 6.94, "ani": 280.15, "cha": 44.05, "ss": 44.05}  # amu
_CHARGES = {"cat": 1.0, "ani": -1.0, "cha": 0.0, "ss": 0.0}  # e
_DEFAULT_RADIUS = {"cat": 0.8, "ani": 3.3, "cha": 2.0, "ss": 2.0}  # Å
_DEFAULT_EPS = 1.0  # kcal/mol


#: Every design-point name :func:`build_system` reads (``r_li``/``eps_li_li``: aliases of
#: ``r_cat``/``eps_cat_cat``); any other name would be passed on and ignored.
PARAMETER_NAMES = frozenset(
    ["c_salt", "r_li", "eps_li_li"]
    + [f"r_{t}" for t in BEAD_TYPES]
    + [f"eps_{a}_{b}" for a in BEAD_TYPES for b in BEAD_TYPES]
)


def param_key(a: str, b: str) -> str:
    """Canonical name ``eps_a_b`` of a pair parameter, accepting either order."""
    return f"eps_{a}_{b}"


def _lookup_eps(params: Mapping[str, float], a: str, b: str) -> float:
    for key in (f"eps_{a}_{b}", f"eps_{b}_{a}"):
        if key in params:
            return float(params[key])
    return _DEFAULT_EPS


@dataclass(frozen=True)
class CGTopology:
    """Sizes of a CG system.

    Parameters
    ----------
    n_chains : int
        Number of polymer chains.
    chain_length : int
        Beads per chain (EO and secondary sites).
    secondary_ratio : float
        Secondary sites per EO bead (thesis: 1/5 -> every 6th bead is a site); 0 for none.
    packing_fraction : float
        Σ 4/3 π r_i³ / V, in (0, 0.6).
    """

    n_chains: int = 20
    chain_length: int = 30
    secondary_ratio: float = 0.0
    packing_fraction: float = 0.4

    def __post_init__(self) -> None:
        if self.n_chains < 1 or self.chain_length < 2:
            raise ParameterError(
                f"topology: need n_chains >= 1 and chain_length >= 2, got n_chains="
                f"{self.n_chains}, chain_length={self.chain_length}"
            )
        if not 0.0 <= self.secondary_ratio <= 1.0:
            raise ParameterError(
                f"topology: secondary_ratio must be in [0, 1], got {self.secondary_ratio}"
            )
        if not 0.0 < self.packing_fraction < 0.6:
            raise ParameterError(
                f"topology: packing_fraction must be in (0, 0.6), got {self.packing_fraction}; "
                "0.3-0.45 packs quickly"
            )


def pair_tables(params: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per-type-pair LJ σ (Å) and ε (kcal/mol), each ``[4, 4]`` float64, symmetric."""
    radii = np.array([float(params.get(f"r_{t}", _DEFAULT_RADIUS[t])) for t in BEAD_TYPES])
    sigma = radii[:, None] + radii[None, :]
    eps = np.array([[_lookup_eps(params, a, b) for b in BEAD_TYPES] for a in BEAD_TYPES])
    return sigma, eps


def _chain_sequence(length: int, ratio: float) -> np.ndarray:
    """Bead types along one chain: EO (2), with a secondary site (3) every 1/ratio EO."""
    seq = np.full(length, 2, dtype=np.int64)
    if ratio > 0:
        period = int(round(1.0 / ratio)) + 1
        seq[period - 1 :: period] = 3
    return seq


def build_system(
    params: Mapping[str, float],
    topology: CGTopology | None = None,
    *,
    seed: int,
    overlap_factor: float = 0.75,
    max_tries: int = 200,
    max_chain_attempts: int = 20,
) -> Atoms:
    """Pack chains, Li+ and anions into a cubic periodic box without overlaps.

    Parameters
    ----------
    params : mapping
        Design-point values: ``r_cat|r_li``, ``r_ani``, ``r_cha``, ``r_ss`` (Å),
        ``eps_X_Y`` (kcal/mol) and ``c_salt`` (Li per EO bead).
    topology : CGTopology, optional
        Chain count/length, secondary-site ratio, packing fraction.
    seed : int
        Seed of the random walks and insertions.
    overlap_factor : float
        No pair is placed closer than ``overlap_factor * σ_ij``.
    max_tries : int
        Rounds of 16 trial positions per bead before the chain is given up.
    max_chain_attempts : int
        Times a chain that walled itself in is discarded and grown again.

    Returns
    -------
    ase.Atoms
        Periodic, with ``bead_type``/``mol_id`` arrays, initial charges (e),
        masses (amu), ``info["bonds"]`` ``[n_bonds, 2]``, ``info["cg_params"]``.
    """
    topo = topology or CGTopology()
    p = dict(params)
    if "r_li" in p and "r_cat" not in p:
        p["r_cat"] = p["r_li"]
    if "eps_li_li" in p and "eps_cat_cat" not in p:
        p["eps_cat_cat"] = p["eps_li_li"]
    c_salt = float(p.get("c_salt", 0.05))
    if not c_salt > 0:
        raise ParameterError(f"build_system: c_salt must be > 0 (Li per EO), got {c_salt}")
    sigma, _ = pair_tables(p)
    radii = np.diag(sigma) / 2.0
    seq = _chain_sequence(topo.chain_length, topo.secondary_ratio)
    n_eo = int((seq == 2).sum()) * topo.n_chains
    n_salt = max(1, int(round(c_salt * n_eo)))
    types = np.concatenate(
        [np.tile(seq, topo.n_chains), np.zeros(n_salt, np.int64), np.ones(n_salt, np.int64)]
    )
    volume = float(np.sum(4.0 / 3.0 * math.pi * radii[types] ** 3)) / topo.packing_fraction
    box = volume ** (1.0 / 3.0)
    rng = np.random.default_rng(seed)
    n = len(types)
    pos = np.zeros((n, 3))
    placed = 0

    def free(trials: np.ndarray, t: int) -> np.ndarray:
        if placed == 0:
            return np.ones(len(trials), bool)
        d = trials[:, None, :] - pos[None, :placed, :]  # [n_trials, placed, 3]
        d -= box * np.round(d / box)
        r2 = np.einsum("abk,abk->ab", d, d)
        lim = (overlap_factor * sigma[t, types[:placed]]) ** 2  # [placed]
        return (r2 >= lim[None, :]).all(axis=1)

    def grow_chain(start: int) -> bool:
        """Random walk of one chain from bead ``start``; False if it trapped itself."""
        nonlocal placed
        for k in range(topo.chain_length):
            i = start + k
            t = int(types[i])
            for _ in range(max_tries):
                if k == 0:
                    trials = rng.random((16, 3)) * box
                else:
                    v = rng.standard_normal((16, 3))
                    v /= np.linalg.norm(v, axis=1, keepdims=True)
                    trials = pos[i - 1] + v * sigma[t, types[i - 1]]
                ok = free(trials, t)
                if ok.any():
                    pos[i] = trials[np.argmax(ok)]
                    break
            else:
                return False
            placed += 1
        return True

    bonds = []
    mol_id = np.zeros(n, np.int64)
    for c in range(topo.n_chains):
        start = placed
        # A walk can wall itself in (~1 % of builds at the reference point, ~2.5 %
        # over the design space): discard the chain and grow it again from a new
        # start, which leaves every build that never trapped unchanged.
        for _ in range(max_chain_attempts):
            placed = start
            if grow_chain(start):
                break
        else:
            raise StructureError(
                f"build_system: could not grow chain {c} without overlap in "
                f"{max_chain_attempts} attempts of {max_tries * 16} trials per bead at "
                f"packing_fraction={topo.packing_fraction}; lower packing_fraction or "
                "overlap_factor"
            )
        bonds.extend((i - 1, i) for i in range(start + 1, placed))
        mol_id[start:placed] = c
    for i in range(placed, n):
        t = int(types[i])
        for _ in range(max_tries):
            trials = rng.random((16, 3)) * box
            ok = free(trials, t)
            if ok.any():
                pos[i] = trials[np.argmax(ok)]
                break
        else:
            raise StructureError(
                f"build_system: could not insert ion {i} without overlap at packing_fraction="
                f"{topo.packing_fraction}; lower packing_fraction or overlap_factor"
            )
        mol_id[i] = topo.n_chains + (i - placed)
        placed += 1
    atoms = Atoms(
        symbols=[_SYMBOLS[t] for t in types],
        positions=pos,
        cell=np.eye(3) * box,
        pbc=True,
        masses=[_MASSES[BEAD_TYPES[t]] for t in types],
        charges=[_CHARGES[BEAD_TYPES[t]] for t in types],
    )
    atoms.arrays["bead_type"] = types.copy()
    atoms.arrays["mol_id"] = mol_id
    atoms.info["bonds"] = np.array(bonds, dtype=np.int64).reshape(-1, 2)
    atoms.info["cg_params"] = {k: float(v) for k, v in p.items()}
    return atoms
