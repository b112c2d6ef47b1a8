"""Trajectory input for GDyNet: MDAnalysis universes from any engine's files.

Everything becomes an :class:`MDAnalysis.core.universe.Universe`:

* files MDAnalysis reads (DCD, XTC, TRR, NetCDF, LAMMPS data + dump/DCD, ...)
  with a topology, opened directly (streamed frame by frame);
* ASE input (``.traj``, extxyz, VASP ``XDATCAR`` — AIMD —, or a list of
  :class:`ase.Atoms`) through an adapter that loads the frames into
  MDAnalysis' ``MemoryReader`` (float32).

Each atom gets a *species* label (element, else type, else name) that the
model embeds. Targets are pooled into groups (``atoms``, ``residues`` or
``molecules``). Times are in ps.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from asegraph.exceptions import InputFileError, ParameterError

GROUPINGS = ("atoms", "residues", "molecules")
ASE_SUFFIXES = (".traj", ".extxyz", ".xyz")
#: Trajectory formats that carry no atom names, elements or types.
BARE_FORMATS = (".dcd", ".xtc", ".trr", ".nc", ".ncdf", ".crd", ".mdcrd")
_UNITS_PS = {"fs": 1e-3, "ps": 1.0, "ns": 1e3}


def parse_time(value: float | str, name: str = "lag") -> float:
    """A time in ps from a number (ps) or a string such as ``"1ps"``, ``"500 fs"``, ``"2ns"``."""
    if isinstance(value, (int, float, np.floating, np.integer)):
        result = float(value)
    else:
        match = re.fullmatch(r"\s*([0-9.eE+-]+)\s*(fs|ps|ns)?\s*", str(value))
        if match is None:
            raise ParameterError(
                f"{name}={value!r}: expected a time such as '1ps', '500fs' or '0.5' (ps)"
            )
        try:
            result = float(match.group(1)) * _UNITS_PS[match.group(2) or "ps"]
        except ValueError:
            raise ParameterError(
                f"{name}={value!r}: expected a time such as '1ps', '500fs' or '0.5' (ps)"
            ) from None
    if not np.isfinite(result) or result <= 0:
        raise ParameterError(f"{name} must be a positive time, got {value!r}")
    return result


def parse_types(types: str | Sequence[str], n_atoms: int | None = None) -> list[str]:
    """Species labels from ``"S*32,Li*16"`` or ``"S S Li"`` or a sequence of strings."""
    if isinstance(types, str):
        labels: list[str] = []
        for token in re.split(r"[,\s]+", types.strip()):
            if not token:
                continue
            name, _, count = token.partition("*")
            if count and not count.isdigit():
                raise ParameterError(f"types: cannot read {token!r}; write e.g. 'S*32,Li*16'")
            labels.extend([name] * (int(count) if count else 1))
    else:
        labels = [str(t) for t in types]
    if n_atoms is not None and len(labels) != n_atoms:
        raise ParameterError(
            f"types: got {len(labels)} labels for a trajectory of {n_atoms} atoms; give one per "
            f"atom, e.g. 'S*32,Li*16'"
        )
    return labels


def universe_from_ase(
    frames: Sequence, timestep_ps: float | None = None, source: str = "<list of Atoms>"
):
    """Adapter: a sequence of :class:`ase.Atoms` -> in-memory MDAnalysis Universe.

    Parameters
    ----------
    frames : sequence of ase.Atoms
        Same atoms in the same order in every frame; periodic cells (any shape,
        changing or not).
    timestep_ps : float, optional, ps
        Time between frames. If omitted, taken from ``atoms.info["time"]``
        (ASE time units, as ASE's MD loggers write it) of the first two frames.
    source : str
        Name used in error messages.
    """
    import MDAnalysis as mda
    from ase import units
    from MDAnalysis.coordinates.memory import MemoryReader

    frames = list(frames)
    if len(frames) == 0:
        raise InputFileError(f"trajectory '{source}' holds no frames")
    n_atoms = len(frames[0])
    symbols = frames[0].get_chemical_symbols()
    if any(len(f) != n_atoms for f in frames):
        raise InputFileError(f"trajectory '{source}': the number of atoms changes between frames")
    if timestep_ps is None:
        times = [f.info.get("time") for f in frames[:2]]
        if len(frames) > 1 and None not in times:
            timestep_ps = float(times[1] - times[0]) / (1000 * units.fs)
        else:
            timestep_ps = 1.0 if len(frames) == 1 else None
    if timestep_ps is None:
        raise ParameterError(
            f"trajectory '{source}' stores no time per frame; give the time between frames "
            f"(timestep_ps=..., or --timestep on the command line)"
        )
    positions = np.stack([f.positions for f in frames]).astype(np.float32)  # [F, N, 3]
    dimensions = np.array(
        [[*f.cell.cellpar()] if f.cell.rank == 3 else [0.0] * 6 for f in frames],
        dtype=np.float32,
    )  # [F, 6]
    universe = mda.Universe.empty(n_atoms, trajectory=False)
    universe.add_TopologyAttr("names", symbols)
    universe.add_TopologyAttr("elements", symbols)
    universe.add_TopologyAttr("types", symbols)
    universe.load_new(positions, format=MemoryReader, dimensions=dimensions, dt=timestep_ps)
    return universe


def load_universe(
    trajectory: str | Path | Sequence,
    topology: str | Path | None = None,
    types: str | Sequence[str] | None = None,
    timestep_ps: float | None = None,
    format: str | None = None,
):
    """Open a trajectory from any engine as an MDAnalysis Universe.

    Parameters
    ----------
    trajectory : path, list of paths, or list of ase.Atoms
        MDAnalysis-readable file(s) (with ``topology``) or ASE ``.traj``/extxyz.
    topology : path, optional
        PDB, PSF, GRO, LAMMPS data, ... Needed for trajectory formats that carry
        no atom identities (DCD, XTC, ...) unless ``types`` is given.
    types : str or sequence of str, optional
        One species label per atom (``"S*32,Li*16"``) when there is no topology.
    timestep_ps : float, optional, ps
        Overrides the trajectory's time between frames.
    format : str, optional
        MDAnalysis trajectory format (e.g. ``"LAMMPSDUMP"``) when the suffix is ambiguous.
    """
    import MDAnalysis as mda

    files = None
    if (
        isinstance(trajectory, (list, tuple))
        and trajectory
        and all(isinstance(t, (str, Path)) for t in trajectory)
    ):
        files = [str(t) for t in trajectory]
        trajectory = files[0]
    if not isinstance(trajectory, (str, Path)):
        return universe_from_ase(trajectory, timestep_ps)
    path = Path(trajectory)
    for name in files or [path]:
        if not Path(name).exists():
            raise FileNotFoundError(f"trajectory '{name}' does not exist")
    if topology is not None and not Path(topology).exists():
        raise FileNotFoundError(f"topology '{topology}' does not exist")
    suffix = path.suffix.lower()
    xdatcar = "XDATCAR" in path.name.upper()  # VASP AIMD (no suffix, or e.g. .xdatcar)
    if (suffix in ASE_SUFFIXES or xdatcar) and topology is None:
        from ase.io import read

        frames, counts = [], []
        for name in files or [str(path)]:
            try:
                kind = {"format": "vasp-xdatcar"} if xdatcar else {}
                frames += read(name, index=":", **kind)
            except Exception as exc:  # ASE raises many types for unreadable files
                raise InputFileError(f"trajectory '{name}': ASE cannot read it: {exc}") from exc
            counts.append(len(frames) - sum(counts))
        universe = universe_from_ase(frames, timestep_ps, source=str(path))
        universe.trajectory.file_frames = counts  # independent runs, see file_frames()
        return universe
    if topology is None and suffix in BARE_FORMATS and types is None:
        raise InputFileError(
            f"trajectory '{path}' ({suffix[1:].upper()}) carries no element or atom-type "
            f"information; pass --topology TOP (PDB, PSF, GRO, LAMMPS data) or --types "
            f"'S*32,Li*16'"
        )
    if topology is not None and Path(topology).suffix.lower() in BARE_FORMATS:
        raise InputFileError(
            f"topology '{topology}' is a {Path(topology).suffix[1:].upper()} trajectory, which "
            "names no atoms; give the coordinates file as TRAJECTORY and a PDB, PSF, GRO or "
            "LAMMPS data file as --topology (or --types 'S*32,Li*16' instead)"
        )
    kwargs = {"dt": timestep_ps} if timestep_ps is not None else {}
    if format is None and suffix in (".lammpstrj", ".lammpsdump", ".dump"):
        format = "LAMMPSDUMP"
    if format is not None:
        kwargs["format"] = format
    source = files if files else str(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # missing-attribute chatter from the parsers
            if topology is not None:
                universe = mda.Universe(str(topology), source, **kwargs)
            elif types is not None:
                universe = mda.Universe.empty(len(parse_types(types)), trajectory=False)
                universe.load_new(source, **kwargs)
            else:  # a file that is its own topology (PDB, GRO, LAMMPS dump, ...)
                topology_format = {"topology_format": format} if format else {}
                universe = mda.Universe(source, **topology_format, **kwargs)
    except Exception as exc:  # noqa: BLE001 - MDAnalysis' parsers raise many kinds
        # one line: MDAnalysis spreads e.g. the two atom counts over three lines
        reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise InputFileError(
            f"trajectory '{path}' with topology '{topology}': MDAnalysis cannot read them "
            f"({type(exc).__name__}: {reason or 'no message'}); check that the topology "
            "describes the trajectory's atoms and that both files are complete"
        ) from exc
    if types is not None:
        labels = parse_types(types, universe.atoms.n_atoms)
        universe.add_TopologyAttr("types", labels)
        universe.add_TopologyAttr("elements", labels)
    return universe


def file_frames(universe) -> list[int]:
    """Frames of each independent trajectory file behind ``universe``, in order.

    Several files given to :func:`load_universe` are independent runs (the
    thesis' five 80-ns trajectories), never one chained trajectory: GDyNet forms
    no lag pair across a file boundary. MDAnalysis' ``ChainReader`` gives the
    files; the ASE adapter records them; anything else is one trajectory.
    """
    reader = universe.trajectory
    recorded = getattr(reader, "file_frames", None)
    if recorded is not None:
        return [int(n) for n in recorded]
    readers = getattr(reader, "readers", None)
    if readers is not None:
        return [int(r.n_frames) for r in readers]
    return [int(reader.n_frames)]


def species_labels(atomgroup) -> list[str]:
    """Per-atom species: element if known, else type, else name."""
    for attribute in ("elements", "types", "names"):
        if hasattr(atomgroup, attribute):
            values = [str(v) for v in getattr(atomgroup, attribute)]
            if all(values):
                return values
    raise InputFileError(
        "the topology gives the atoms no elements, types or names; pass --types 'S*32,Li*16'"
    )


def select_targets(universe, select: str, group: str = "atoms"):
    """Target atoms and their pooling groups.

    Returns
    -------
    indices : ndarray of int64, shape (T,)
        Atom indices of the targets.
    group_index : ndarray of int64, shape (T,)
        Group (0 .. n_groups-1) of each target atom.
    """
    if group not in GROUPINGS:
        raise ParameterError(f"group must be one of {GROUPINGS}, got {group!r}")
    try:
        atoms = universe.select_atoms(select)
    except Exception as exc:  # MDAnalysis raises SelectionError, ValueError, ...
        raise ParameterError(f"select={select!r}: MDAnalysis cannot parse it: {exc}") from exc
    if atoms.n_atoms == 0:
        raise ParameterError(
            f"select={select!r} selects no atoms; check the names/types in the topology "
            f"(e.g. 'name Li', 'element Li', 'type 2', 'resname SOL')"
        )
    if group == "atoms":
        keys = np.arange(atoms.n_atoms)
    elif group == "residues":
        keys = atoms.resindices
    else:
        try:
            keys = atoms.fragindices
        except Exception as exc:  # NoDataError without bonds
            raise ParameterError(
                f"group='molecules' needs bonds in the topology ({exc}); use group='residues' "
                f"or a topology with bonds (PSF, TPR, LAMMPS data)"
            ) from exc
    _, group_index = np.unique(keys, return_inverse=True)
    return atoms.indices.astype(np.int64), group_index.astype(np.int64)


def frame_cell(dimensions) -> np.ndarray:
    """Lattice vectors (rows, Å) from MDAnalysis ``[a, b, c, alpha, beta, gamma]``."""
    from MDAnalysis.lib.mdamath import triclinic_vectors

    return np.asarray(triclinic_vectors(dimensions), dtype=np.float64)


def check_box(dimensions, frame: int, source: str = "trajectory") -> None:
    """Raise :class:`InputFileError` if a frame has no periodic box."""
    if dimensions is None or not np.all(np.asarray(dimensions)[:3] > 0):
        raise InputFileError(
            f"{source}: frame {frame} has no periodic box (dimensions={dimensions}); GDyNet "
            f"builds periodic graphs — use a trajectory that stores the box, or set "
            f"universe.dimensions"
        )
