"""Design spaces: named, bounded parameters with units, and unit-cube transforms.

A :class:`DesignSpace` holds the parameters that are varied (each with lower and
upper bounds, a unit, a group and a reference value) and the parameters held
fixed.  Optimisers work in the unit cube ``[0, 1]^d``; simulations receive a
plain ``dict`` of physical values (:meth:`DesignSpace.to_params`).

The built-in space (:func:`peo_litfsi_space`) follows thesis chapter 5: bead
radii (Å) and Lennard-Jones well depths (kcal/mol) of the anion, optional
secondary sites and the polymer backbone, and the salt concentration, around
the reference point of PEO-LiTFSI.  Users define their own spaces in TOML or
YAML (:func:`load_space`)::

    [parameters.r_ani]
    lower = 1.5
    upper = 5.0
    unit = "angstrom"
    group = "anion"
    reference = 3.3

    [fixed]
    r_li = 0.8
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tomllib

from asegraph.exceptions import InputFileError, ParameterError

__all__ = ["Parameter", "DesignSpace", "peo_litfsi_space", "load_space", "PEO_LITFSI_REFERENCE"]

#: Reference CG parameters of PEO-LiTFSI (radii in Å, ε in kcal/mol, c_salt = Li/EO).
#: Bead radius r gives LJ σ_ij = r_i + r_j.  Values are a plausible CG mapping
#: (EO monomer, Li+, TFSI- as one bead each); calibrate against your own
#: all-atom data before quantitative use.
PEO_LITFSI_REFERENCE: dict[str, float] = {
    # anion group (5)
    "r_ani": 3.3,
    "c_salt": 0.05,
    "eps_cat_ani": 1.0,
    "eps_ani_ani": 1.0,
    "eps_cha_ani": 1.0,
    # secondary-site group (5)
    "r_ss": 2.0,
    "eps_ss_cat": 1.0,
    "eps_ss_ani": 1.0,
    "eps_ss_cha": 1.0,
    "eps_ss_ss": 1.0,
    # backbone group (4); eps_cha_ani is shared with the anion group
    "r_cha": 2.0,
    "eps_cha_cha": 1.0,
    "eps_cat_cha": 2.0,
    # fixed by default
    "r_li": 0.8,
    "eps_cat_cat": 1.0,
}

_UNITS = {"r": "angstrom", "eps": "kcal/mol", "c": "Li/EO"}
_GROUPS = {
    "anion": ["r_ani", "c_salt", "eps_cat_ani", "eps_ani_ani", "eps_cha_ani"],
    "secondary": ["r_ss", "eps_ss_cat", "eps_ss_ani", "eps_ss_cha", "eps_ss_ss"],
    "backbone": ["r_cha", "eps_cha_cha", "eps_cat_cha", "eps_cha_ani"],
}


@dataclass(frozen=True)
class Parameter:
    """One bounded design parameter.

    Parameters
    ----------
    name : str
        Identifier, e.g. ``"r_ani"``.
    lower, upper : float
        Bounds in ``unit``; ``lower < upper``.
    unit : str
        Unit of the physical value (``"angstrom"``, ``"kcal/mol"``, ...).
    group : str
        Thesis group (``"anion"``, ``"secondary"``, ``"backbone"``) or any label.
    reference : float or None
        Value of the reference system (PEO-LiTFSI), inside the bounds.
    log : bool
        Map to the unit cube on a logarithmic scale (requires ``lower > 0``).
    """

    name: str
    lower: float
    upper: float
    unit: str = ""
    group: str = ""
    reference: float | None = None
    log: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
            raise ParameterError(
                f"parameter {self.name!r}: bounds must be finite numbers, got "
                f"lower={self.lower}, upper={self.upper}; give finite bounds"
            )
        if not self.lower < self.upper:
            raise ParameterError(
                f"parameter {self.name!r}: expected lower < upper, got lower={self.lower}, "
                f"upper={self.upper}; swap or widen the bounds"
            )
        if self.log and self.lower <= 0:
            raise ParameterError(
                f"parameter {self.name!r}: log=true needs lower > 0, got lower={self.lower}; "
                "raise the lower bound or set log=false"
            )
        if self.reference is not None and not self.lower <= self.reference <= self.upper:
            raise ParameterError(
                f"parameter {self.name!r}: reference={self.reference} lies outside "
                f"[{self.lower}, {self.upper}]; move the reference or widen the bounds"
            )


@dataclass
class DesignSpace:
    """An ordered set of varied parameters plus fixed values.

    Parameters
    ----------
    parameters : sequence of Parameter
        Varied parameters; their order defines the columns of unit-cube arrays.
    fixed : mapping of str to float
        Parameters held constant (passed to the simulation unchanged).
    """

    parameters: Sequence[Parameter]
    fixed: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.parameters = tuple(self.parameters)
        self.fixed = {str(k): float(v) for k, v in dict(self.fixed).items()}
        if not self.parameters:
            raise ParameterError(
                "design space: expected at least one varied parameter, got none; "
                "add a [parameters.NAME] table"
            )
        names = [p.name for p in self.parameters]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ParameterError(f"design space: duplicate parameter names {dup}; rename them")
        both = sorted(set(names) & set(self.fixed))
        if both:
            raise ParameterError(
                f"design space: {both} are both varied and fixed; remove them from [fixed]"
            )

    # ------------------------------------------------------------------ basics
    @property
    def dim(self) -> int:
        """Number of varied parameters ``d``."""
        return len(self.parameters)

    @property
    def names(self) -> list[str]:
        """Names of the varied parameters, in column order."""
        return [p.name for p in self.parameters]

    @property
    def bounds(self) -> np.ndarray:
        """Physical bounds, float64 array of shape ``[2, d]`` (row 0 lower, row 1 upper)."""
        return np.array([[p.lower for p in self.parameters], [p.upper for p in self.parameters]])

    def labels(self) -> list[str]:
        """Axis labels ``"name (unit)"`` for figures."""
        return [f"{p.name} ({p.unit})" if p.unit else p.name for p in self.parameters]

    # ------------------------------------------------------------- transforms
    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """Physical values ``[..., d]`` -> unit-cube coordinates ``[..., d]`` (float64)."""
        x = np.asarray(values, dtype=np.float64)
        self._check_last_dim(x, "values")
        out = np.empty_like(x)
        for k, p in enumerate(self.parameters):
            if p.log:
                out[..., k] = (np.log(x[..., k]) - math.log(p.lower)) / math.log(p.upper / p.lower)
            else:
                out[..., k] = (x[..., k] - p.lower) / (p.upper - p.lower)
        return out

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Unit-cube coordinates ``[..., d]`` -> physical values ``[..., d]`` (float64)."""
        u = np.asarray(u, dtype=np.float64)
        self._check_last_dim(u, "unit-cube point")
        out = np.empty_like(u)
        for k, p in enumerate(self.parameters):
            if p.log:
                out[..., k] = p.lower * (p.upper / p.lower) ** u[..., k]
            else:
                out[..., k] = p.lower + u[..., k] * (p.upper - p.lower)
        return out

    def to_params(self, u: np.ndarray) -> dict[str, float]:
        """One unit-cube point ``[d]`` -> dict of all physical values (varied + fixed)."""
        values = self.from_unit(np.asarray(u, dtype=np.float64).reshape(self.dim))
        out = dict(self.fixed)
        out.update({n: float(v) for n, v in zip(self.names, values, strict=True)})
        return out

    def from_params(self, params: Mapping[str, float]) -> np.ndarray:
        """Dict of physical values (must name every varied parameter) -> unit point ``[d]``."""
        missing = [n for n in self.names if n not in params]
        if missing:
            raise ParameterError(
                f"point: missing values for {missing}; expected all of {self.names}"
            )
        return self.to_unit(np.array([float(params[n]) for n in self.names]))

    def reference_unit(self) -> np.ndarray:
        """Reference point in the unit cube, shape ``[d]``; centre where none is given."""
        ref = [
            p.reference if p.reference is not None else 0.5 * (p.lower + p.upper)
            for p in self.parameters
        ]
        return self.to_unit(np.array(ref))

    def sample(self, n: int, *, seed: int, method: str = "sobol") -> np.ndarray:
        """Space-filling or random unit-cube points.

        Parameters
        ----------
        n : int
            Number of points.
        seed : int
            Seed of the scrambled Sobol sequence or of the uniform generator.
        method : {"sobol", "random"}
            Scrambled Sobol (scipy.stats.qmc) or i.i.d. uniform.

        Returns
        -------
        numpy.ndarray, float64, shape ``[n, d]``
        """
        if n < 0:
            raise ParameterError(f"sample: n must be >= 0, got {n}")
        if method == "sobol":
            import warnings

            from scipy.stats import qmc

            with warnings.catch_warnings():  # balance warning for non-powers of 2
                warnings.simplefilter("ignore", UserWarning)
                return qmc.Sobol(d=self.dim, scramble=True, seed=seed).random(n)
        if method == "random":
            return np.random.default_rng(seed).random((n, self.dim))
        raise ParameterError(f"sample: method must be 'sobol' or 'random', got {method!r}")

    def subspace(self, group: str) -> DesignSpace:
        """The parameters of one ``group``; the others are fixed at their reference."""
        keep = [p for p in self.parameters if p.group == group]
        if not keep:
            groups = sorted({p.group for p in self.parameters})
            raise ParameterError(f"subspace: no parameter in group {group!r}; groups: {groups}")
        fixed = dict(self.fixed)
        for p in self.parameters:
            if p.group != group:
                fixed[p.name] = (
                    p.reference if p.reference is not None else 0.5 * (p.lower + p.upper)
                )
        return DesignSpace(keep, fixed)

    def to_dict(self) -> dict:
        """JSON/TOML-serialisable description (inverse of :meth:`from_dict`)."""
        params = {}
        for p in self.parameters:
            d = {"lower": p.lower, "upper": p.upper, "unit": p.unit, "group": p.group, "log": p.log}
            if p.reference is not None:
                d["reference"] = p.reference
            params[p.name] = d
        return {"parameters": params, "fixed": dict(self.fixed)}

    @classmethod
    def from_dict(cls, data: Mapping, *, source: str = "space") -> DesignSpace:
        """Build from ``{"parameters": {name: {...}}, "fixed": {...}}``."""
        if not isinstance(data, Mapping) or "parameters" not in data:
            raise InputFileError(
                f"{source}: expected a 'parameters' table mapping names to "
                "{lower, upper, unit, group, reference}; found none"
            )
        table = data["parameters"]
        if not isinstance(table, Mapping):
            raise InputFileError(
                f"{source}: 'parameters' must be a table, got {type(table).__name__}"
            )
        allowed = {"lower", "upper", "unit", "group", "reference", "log"}
        params = []
        for name, spec in table.items():
            if not isinstance(spec, Mapping):
                raise InputFileError(f"{source}: parameter {name!r} must be a table, got {spec!r}")
            unknown = sorted(set(spec) - allowed)
            if unknown:
                raise InputFileError(
                    f"{source}: parameter {name!r} has unknown keys {unknown}; "
                    f"allowed: {sorted(allowed)}"
                )
            for key in ("lower", "upper"):
                if not isinstance(spec.get(key), (int, float)) or isinstance(spec.get(key), bool):
                    raise InputFileError(
                        f"{source}: parameter {name!r} needs a numeric {key!r}, got "
                        f"{spec.get(key)!r}"
                    )
            ref = spec.get("reference")
            params.append(
                Parameter(
                    name=str(name),
                    lower=float(spec["lower"]),
                    upper=float(spec["upper"]),
                    unit=str(spec.get("unit", _default_unit(name))),
                    group=str(spec.get("group", "")),
                    reference=None if ref is None else float(ref),
                    log=bool(spec.get("log", False)),
                )
            )
        fixed = data.get("fixed", {})
        if not isinstance(fixed, Mapping) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in fixed.values()
        ):
            raise InputFileError(f"{source}: 'fixed' must map names to numbers, got {fixed!r}")
        return cls(params, fixed)

    def _check_last_dim(self, x: np.ndarray, what: str) -> None:
        if x.ndim == 0 or x.shape[-1] != self.dim:
            raise ParameterError(
                f"{what}: expected last dimension {self.dim} ({self.names}), got shape {x.shape}"
            )


def _default_unit(name: str) -> str:
    return _UNITS.get(name.split("_")[0], "")


def peo_litfsi_space(group: str = "all") -> DesignSpace:
    """The thesis' CG design space around PEO-LiTFSI.

    Parameters
    ----------
    group : {"all", "anion", "secondary", "backbone"}
        ``"anion"`` (5 parameters: r_ani, c_salt, eps_cat_ani, eps_ani_ani,
        eps_cha_ani), ``"secondary"`` (5), ``"backbone"`` (4), or all 13 distinct
        parameters.  Parameters outside the group are fixed at the reference.

    Returns
    -------
    DesignSpace
        Radii 1.5–5 Å, ε 0.4–6 kcal/mol, c_salt 0.02–0.2 Li per EO.
    """
    ref = PEO_LITFSI_REFERENCE
    order: list[str] = []
    group_of: dict[str, str] = {}
    for g, names in _GROUPS.items():
        for n in names:
            if n not in group_of:
                order.append(n)
                group_of[n] = g
    params = []
    for n in order:
        kind = n.split("_")[0]
        lo, hi = {"r": (1.5, 5.0), "eps": (0.4, 6.0), "c": (0.02, 0.2)}[kind]
        params.append(Parameter(n, lo, hi, _UNITS[kind], group_of[n], ref[n]))
    fixed = {k: v for k, v in ref.items() if k not in order}
    space = DesignSpace(params, fixed)
    if group == "all":
        return space
    if group not in _GROUPS:
        raise ParameterError(
            f"peo_litfsi_space: group must be one of {['all', *_GROUPS]}, got {group!r}"
        )
    keep = [p for p in params if p.name in _GROUPS[group]]
    fixed.update({p.name: p.reference for p in params if p.name not in _GROUPS[group]})
    return DesignSpace(
        [Parameter(p.name, p.lower, p.upper, p.unit, group, p.reference) for p in keep], fixed
    )


def load_space(path: str | Path) -> DesignSpace:
    """Read a design space from a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file.

    The file holds a ``parameters`` table (or a ``space`` table containing one),
    or ``builtin = "peo_litfsi"`` with optional ``group``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"space file {str(path)!r} does not exist; check the path")
    data = read_config_file(path)
    return space_from_config(data.get("space", data), source=str(path))


def space_from_config(data: Mapping, *, source: str) -> DesignSpace:
    """Build a space from a parsed mapping (see :func:`load_space`)."""
    # a key this function does not read was silently ignored: with builtin, a misspelt
    # group ('grup') varied all 15 parameters, and [space.parameters] bounds were dropped
    allowed = {"builtin", "group", "fixed"} if "builtin" in data else {"parameters", "fixed"}
    unknown = sorted(set(data) - allowed)
    if unknown and ("builtin" in data or "parameters" in data):  # else: no parameters, below
        hint = (
            "; a builtin space's bounds cannot be changed: copy its parameters into "
            "[space.parameters] and drop builtin"
            if "builtin" in data and "parameters" in data
            else ""
        )
        raise InputFileError(f"{source}: unknown keys {unknown}; allowed: {sorted(allowed)}{hint}")
    if "builtin" in data:
        if data["builtin"] != "peo_litfsi":
            raise InputFileError(
                f"{source}: builtin space must be 'peo_litfsi', got {data['builtin']!r}"
            )
        space = peo_litfsi_space(str(data.get("group", "all")))
        extra = data.get("fixed", {})
        if extra:
            space = DesignSpace(space.parameters, {**space.fixed, **extra})
        return space
    return DesignSpace.from_dict(data, source=source)


def read_config_file(path: Path) -> dict:
    """Parse a TOML or YAML file into a dict, raising :class:`InputFileError` on failure."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            with open(path, "rb") as fh:
                return tomllib.load(fh)
        if suffix in (".yaml", ".yml"):
            import yaml

            with open(path) as fh:
                data = yaml.safe_load(fh)
            if not isinstance(data, dict):
                raise InputFileError(f"{str(path)!r}: expected a mapping at top level")
            return data
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(f"{str(path)!r} is not valid TOML ({exc}); fix the syntax") from exc
    except ImportError as exc:
        raise InputFileError(
            f"{str(path)!r}: reading YAML needs PyYAML; pip install pyyaml"
        ) from exc
    except Exception as exc:
        if isinstance(exc, InputFileError):
            raise
        raise InputFileError(f"{str(path)!r} could not be parsed ({exc}); fix the syntax") from exc
    raise InputFileError(
        f"{str(path)!r}: expected a .toml, .yaml or .yml file, got suffix {suffix!r}"
    )
