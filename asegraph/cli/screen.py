"""``asegraph screen``: rank Li-containing crystals for dendrite suppression (thesis ch. 2.5)."""

from __future__ import annotations

import click


@click.command()
@click.argument("structures", nargs=-1, required=True, type=click.Path())
@click.option(
    "--bulk",
    default="bulk-moduli",
    show_default=True,
    help="Bulk-modulus model: published name, model file, ensemble file or folder.",
)
@click.option(
    "--shear",
    default="shear-moduli",
    show_default=True,
    help="Shear-modulus model: published name, model file, ensemble file or folder.",
)
@click.option(
    "--moduli",
    type=click.Path(dir_okay=False),
    default=None,
    help="CSV with id, shear_modulus_GPa, bulk_modulus_GPa (e.g. DFT values); replaces "
    "--bulk/--shear.",
)
@click.option(
    "--band-gap",
    default=None,
    help="Band-gap model; structures predicted below --min-band-gap are dropped as conductors.",
)
@click.option("--min-band-gap", default=0.1, show_default=True, type=float, help="eV")
@click.option(
    "--structure-column", default="cif", show_default=True, help="CIF column of CSV inputs."
)
@click.option(
    "--scheduler",
    default=None,
    help="dask.distributed scheduler address: predict in chunks on that cluster.",
)
@click.option("--chunk-size", default=256, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="CSV table; OUTPUT with .nc and the figures (OUTPUT stem + _fig2-*.png) go beside it.",
)
@click.option(
    "--train-data",
    type=click.Path(exists=True),
    default=None,
    help="Training structures (CSV, folder, db): adds Fig. 2-5, a t-SNE of the crystal "
    "embeddings of training vs screened structures.",
)
@click.option("--figures/--no-figures", default=True, show_default=True)
@click.option("--progress/--no-progress", default=True, show_default=True)
def screen(
    structures,
    bulk,
    shear,
    moduli,
    band_gap,
    min_band_gap,
    structure_column,
    scheduler,
    chunk_size,
    batch_size,
    output,
    train_data,
    figures,
    progress,
) -> None:
    """Screen the Li-containing STRUCTURES as solid electrolytes against a Li-metal anode.

    STRUCTURES are files (CIF, POSCAR, extxyz, ...), folders of them, ASE
    databases or CSVs with a CIF column. Shear and bulk moduli come from
    --shear/--bulk (single models or ensembles; default the published
    models) or from --moduli; the stability parameter χ (Eq. 2.10) at
    k = 1e8 1/m and 2π/1 nm, the probability of stability over the
    ensemble (Eq. 2.11) and the critical roughening wavelength λ_crit follow.
    Rows are ranked by λ_crit; structures without Li are counted and left
    out; a structure that fails gets its reason in the error column.
    """
    import time

    from asegraph.analysis.screening import screen_files

    start = time.perf_counter()
    dataset, written = screen_files(
        list(structures),
        output,
        structure_column=structure_column,
        train_data=train_data,
        figures=figures,
        bulk=bulk,
        shear=shear,
        moduli=moduli,
        band_gap=band_gap,
        min_band_gap=min_band_gap,
        scheduler=scheduler,
        chunk_size=chunk_size,
        batch_size=batch_size,
        progress=progress,
    )
    attrs = dataset.attrs
    click.echo(
        f"screened {attrs['n_screened']} Li-containing structures in "
        f"{time.perf_counter() - start:.0f} s ({attrs['n_without_li']} without Li left out, "
        f"{attrs['n_conductors_dropped']} conductors dropped, {attrs['n_unreadable']} unreadable)"
    )
    ranked = dataset["error"].values == ""
    click.echo(f"{int(ranked.sum())} ranked; top by λ_crit:")
    for i in range(min(5, int(ranked.sum()))):
        click.echo(
            f"  {dataset['structure'].values[i]:>14s} {dataset['formula'].values[i]:>12s} "
            f"λ_crit {float(dataset['lambda_crit'].values[i]):.3g} nm, "
            f"χ_low {float(dataset['chi_low'].values[i]):.3g}, "
            f"P_s(high k) {float(dataset['p_stable_high'].values[i]):.2f}"
        )
    click.echo("wrote " + ", ".join(str(p) for p in written))
