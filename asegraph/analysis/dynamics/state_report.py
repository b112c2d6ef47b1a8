"""All per-state analyses of a GDyNet result as one labelled Dataset, plus its figures.

:func:`analyze_states` runs :class:`~asegraph.analysis.dynamics.states.StateRDF`
(one per partner), :class:`~asegraph.analysis.dynamics.states.StateSolvationCharge`,
:class:`~asegraph.analysis.dynamics.state_transport.StateTransport`,
:class:`~asegraph.analysis.dynamics.state_order.StateOrder` and
:class:`~asegraph.analysis.dynamics.state_order.RepresentativeConfigurations`
and collects them in an ``xarray.Dataset`` (units and long names on every
variable); :func:`save_states` writes it (netCDF), the figures and the
snapshots. ``asegraph-dynamics analyze`` is a thin wrapper of the two.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from asegraph._utils.figures import new_figure, save_figure
from asegraph.analysis.dynamics.states import (
    StateProbabilities,
    StateRDF,
    StateSolvationCharge,
    atom_charges,
)
from asegraph.exceptions import ParameterError


def _var(dims, data, units: str, long_name: str) -> xr.Variable:
    return xr.Variable(dims, np.asarray(data), {"units": units, "long_name": long_name})


def default_partners(universe) -> dict[str, str]:
    """``{species: selection}`` for every species label in the universe."""
    from asegraph.analysis.dynamics.trajectory import species_labels

    labels = np.asarray(species_labels(universe.atoms))
    return {
        str(s): "index " + " ".join(map(str, np.flatnonzero(labels == s)))
        for s in sorted(set(labels))
    }


def analyze_states(
    universe,
    result,
    membership: str = "refined",
    partners: dict[str, str] | None = None,
    charges: dict | None = None,
    rdf_range: float = 8.0,
    nbins: int = 80,
    shell_radius: float | None = None,
    temperature_K: float | None = None,
    lag: float | str | None = None,
    unwrap: bool = True,
    order: bool = True,
    l=(3, 4, 6),  # noqa: E741
    num_neighbors: int = 4,
    axis: str = "z",
    n_snapshots: int = 3,
    snapshot_radius: float = 6.0,
    verbose: bool = False,
) -> tuple[xr.Dataset, list]:
    """Every per-state analysis of ``result`` on ``universe``.

    Parameters
    ----------
    universe : MDAnalysis.Universe
        The trajectory the GDyNet result was made from.
    result : xarray.Dataset, path or GDyNetAnalysis
    membership : {"refined", "softmax", "assignment"}
    partners : dict, optional
        ``{name: selection}`` of the RDF partners (default: every species).
    charges : dict, optional
        ``{species: e}``; default the topology's charges; without either the
        charge analyses and the conductivities are skipped.
    rdf_range : float, Å
    nbins : int
    shell_radius : float, Å, optional
        First solvation shell (default: first minimum of the state-free RDF to
        the charged atoms).
    temperature_K : float, optional
        For conductivities (S/cm).
    lag : float or str, optional
        Transport lag (default the result's lag).
    unwrap : bool
        Unwrap the targets' positions for transport (False if already unwrapped).
    order : bool
        Steinhardt ``q_l`` and the axis profile.
    l, num_neighbors, axis
        See :class:`~asegraph.analysis.dynamics.state_order.StateOrder`.
    n_snapshots : int
        Representative configurations per state (0: none).
    snapshot_radius : float, Å
    verbose : bool
        Progress bars.

    Returns
    -------
    dataset : xarray.Dataset
        Dims ``partner``, ``state``, ``state_to``, ``radius`` (Å), and with
        ``order``: ``l``, ``q``, ``position`` (Å).
    snapshots : list of list of ase.Atoms
        Per state (see :class:`RepresentativeConfigurations`).
    """
    from asegraph import __version__
    from asegraph.analysis.dynamics.state_order import RepresentativeConfigurations, StateOrder
    from asegraph.analysis.dynamics.state_transport import StateTransport

    states = StateProbabilities(result, membership)
    dataset = states.dataset
    partners = default_partners(universe) if partners is None else dict(partners)
    if not partners:
        raise ParameterError("partners: give at least one {name: selection}")
    common = {"membership": membership, "verbose": verbose}
    rdf_kw = {"nbins": nbins, "range": (0.0, float(rdf_range))}
    data, attrs = {}, {}
    rdfs = {
        name: StateRDF(universe, dataset, sel, **rdf_kw, **common) for name, sel in partners.items()
    }
    for rdf in rdfs.values():
        rdf.run()
    first = next(iter(rdfs.values())).results
    data["rdf"] = _var(
        ("partner", "state", "radius"),
        [r.results.rdf for r in rdfs.values()],
        "1",
        "state-resolved radial distribution function g_k(r) of targets and partners",
    )
    data["coordination_number"] = _var(
        ("partner", "state", "radius"),
        [r.results.cumulative for r in rdfs.values()],
        "1",
        "partners within r of a target in state k (RDF integral to the bin's upper edge)",
    )
    data["rdf_all"] = _var(
        ("partner", "radius"),
        [r.results.rdf_all for r in rdfs.values()],
        "1",
        "radial distribution function of targets and partners, all states",
    )
    data["state_weight"] = _var(
        ("state",), first.weight, "1", "target-frames in each state (sum of probabilities)"
    )
    has_charges = charges is not None or hasattr(universe.atoms, "charges")
    state_charges = None
    if has_charges:
        charge = StateSolvationCharge(
            universe, dataset, charges=charges, shell_radius=shell_radius, **rdf_kw, **common
        ).run()
        data["cumulative_charge"] = _var(
            ("state", "radius"),
            charge.results.charge,
            "e",
            "target's charge plus all charges within r, per state",
        )
        data["shell_charge"] = _var(
            ("state",),
            charge.results.shell_charge,
            "e",
            "net charge of the first solvation shell including the target",
        )
        attrs["shell_radius_angstrom"] = float(charge.results.shell_radius)
        state_charges = charge.results.shell_charge
        first_group = states.target_atoms[states.target_group == 0]
        target_charge = float(atom_charges(universe, charges)[first_group].sum())
    else:
        target_charge = None
    transport = StateTransport(
        universe,
        dataset,
        lag=lag,
        unwrap=unwrap,
        target_charge=target_charge,
        state_charges=state_charges,
        temperature_K=temperature_K,
        **common,
    ).run()
    t = transport.results
    attrs.update(transport_lag_ps=t.lag_ps, msd_total_angstrom2=t.msd)
    data["msd_contribution"] = _var(
        ("state", "state_to"),
        t.msd_contribution,
        "angstrom2",
        "contribution of state i at t and j at t+lag to the targets' MSD over the lag",
    )
    data["msd_fraction"] = _var(
        ("state", "state_to"), t.fraction, "1", "fraction of the targets' MSD over the lag"
    )
    for name, label in (
        ("conductivity_bare", "Nernst-Einstein conductivity with the targets' own charge"),
        ("conductivity_solvation", "Nernst-Einstein conductivity with the shells' net charges"),
    ):
        if name in t:
            data[name] = _var(("state", "state_to"), t[name], "S cm-1", f"{label}, per transition")
    coords = {
        "partner": ("partner", list(partners), {"long_name": "RDF partner atoms"}),
        "state": ("state", np.arange(states.n_states), {"long_name": "Koopman state"}),
        "state_to": ("state_to", np.arange(states.n_states), {"long_name": "state after the lag"}),
        "radius": ("radius", first.bins, {"units": "angstrom", "long_name": "bin centre"}),
    }
    if order:
        o = StateOrder(
            universe, dataset, l=l, num_neighbors=num_neighbors, axis=axis, **common
        ).run()
        r = o.results
        data["q_histogram"] = _var(
            ("state", "l", "q"), r.q_histogram, "1", "distribution of Steinhardt q_l per state"
        )
        data["q_mean"] = _var(("state", "l"), r.q_mean, "1", "mean Steinhardt q_l per state")
        data["q_std"] = _var(("state", "l"), r.q_std, "1", "std of Steinhardt q_l per state")
        data["axis_profile"] = _var(
            ("state", "position"),
            r.axis_profile,
            "1",
            f"targets of each state per bin along {axis}, per frame",
        )
        coords["l"] = ("l", r.l, {"long_name": "Steinhardt order"})
        coords["q"] = ("q", 0.5 * (r.q_edges[1:] + r.q_edges[:-1]), {"long_name": "q_l bin"})
        coords["position"] = (
            "position",
            0.5 * (r.axis_edges[1:] + r.axis_edges[:-1]),
            {"units": "angstrom", "long_name": f"position along {axis} (bin centre)"},
        )
        attrs.update(order_num_neighbors=int(num_neighbors), axis=axis)
    snapshots: list = []
    if n_snapshots > 0:
        reps = RepresentativeConfigurations(
            universe, dataset, n_per_state=n_snapshots, radius=snapshot_radius, **common
        ).run()
        snapshots = reps.results.snapshots
    attrs.update(
        Conventions="CF-1.10",
        title="What GDyNet's states are: per-state structure, charge and transport",
        program="asegraph-dynamics analyze",
        program_version=__version__,
        membership=membership,
        seed=int(dataset.attrs.get("seed", 0)),
        gdynet_select=str(dataset.attrs.get("select", "")),
        gdynet_lag_ps=states.lag_ps,
        temperature_K=float(temperature_K) if temperature_K is not None else "none",
    )
    return xr.Dataset(data, coords=coords, attrs=attrs), snapshots


def plot_rdfs(ds: xr.Dataset, path: str | Path) -> Path:
    """One panel per partner: g_k(r) of each state (solid) and n_k(r) (dashed, right axis)."""
    partners = list(ds["partner"].values)
    figure, axes = new_figure(1, len(partners), figsize=(3.2 * len(partners), 3.0), squeeze=False)
    axes = axes[0]
    r = ds["radius"].values
    for ax, partner in zip(axes, partners):
        twin = ax.twinx()
        for k in ds["state"].values:
            line = ax.plot(r, ds["rdf"].sel(partner=partner, state=k), label=f"state {k}")
            twin.plot(
                r,
                ds["coordination_number"].sel(partner=partner, state=k),
                ls="--",
                lw=0.8,
                color=line[0].get_color(),
            )
        ax.set_title(f"target–{partner}", fontsize=9)
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("g(r)")
        twin.set_ylabel("coordination number (dashed)", fontsize=7)
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    return save_figure(figure, path, dpi=120)


def plot_charge(ds: xr.Dataset, path: str | Path) -> Path:
    """Cumulative charge around a target vs radius, per state (thesis Fig. 4-5c)."""
    figure, ax = new_figure(figsize=(4.5, 3.4))
    for k in ds["state"].values:
        q = float(ds["shell_charge"].sel(state=k))
        ax.plot(ds["radius"], ds["cumulative_charge"].sel(state=k), label=f"state {k}: {q:+.3f} e")
    ax.axvline(ds.attrs["shell_radius_angstrom"], color="grey", ls=":", lw=1)
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("charge within r (e)")
    ax.legend(fontsize=7, title="first-shell charge", title_fontsize=7)
    figure.tight_layout()
    return save_figure(figure, path, dpi=120)


def plot_transport(ds: xr.Dataset, path: str | Path) -> Path:
    """Bars: each (i -> j) transition's share of the MSD and of the conductivity (Fig. 4-6)."""
    k = ds.sizes["state"]
    labels = [f"{i}→{j}" for i in range(k) for j in range(k)]
    series = [("msd_fraction", "share of MSD")]
    for name, label in (
        ("conductivity_bare", "share of σ (bare charge)"),
        ("conductivity_solvation", "share of σ (shell charge)"),
    ):
        if name in ds:
            series.append((name, label))
    # wide enough for K*K groups of bars, capped so that K = 4 stays readable on a page
    figure, ax = new_figure(figsize=(min(12.0, max(4.5, 0.25 * k * k * len(series))), 3.2))
    x = np.arange(k * k)
    width = 0.8 / len(series)
    for n, (name, label) in enumerate(series):
        values = ds[name].values.ravel()
        ax.bar(x + (n - (len(series) - 1) / 2) * width, values / values.sum(), width, label=label)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("fraction")
    ax.set_title(f"transitions over {ds.attrs['transport_lag_ps']:g} ps", fontsize=9)
    ax.legend(fontsize=7)
    figure.tight_layout()
    return save_figure(figure, path, dpi=120)


def plot_order(ds: xr.Dataset, path: str | Path) -> Path:
    """q_l histograms per state (thesis Fig. 4-4b) and the states along the axis (Fig. 4-3c)."""
    ls = list(ds["l"].values)
    figure, axes = new_figure(1, len(ls) + 1, figsize=(3.2 * (len(ls) + 1), 3.0), squeeze=False)
    axes = axes[0]
    for ax, l_value in zip(axes, ls):
        for k in ds["state"].values:
            ax.plot(ds["q"], ds["q_histogram"].sel(state=k, l=l_value), label=f"state {k}")
        ax.set_xlabel(f"q{l_value}")
        ax.set_ylabel("fraction of target-frames")
    for k in ds["state"].values:
        axes[-1].plot(ds["position"], ds["axis_profile"].sel(state=k), label=f"state {k}")
    axes[-1].set_xlabel(f"{ds.attrs['axis']} (Å)")
    axes[-1].set_ylabel("targets per bin")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    return save_figure(figure, path, dpi=120)


def save_states(
    dataset: xr.Dataset, snapshots: list, path: str | Path, figures: bool = True
) -> list[Path]:
    """Write ``path`` (netCDF), ``<stem>_rdf/_charge/_transport/_order.png`` and
    ``<stem>_state<k>.extxyz``; every file atomically."""
    import io

    import ase.io

    from asegraph._utils.files import atomic_write_text
    from asegraph.analysis.dynamics.io import write_netcdf

    path = Path(path)
    stem = path.with_suffix("")
    written = [write_netcdf(dataset, path)]
    if figures:
        written.append(plot_rdfs(dataset, f"{stem}_rdf.png"))
        if "cumulative_charge" in dataset:
            written.append(plot_charge(dataset, f"{stem}_charge.png"))
        written.append(plot_transport(dataset, f"{stem}_transport.png"))
        if "q_histogram" in dataset:
            written.append(plot_order(dataset, f"{stem}_order.png"))
    for k, frames in enumerate(snapshots):
        buffer = io.StringIO()
        ase.io.write(buffer, frames, format="extxyz")
        target = Path(f"{stem}_state{k}.extxyz")
        atomic_write_text(target, buffer.getvalue())
        written.append(target)
    return written


def summary_table(ds: xr.Dataset) -> str:
    """Plain-text table: population weight, coordination numbers at the shell, charges, MSD."""
    shell = ds.attrs.get("shell_radius_angstrom")
    lines = []
    header = ["state", "weight"]
    radius = float(shell) if shell is not None else float(ds["radius"].values[-1])
    header += [f"n_{p}(<{radius:.2f}Å)" for p in ds["partner"].values]
    if "shell_charge" in ds:
        header.append("shell_q(e)")
    if "q_mean" in ds:
        header += [f"<q{int(x)}>" for x in ds["l"].values]
    header.append("MSD_ii(Å²)")
    lines.append("  ".join(f"{h:>12}" for h in header))
    total = float(ds["state_weight"].sum())
    edges = np.r_[0.0, ds["radius"].values + 0.5 * np.diff(ds["radius"].values[:2])[0]]
    for k in ds["state"].values:
        row = [f"{k:>12d}", f"{float(ds['state_weight'].sel(state=k)) / total:>12.3f}"]
        for p in ds["partner"].values:
            curve = np.r_[0.0, ds["coordination_number"].sel(partner=p, state=k).values]
            row.append(f"{np.interp(radius, edges, curve):>12.3f}")
        if "shell_charge" in ds:
            row.append(f"{float(ds['shell_charge'].sel(state=k)):>+12.3f}")
        if "q_mean" in ds:
            row += [f"{v:>12.3f}" for v in ds["q_mean"].sel(state=k).values]
        row.append(f"{float(ds['msd_contribution'].sel(state=k, state_to=k)):>12.4g}")
        lines.append("  ".join(row))
    contribution = ds["msd_contribution"].values
    lines.append(
        f"MSD over {ds.attrs['transport_lag_ps']:g} ps: sum of transitions "
        f"{contribution.sum():.6g} Å², state-free {ds.attrs['msd_total_angstrom2']:.6g} Å²"
    )
    return "\n".join(lines)
