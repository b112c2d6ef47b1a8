"""One spelling per setting across commands; the old spellings stay as hidden aliases."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from asegraph.cli.dynamics import main as dynamics
from asegraph.cli.main import cli
from asegraph.cli.options import HiddenAliases, IntList


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
    for command in (["optimize", "report"], ["optimize", "validate"]):
        folder = runner.invoke(cli, [*command, "--help"]).output
        assert "-o, --output-dir" in folder and "--out " not in folder
    scan = runner.invoke(dynamics, ["scan", "--help"]).output
    assert "-o, --output-dir" in scan and "--output " not in scan
    analyze = runner.invoke(dynamics, ["analyze", "--help"]).output
    assert "--progress / --no-progress" in analyze and "--quiet" not in analyze


def test_old_folder_and_progress_spellings_still_parse(tmp_path):
    runner = CliRunner()
    missing = tmp_path / "missing"
    for args in (
        ["optimize", "validate", str(missing), "--points", "p.toml", "--out", "v"],
        ["optimize", "report", str(missing), "--out", "r"],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2 and "campaign store" in result.output  # parsed, then refused
    for flag in ("--quiet", "--no-progress"):
        args = ["analyze", str(tmp_path / "r.nc"), "t.dcd", "--topology", "t.pdb", "-o", "s.nc"]
        result = runner.invoke(dynamics, [*args, flag])
        assert result.exit_code == 2 and "GDyNet result" in result.output
    result = runner.invoke(
        dynamics,
        [
            "scan",
            "t.dcd",
            "--select",
            "name Li",
            "--lag",
            "1ps",
            "--output",
            str(tmp_path / "scan"),
            "--help",
        ],
    )
    assert result.exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["tune", "--n-conv", "2,2.5"],
        ["learning-curve", "--sizes", "100,300.5"],
        ["train", "--lr-milestones", "10.5", "-o", "m.pt"],
    ],
)
def test_whole_number_lists_refuse_fractions(tmp_path, args):
    """tune --n-conv 2.5 trained two convolutions (int() truncated it) and reported n_conv 2."""
    data = tmp_path / "data.csv"
    data.write_text("id,cif,e\n")
    result = CliRunner().invoke(cli, [args[0], str(data), "--target", "e", *args[1:]])
    assert result.exit_code == 2
    assert "expected comma-separated whole numbers" in result.output
    assert IntList().convert("100,1e3", None, None) == [100, 1000]
