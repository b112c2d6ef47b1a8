"""``asegraph convert``: original CGCNN checkpoint -> asegraph model file."""

from __future__ import annotations

import click


@click.command()
@click.argument("source")
@click.argument("output", type=click.Path(dir_okay=False))
@click.option(
    "--atom-init",
    type=click.Path(exists=True, dir_okay=False),
    help="atom_init.json the checkpoint was trained with (not needed for registry names).",
)
def convert(source: str, output: str, atom_init: str | None) -> None:
    """Convert SOURCE (an original .pth.tar, or a pretrained name) into OUTPUT.

    The output is self-contained (weights, atom feature table, graph settings,
    normaliser) and loads with torch.load(weights_only=True).
    """
    from asegraph.models.checkpoint import save_model
    from asegraph.models.loader import load

    model = load(source, atom_init=atom_init)
    save_model(model, output, metadata=getattr(model, "metadata", {}))
    config = model.config
    click.echo(
        f"wrote {output}: {config.task} of {', '.join(config.targets)} "
        f"({config.conv} CGCNN, {config.n_conv} convolutions, ties={config.ties})"
    )


@click.command()
def models() -> None:
    """List the published pretrained models and whether they are on disk."""
    from asegraph.models.registry import PRETRAINED, model_dirs

    for name, entry in PRETRAINED.items():
        found = any((d / entry.checkpoint.filename).is_file() for d in model_dirs())
        click.echo(f"{name:28s} {'on disk ' if found else 'download'}  {entry.description}")
