"""The ``asegraph`` command-line entry point.

Subcommands live in their own modules and are registered here.  A user's
mistake (any :class:`~asegraph.exceptions.AsegraphError`, a missing file, a bad
value) is printed as one line on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import sys

import click

from asegraph import __version__


class _FriendlyGroup(click.Group):
    """A click group that turns user errors into one line and exit code 2."""

    def invoke(self, ctx: click.Context):
        from asegraph.exceptions import AsegraphError

        try:
            return super().invoke(ctx)
        except (AsegraphError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            click.echo(f"asegraph: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_FriendlyGroup)
@click.version_option(__version__, prog_name="asegraph")
def cli() -> None:
    """Graph neural networks for solid materials (CGCNN, GDyNet, BO + CG-MD)."""


def _register() -> None:
    from asegraph.cli import convert, demo, evaluate, explain, optimize, predict, screen, train

    cli.add_command(convert.convert)
    cli.add_command(convert.models)
    cli.add_command(demo.demo)
    cli.add_command(train.train)
    cli.add_command(evaluate.evaluate)
    cli.add_command(explain.explain)
    cli.add_command(evaluate.learning_curve)
    cli.add_command(evaluate.tune)
    cli.add_command(optimize.optimize)
    cli.add_command(predict.predict)
    cli.add_command(screen.screen)


_register()


if __name__ == "__main__":  # ``python -m asegraph.cli.main``, e.g. under torchrun
    cli()
