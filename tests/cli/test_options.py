"""One spelling per setting across commands; the old spellings stay as hidden aliases."""

from __future__ import annotations

import click
from click.testing import CliRunner

from asegraph.cli.dynamics import main as dynamics
from asegraph.cli.main import cli
from asegraph.cli.options import HiddenAliases


def test_hidden_aliases_work_but_are_not_listed():
    @click.command()
    @click.option("--max-neighbors", "neighbors", cls=HiddenAliases, aliases=["--neighbors"])
    def command(neighbors):
        click.echo(f"n={neighbors}")

    runner = CliRunner()
    assert runner.invoke(command, ["--neighbors", "5"]).output == "n=5\n"
    assert runner.invoke(command, ["--max-neighbors", "7"]).output == "n=7\n"
    help_text = runner.invoke(command, ["--help"]).output
    assert "--max-neighbors" in help_text and "--neighbors" not in help_text


def test_commands_share_one_spelling_per_setting():
    runner = CliRunner()
    dyn = runner.invoke(dynamics, ["run", "--help"]).output
    for shown in ("--max-neighbors", "--lr", "--no-progress"):
        assert shown in dyn
    for hidden in ("--neighbors ", "--learning-rate", "--quiet"):
        assert hidden not in dyn
    train = runner.invoke(cli, ["train", "--help"]).output
    for shown in ("--max-neighbors", "--lr", "--no-progress", "--epochs"):
        assert shown in train
    report = runner.invoke(cli, ["optimize", "report", "--help"]).output
    assert "--output-dir" in report and "--out " not in report
