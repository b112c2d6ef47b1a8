"""The asegraph-dynamics command: success path, and one-line errors with exit code 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from asegraph.cli.dynamics import main
from asegraph.examples.li_fcc import SHIPPED_TOPOLOGY, SHIPPED_TRAJECTORY

FAST = ["--epochs", "1", "--blocks", "2", "--ck-steps", "3", "--quiet", "--stop", "400"]


def _run(args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_writes_outputs(tmp_path):
    out = tmp_path / "li.nc"
    result = _run(
        [
            SHIPPED_TRAJECTORY,
            "--topology",
            SHIPPED_TOPOLOGY,
            "--select",
            "name Li",
            "--environment",
            "name S",
            "--states",
            "2",
            "--lag",
            "500fs",
            "-o",
            out,
            *FAST,
        ]
    )
    assert result.exit_code == 0, result.output
    assert "slowest implied timescale at lag 0.5 ps" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "li.nc",
        "li.pt",
        "li_ck.png",
        "li_populations.png",
        "li_timescales.png",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--topology", SHIPPED_TOPOLOGY, "--select", "name Na", "--lag", "1ps"],
            "select='name Na' selects no atoms",
        ),
        (
            [
                "--topology",
                SHIPPED_TOPOLOGY,
                "--select",
                "name Li",
                "--lag",
                "1ps",
                "--states",
                "1",
            ],
            "n_states must be an integer >= 2",
        ),
        (
            ["--topology", SHIPPED_TOPOLOGY, "--select", "name Li", "--lag", "400ps"],
            "is not shorter than the analysed trajectory",
        ),
        (
            ["--topology", SHIPPED_TOPOLOGY, "--select", "name Li", "--lag", "1ps", "--stop", "1"],
            "only 1 frame",
        ),
        (["--select", "name Li", "--lag", "1ps"], "carries no element or atom-type information"),
        (
            ["--topology", SHIPPED_TOPOLOGY, "--select", "name Li", "--lag", "soon"],
            "expected a time such as '1ps'",
        ),
        (
            ["--topology", "missing.pdb", "--select", "name Li", "--lag", "1ps"],
            "topology 'missing.pdb' does not exist",
        ),
    ],
)
def test_cli_user_errors(tmp_path, args, message):
    out = tmp_path / "out.nc"
    result = _run([SHIPPED_TRAJECTORY, *args, "-o", out, "--quiet", "--epochs", "1"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asegraph-dynamics: error: ")
    assert message in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_cli_topology_that_does_not_match_is_one_line(tmp_path):
    """A topology of other atoms: a 40-atom PDB for the 48-atom DCD was a three-line message,
    a CIF a traceback (IndexError in MDAnalysis' parser), and a DCD given as the topology
    blamed the --select string."""
    lines = SHIPPED_TOPOLOGY.read_text().splitlines()
    atoms = [line for line in lines if line.startswith("ATOM")]
    short = tmp_path / "short.pdb"
    short.write_text("\n".join([*lines[:2], *atoms[:40], "END"]) + "\n")
    cif = tmp_path / "nacl.cif"
    cif.write_text("data_x\n_cell_length_a 5.6\n")
    cases = [
        ([SHIPPED_TRAJECTORY, "--topology", short], "Topology number of atoms 40; Trajectory"),
        ([SHIPPED_TRAJECTORY, "--topology", cif], "check that the topology describes"),
        ([SHIPPED_TOPOLOGY, "--topology", SHIPPED_TRAJECTORY], "is a DCD trajectory, which names"),
    ]
    for files, message in cases:
        out = tmp_path / "li.nc"
        args = [*files, "--select", "name Li", "--lag", "1ps", "--epochs", "1", "-o", out]
        result = _run([*args, "--no-progress"])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("asegraph-dynamics: error: "), lines
        assert message in lines[0]
        assert not out.exists()


def test_cli_missing_output_folder(tmp_path):
    result = _run(
        [
            SHIPPED_TRAJECTORY,
            "--topology",
            SHIPPED_TOPOLOGY,
            "--select",
            "name Li",
            "--lag",
            "1ps",
            "-o",
            tmp_path / "nope" / "x.nc",
        ]
    )
    assert result.exit_code == 2 and "output folder" in result.stderr


def test_cli_is_a_group_with_run_as_default(tmp_path):
    """``asegraph-dynamics TRAJ ...`` is ``asegraph-dynamics run TRAJ ...``; --help lists
    the subcommands."""
    help_text = _run(["--help"])
    assert help_text.exit_code == 0 and "run" in help_text.output
    assert "Commands:" in help_text.output
    implicit = _run([SHIPPED_TRAJECTORY, "--help"])
    explicit = _run(["run", "--help"])
    assert implicit.exit_code == explicit.exit_code == 0
    assert implicit.output == explicit.output and "--select" in implicit.output
    # options before the trajectory also go to the default command
    result = _run(["--select", "name Li", "--lag", "1ps", "-o", tmp_path / "x.nc", "missing.dcd"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "asegraph-dynamics: error: trajectory 'missing.dcd' does not exist"
    )


def test_cli_short_trajectory_says_what_the_fallback_changed(tmp_path):
    result = _run(
        [
            SHIPPED_TRAJECTORY,
            "--topology",
            SHIPPED_TOPOLOGY,
            "--select",
            "name Li",
            "--lag",
            "0.5ps",
            "--stop",
            "140",
            "--epochs",
            "1",
            "--quiet",
            "--no-figures",
            "-o",
            tmp_path / "short.nc",
        ]
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("short trajectory:")]
    assert len(lines) == 1 and "used targets intervals from 5 subsets" in lines[0]
    assert "softmax states (thesis' definition)" in result.output


def test_cli_train_and_test_files_are_checked(tmp_path):
    result = _run(
        [
            SHIPPED_TRAJECTORY,
            "--topology",
            SHIPPED_TOPOLOGY,
            "--select",
            "name Li",
            "--lag",
            "1ps",
            "--train-files",
            "2",
            "-o",
            tmp_path / "x.nc",
        ]
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "asegraph-dynamics: error: --train-files: '2' is neither a number from 1 to 1 nor one "
        "of the trajectory files given"
    )
