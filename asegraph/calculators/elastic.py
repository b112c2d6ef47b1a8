"""Does the energy model agree with the bulk-modulus model? An equation-of-state check.

A CGCNN energy model and a CGCNN bulk-modulus model are trained separately
on different Materials Project data; nothing forces them to agree. This
helper scales the cell isotropically around its volume, fits an equation of
state (ASE's :class:`~ase.eos.EquationOfState`) to the calculator's energies,
and compares the fitted bulk modulus ``B = V d²E/dV²`` with the
``bulk_modulus`` property. It also compares the pressure from the
calculator's stress, ``-tr(σ)/3``, with ``-dE/dV`` of the fit.

Isotropic scaling keeps every ratio of distances, hence the ranks of the
neighbours and the crystal graph: the energy along the path is smooth even
for a nearest-neighbour CGCNN, so the fit is meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms, units

from asegraph.exceptions import ParameterError

#: The equations of state of :class:`ase.eos.EquationOfState` that the check can use.
EOS_NAMES = (
    "birchmurnaghan",
    "murnaghan",
    "vinet",
    "birch",
    "pouriertarantola",
    "antonschmidt",
    "p3",
    "taylor",
)


@dataclass
class EOSCheck:
    """Result of :func:`eos_check`.

    Attributes
    ----------
    volumes : ndarray, shape (n,), Å³
    energies : ndarray, shape (n,), eV
    v0 : float, Å³
        Volume at the fitted minimum.
    e0 : float, eV
        Fitted minimum energy.
    eos_bulk_modulus : float, GPa
        ``B`` of the fit at ``v0``.
    predicted_bulk_modulus : float, GPa
        The calculator's ``bulk_modulus`` of the input structure (NaN when
        the calculator does not serve it).
    pressure : float, GPa
        ``-tr(σ)/3`` of the calculator's stress at the input volume.
    eos_pressure : float, GPa
        ``-dE/dV`` of the fit at the input volume.
    volume : float, Å³
        The input volume.
    eos : str
        ASE's name of the equation of state.
    extrapolated : bool
        ``v0`` lies outside the fitted volumes: the structure is far from the
        model's equilibrium and ``v0``, ``e0`` are extrapolations.
    """

    volumes: np.ndarray
    energies: np.ndarray
    v0: float
    e0: float
    eos_bulk_modulus: float
    predicted_bulk_modulus: float
    pressure: float
    eos_pressure: float
    volume: float
    eos: str
    extrapolated: bool

    @property
    def ratio(self) -> float:
        """``eos_bulk_modulus / predicted_bulk_modulus``; 1 means the models agree."""
        return self.eos_bulk_modulus / self.predicted_bulk_modulus

    def __str__(self) -> str:
        return (
            f"EOS ({self.eos}) over V = {self.volumes.min():.2f}..{self.volumes.max():.2f} Å³: "
            f"V0 = {self.v0:.2f} Å³{' (extrapolated)' if self.extrapolated else ''} "
            f"(input {self.volume:.2f}), E0 = {self.e0:.4f} eV, "
            f"B = {self.eos_bulk_modulus:.1f} GPa; bulk-modulus model: "
            f"{self.predicted_bulk_modulus:.1f} GPa (ratio {self.ratio:.2f}); pressure from "
            f"stress {self.pressure:.3f} GPa vs from the fit {self.eos_pressure:.3f} GPa"
        )


def eos_check(
    atoms: Atoms,
    calculator=None,
    max_strain: float = 0.03,
    n_points: int = 9,
    eos: str = "birchmurnaghan",
) -> EOSCheck:
    """Fit an equation of state to the calculator's energies and compare moduli.

    Parameters
    ----------
    atoms : ase.Atoms
        Periodic in three directions; not modified. Relax it first for a
        fit around the model's own equilibrium (the fit is still valid
        elsewhere, but ``v0`` is then extrapolated).
    calculator : ase Calculator, optional
        Default ``atoms.calc``, else a new default
        :class:`~asegraph.calculators.cgcnn.CGCNNCalculator`.
    max_strain : float, default 0.03
        Largest linear strain; volumes span ``(1 ± max_strain)**3 V``.
    n_points : int, default 9
        Volumes in the fit (at least 5).
    eos : str, default "birchmurnaghan"
        One of :data:`EOS_NAMES`.

    Returns
    -------
    EOSCheck

    Raises
    ------
    ParameterError
        Non-periodic input, ``max_strain`` outside (0, 0.2], fewer than 5
        points, an unknown ``eos``.

    Examples
    --------
    >>> from ase.build import bulk
    >>> print(eos_check(bulk("NaCl", "rocksalt", a=5.64)))   # doctest: +SKIP
    """
    from ase.calculators.calculator import PropertyNotImplementedError
    from ase.eos import EquationOfState

    if not np.all(atoms.pbc):
        raise ParameterError(
            f"eos_check needs a structure periodic in three directions, got pbc={atoms.pbc}"
        )
    if not 0.0 < max_strain <= 0.2:
        raise ParameterError(f"max_strain must be in (0, 0.2], got {max_strain!r}")
    if int(n_points) != n_points or n_points < 5:
        raise ParameterError(f"n_points must be an integer >= 5, got {n_points!r}")
    if eos not in EOS_NAMES:
        raise ParameterError(f"eos must be one of {EOS_NAMES}, got {eos!r}")
    if calculator is None:
        calculator = atoms.calc
    if calculator is None:
        from asegraph.calculators.cgcnn import CGCNNCalculator

        calculator = CGCNNCalculator()
    work = atoms.copy()
    work.calc = calculator
    cell = atoms.cell.array.copy()
    volume = float(atoms.get_volume())
    pressure = -float(np.mean(work.get_stress()[:3])) / units.GPa
    try:
        predicted = float(calculator.get_property("bulk_modulus", work))
    except PropertyNotImplementedError:
        predicted = float("nan")
    volumes, energies = [], []
    for scale in np.linspace(1.0 - max_strain, 1.0 + max_strain, int(n_points)):
        work.set_cell(cell * scale, scale_atoms=True)
        volumes.append(work.get_volume())
        energies.append(work.get_potential_energy())
    fit = EquationOfState(volumes, energies, eos=eos)
    v0, e0, b = fit.fit(warn=False)
    # -dE/dV at the input volume from the fitted curve (central difference).
    h = 1e-4 * volume
    upper, lower = (fit.func(volume + s, *fit.eos_parameters) for s in (h, -h))
    eos_pressure = -(upper - lower) / (2 * h) / units.GPa
    return EOSCheck(
        volumes=np.asarray(volumes),
        energies=np.asarray(energies),
        v0=float(v0),
        e0=float(e0),
        eos_bulk_modulus=float(b / units.GPa),
        predicted_bulk_modulus=predicted,
        pressure=pressure,
        eos_pressure=float(eos_pressure),
        volume=volume,
        eos=eos,
        extrapolated=not min(volumes) < v0 < max(volumes),
    )
