"""``asegraph explain``: what a model learned (thesis ch. 3), written to a folder."""

from __future__ import annotations

import click


@click.command()
@click.argument("model")
@click.argument("data", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output-dir", required=True, type=click.Path(file_okay=False))
@click.option("--element", default=None, help="Element whose local environments are mapped.")
@click.option(
    "--reference",
    multiple=True,
    type=click.Path(),
    help="Fit the environment map on these structures; place DATA's atoms into it.",
)
@click.option("--target", default=None, help="CSV column/expression with true values.")
@click.option("--rows", default=None, help="Rows of CSV datasets, START:STOP (e.g. 0:3000).")
@click.option("--max-points", default=1000, show_default=True, type=click.IntRange(min=4))
@click.option("--n-random", default=20, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--probe-elements",
    type=click.Choice(["metals", "all"]),
    default="metals",
    show_default=True,
    help="Elements in the PCA map and probes (the thesis: metals).",
)
@click.option(
    "--probe-min-atoms",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Leave out of the map and probes elements with fewer atoms in DATA (barely trained).",
)
@click.option(
    "--search/--no-search", default=None, help="ABX3 search [default: for perovskite data]."
)
@click.option(
    "--site-energies/--no-site-energies",
    default=None,
    help="Site-energy maps [default: for readout='site' models].",
)
@click.option("--seed", default=0, show_default=True)
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--progress/--no-progress", default=True, show_default=True)
def explain(
    model, data, output_dir, element, reference, target, rows, max_points, n_random,
    probe_elements, probe_min_atoms, search, site_energies, seed, threads, progress,
) -> None:  # fmt: skip
    """Element maps, local environments, site energies and an ABX3 search for MODEL on DATA.

    DATA are CSV datasets with a CIF column, structure files, folders or ASE
    databases. Writes OUTPUT_DIR/representations.nc, PNG figures and
    summary.json. Site energies need a model trained with --readout site
    (ideally --atom-features embedding); other models still get embeddings.
    """
    import torch

    from asegraph.analysis.interpret.explain import explain as run
    from asegraph.cli.train import parse_rows

    torch.set_num_threads(threads)
    summary = run(
        model, list(data), output_dir, element=element, reference=list(reference),
        target=target, rows=parse_rows(rows), max_points=max_points, n_random=n_random,
        probe_elements=probe_elements, probe_min_atoms=probe_min_atoms, search=search,
        site_energies=site_energies, seed=seed,
        progress=progress,
    )  # fmt: skip
    click.echo(text_summary(summary))


def text_summary(summary: dict) -> str:
    """A few lines for the terminal."""
    lines = [f"{summary['n_structures']} structures, {summary['n_atoms']} atoms"]
    used = summary.get("probe_elements")
    if used:
        left = ", ".join(f"{s} ({n})" for s, n in used["left_out"].items())
        lines.append(
            f"probes over {used['n_used']} elements ({used['selection']} with >= "
            f"{used['min_atoms']} atoms)" + (f"; left out: {left}" if left else "")
        )
        for why in dict.fromkeys(used.get("not_probed", {}).values()):
            names = [n for n, w in used["not_probed"].items() if w == why]
            lines.append(f"not probed: {', '.join(names)} ({why})")
    for name, probe in summary.get("probes", {}).items():
        lines.append(
            f"probe {name:<17} learned {probe['learned']:.2f}  random {probe['random']:.2f}"
            f"  (chance {probe['chance']:.2f})"
            + (f"; alone in class: {' '.join(probe['left_out'])}" if probe.get("left_out") else "")
        )
    for key, label in [
        ("most_stable_environments", "most stable"),
        ("least_stable_environments", "least stable"),
    ]:  # noqa: E501
        if summary.get(key):
            pairs = ", ".join(f"{e['centre']}-{e['neighbour']}" for e in summary[key][:5])
            lines.append(f"{label} environments: {pairs}")
    if "search" in summary:
        top = ", ".join(c["formula"] for c in summary["search"]["top30"][:10])
        lines.append(f"search: {summary['search']['n_candidates']} candidates; top 10: {top}")
        lines.append(
            f"Table 3.1 formulas in the top 30: {len(summary['search']['table_3_1_in_top30'])}"
        )
    if summary.get("failed"):
        lines.append(f"{len(summary['failed'])} structures skipped (see summary.json 'failed')")
    lines.append(f"wrote {', '.join(summary['files'])}")
    return "\n".join(lines)
