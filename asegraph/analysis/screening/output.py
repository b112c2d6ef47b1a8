"""Outputs of a screening: the ranked dataset, ``screen.csv``, ``screen.nc`` and the figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from asegraph.analysis.screening.physics import stability_parameter

#: Columns of ``screen.csv``, in order.
COLUMNS = (
    "id",
    "formula",
    "n_atoms",
    "shear_modulus_GPa",
    "shear_modulus_std_GPa",
    "bulk_modulus_GPa",
    "bulk_modulus_std_GPa",
    "poisson_ratio",
    "li_coordination",
    "molar_volume_ratio",
    "chi_low",
    "chi_low_std",
    "chi_high",
    "chi_high_std",
    "p_stable_low",
    "p_stable_high",
    "lambda_crit_nm",
    "lambda_crit_std_nm",
    "error",
)

#: dataset variable -> (CSV column, units, long name)
_TABLE = {
    "shear_modulus": ("shear_modulus_GPa", "GPa", "shear modulus (ensemble mean)"),
    "shear_modulus_std": ("shear_modulus_std_GPa", "GPa", "shear modulus ensemble std"),
    "bulk_modulus": ("bulk_modulus_GPa", "GPa", "bulk modulus (ensemble mean)"),
    "bulk_modulus_std": ("bulk_modulus_std_GPa", "GPa", "bulk modulus ensemble std"),
    "poisson_ratio": ("poisson_ratio", "1", "Poisson ratio from K and G (mean)"),
    "li_coordination": ("li_coordination", "1", "mean effective Li coordination number"),
    "molar_volume_ratio": ("molar_volume_ratio", "1", "V_Li+ / V_Li"),
    "chi_low": ("chi_low", "kJ/(mol nm)", "stability parameter at k_low (mean)"),
    "chi_low_std": ("chi_low_std", "kJ/(mol nm)", "stability parameter at k_low, std"),
    "chi_high": ("chi_high", "kJ/(mol nm)", "stability parameter at k_high (mean)"),
    "chi_high_std": ("chi_high_std", "kJ/(mol nm)", "stability parameter at k_high, std"),
    "p_stable_low": ("p_stable_low", "1", "probability of stability at k_low (Eq. 2.11)"),
    "p_stable_high": ("p_stable_high", "1", "probability of stability at k_high (Eq. 2.11)"),
    "lambda_crit": ("lambda_crit_nm", "nm", "critical roughening wavelength (mean; inf: none)"),
    "lambda_crit_std": ("lambda_crit_std_nm", "nm", "critical roughening wavelength, std"),
}


def k_grid(n: int = 61) -> np.ndarray:
    """Log-spaced wavenumbers 1e7 .. 1e10 1/m for the terms of Eq. 2.10 (Fig. 2-4)."""
    return np.logspace(7, 10, n)


def build_dataset(
    names,
    order,
    merged,
    stats,
    errors,
    unreadable,
    without_li,
    dropped,
    anode,
    k_low,
    k_high,
    models,
    moduli,
    min_band_gap,
):
    """The ranked screening as an ``xarray.Dataset`` (see :func:`write_screen`).

    ``order`` lists the screened rows by rank; unreadable entries follow with
    ``n_atoms = -1``. ``models`` maps each property to the label of its model.
    """
    import xarray as xr

    from asegraph import __version__

    ids = [names[i] for i in order] + list(unreadable)
    n_ok, n_bad = len(order), len(unreadable)

    def column(values, fill=np.nan, dtype=float):
        values = np.asarray(values)
        return np.concatenate(
            [values[..., order], np.full(values.shape[:-1] + (n_bad,), fill, dtype)], axis=-1
        )

    data: dict[str, Any] = {}
    data["formula"] = (
        ("structure",),
        column(merged["formula"], "", object),
        {"long_name": "formula"},
    )
    data["n_atoms"] = (
        ("structure",),
        column(merged["n_atoms"], -1, np.int64),
        {"units": "1", "long_name": "number of atoms (-1: unreadable)"},
    )
    data["error"] = (
        ("structure",),
        np.array([errors[i] for i in order] + list(unreadable.values()), dtype=object),
        {"long_name": "why the structure is not ranked (empty: ranked)"},
    )
    for name, (_, units, long_name) in _TABLE.items():
        source = merged[name] if name in ("li_coordination", "molar_volume_ratio") else stats[name]
        data[name] = (("structure",), column(source), {"units": units, "long_name": long_name})
    data["stress_stabilised"] = (
        ("structure",),
        column(stats["stress_stabilised"]),
        {"units": "1", "long_name": "fraction of members stable at every k by stress alone"},
    )
    for name, units in (
        ("shear_modulus", "GPa"),
        ("bulk_modulus", "GPa"),
        ("poisson_ratio", "1"),
        ("chi_low", "kJ/(mol nm)"),
        ("chi_high", "kJ/(mol nm)"),
        ("lambda_crit", "nm"),
    ):
        data[f"{name}_members"] = (
            ("member", "structure"),
            column(stats[f"{name}_members"]),
            {"units": units, "long_name": f"{name.replace('_', ' ')}, every ensemble sample"},
        )
    grid = k_grid()
    g, nu, v = (
        np.asarray(data[x][1], dtype=float)
        for x in ("shear_modulus", "poisson_ratio", "molar_volume_ratio")
    )
    ok = np.isfinite(g) & np.isfinite(nu) & np.isfinite(v)
    terms = np.full((4, grid.size, len(ids)), np.nan)
    if ok.any():
        terms[:, :, ok] = stability_parameter(grid[:, None], g[ok], nu[ok], v[ok], anode)
    for k, name in enumerate(("surface", "deviatoric", "hydrostatic", "total")):
        data[f"chi_{name}"] = (
            ("k", "structure"),
            terms[k],
            {"units": "kJ/(mol nm)", "long_name": f"{name} term of Eq. 2.10 at the mean moduli"},
        )
    attrs = {
        "Conventions": "CF-1.10",
        "program": "asegraph screen",
        "program_version": __version__,
        **anode.attributes(),
        "k_low_per_m": float(k_low),
        "k_high_per_m": float(k_high),
        "n_screened": n_ok,
        "n_unreadable": n_bad,
        "n_without_li": len(without_li),
        "ids_without_li": " ".join(without_li),
        "n_conductors_dropped": len(dropped),
        "ids_conductors_dropped": " ".join(dropped),
        "min_band_gap_eV": float(min_band_gap),
        "moduli": str(moduli)
        if moduli is not None
        else "; ".join(f"{p}: {m}" for p, m in models.items() if p != "band_gap"),
        "band_gap_model": models.get("band_gap", ""),
    }
    return xr.Dataset(
        data,
        coords={
            "structure": ("structure", ids, {"long_name": "structure id"}),
            "k": ("k", grid, {"units": "1/m", "long_name": "roughness wavenumber"}),
        },
        attrs=attrs,
    )


def write_screen(dataset: Any, output: str | Path, figures: bool = True) -> list[Path]:
    """Write ``output`` (CSV, the columns of :data:`COLUMNS`), ``output`` with ``.nc``, and figures.

    Figures (PNG, beside ``output``): ``<stem>_fig2-4_terms.png``,
    ``<stem>_fig2-6_histograms.png``, ``<stem>_fig2-7_stability_diagram.png``.

    Returns
    -------
    list of Path
        Every file written.
    """
    import csv
    import io

    from asegraph._utils.files import atomic_path, atomic_write_text

    output = Path(output)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    unreadable = dataset["n_atoms"].values < 0
    for i, sid in enumerate(dataset["structure"].values):
        if unreadable[i]:
            writer.writerow([sid] + [""] * (len(COLUMNS) - 2) + [dataset["error"].values[i]])
            continue
        row = [sid, dataset["formula"].values[i], int(dataset["n_atoms"].values[i])]
        for name in _TABLE:
            row.append(_fmt(dataset[name].values[i]))
        row.append(dataset["error"].values[i])
        writer.writerow(row)
    atomic_write_text(output, buffer.getvalue())
    written = [output]
    with atomic_path(output.with_suffix(".nc"), suffix=".nc") as tmp:
        dataset.to_netcdf(tmp, engine="netcdf4")
    written.append(output.with_suffix(".nc"))
    if figures:
        from asegraph.analysis.screening.figures import screening_figures

        written += screening_figures(dataset, output.parent / output.stem)
    return written


def _fmt(value: float) -> str:
    value = float(value)
    if np.isnan(value):
        return ""
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


def screen_files(
    sources: list,
    output: str | Path,
    structure_column: str = "cif",
    train_data: str | Path | None = None,
    figures: bool = True,
    **options: Any,
) -> tuple[Any, list[Path]]:
    """Read ``sources``, screen them and write the table, netCDF and figures (``asegraph screen``).

    Parameters
    ----------
    sources : list of path
        Structure files, folders, ASE databases, CSVs with a CIF column.
    output : path
        The CSV table; ``.nc`` and the figures go beside it.
    structure_column : str
        CIF column of CSV sources (and of ``train_data``).
    train_data : path, optional
        Training structures: adds Fig. 2-5, the t-SNE of the crystal
        embeddings (of the shear model) of training vs screened structures.
    figures : bool
        Write Figs. 2-4, 2-6, 2-7 (and 2-5).
    **options
        Passed to :func:`~asegraph.analysis.screening.screen.screen`.

    Returns
    -------
    (xarray.Dataset, list of Path)
        The screening and the files written.
    """
    from asegraph.analysis.screening.inputs import read_inputs
    from asegraph.analysis.screening.screen import screen

    entries = read_inputs(sources, structure_column=structure_column)
    training = None
    if train_data is not None and figures:
        training = [s for _, s in read_inputs([train_data], structure_column) if _is_atoms(s)]
    dataset = screen(entries, **options)
    written = write_screen(dataset, output, figures=figures)
    if training:
        from asegraph.analysis.screening.figures import tsne_figure
        from asegraph.models import load

        ranked = set(dataset["structure"].values[dataset["n_atoms"].values > 0])
        screened = [s for sid, s in entries if sid in ranked]
        model = load(options.get("shear", "shear-moduli"))
        path = Path(output).parent / f"{Path(output).stem}_fig2-5_tsne.png"
        written.append(tsne_figure(model, training, screened, path))
    return dataset, written


def _is_atoms(item: Any) -> bool:
    return not isinstance(item, Exception)
