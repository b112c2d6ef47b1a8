"""Issue 11 item 5: the K x lag scan (thesis §4.2.3): csv, recommendation, resume, CLI."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from asegraph.analysis.dynamics.scan import COLUMNS, recommend
from asegraph.cli.dynamics import main
from asegraph.examples.li_fcc import SHIPPED_TOPOLOGY, SHIPPED_TRAJECTORY


def _row(k, lag, t, ck=True, half=0.05):
    return {
        "states": k,
        "lag_ps": lag,
        "validation_vamp2": 1.5,
        "slowest_timescale_ps": t,
        "ck_passed": ck,
        "timescale_lower_ps": t - half,
        "timescale_upper_ps": t + half,
        "fallback": "",
    }


def test_recommendation_is_the_smallest_converged_k_and_lag_that_passes_ck():
    rows = [
        _row(2, 0.5, 2.0),  # not converged: 2.0 vs 3.0 at 1 ps
        _row(2, 1.0, 3.0, ck=False),  # converged (3.0 vs 3.1) but CK fails
        _row(2, 2.0, 3.1),  # converged (agrees with the lag before), CK passes
        _row(3, 0.5, 3.0),  # converged, passes: K = 3 is larger than 2
        _row(3, 1.0, 3.05),
    ]
    rows = recommend(rows)
    assert [r["converged"] for r in rows] == [False, True, True, True, True]
    assert [r["recommended"] for r in rows] == [False, False, True, False, False]
    nothing = recommend([_row(2, 0.5, 1.0), _row(2, 1.0, 2.0)])
    assert not any(r["recommended"] for r in nothing)


def test_scan_cli_writes_table_figures_and_resumes(tmp_path):
    out = tmp_path / "scan"
    args = [
        "scan",
        str(SHIPPED_TRAJECTORY),
        "--topology",
        str(SHIPPED_TOPOLOGY),
        "--select",
        "name Li",
        "--environment",
        "name S",
        "--states",
        "2,3",
        "--lag",
        "0.3ps,0.5ps",
        "--stop",
        "240",
        "--epochs",
        "1",
        "--quiet",
        "-o",
        str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    with open(out / "scan.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COLUMNS
    assert [(r["states"], r["lag_ps"]) for r in rows] == [
        ("2", "0.3"),
        ("2", "0.5"),
        ("3", "0.3"),
        ("3", "0.5"),
    ]
    assert sum(r["recommended"] == "true" for r in rows) <= 1
    for name in ("scan_vamp2.png", "scan_timescales.png", "scan_ck.png", "K3_lag0.5ps.nc"):
        assert (out / name).exists(), name
    assert not list(out.glob("*.ckpt"))  # finished combinations keep no checkpoint
    stamp = (out / "K2_lag0.3ps.nc").stat().st_mtime_ns
    again = CliRunner().invoke(main, args)  # finished combinations are read back
    assert again.exit_code == 0 and (out / "K2_lag0.3ps.nc").stat().st_mtime_ns == stamp
    assert again.output.splitlines()[1:5] == result.output.splitlines()[1:5]
    # other settings: the finished combinations were served as if made with them
    for changed in (["--epochs", "3"], ["--stop", "200"], ["--select", "name S"]):
        other = [*args[: args.index("-o")], *changed, "-o", str(out)]
        refused = CliRunner().invoke(main, other)
        assert refused.exit_code == 2, refused.output
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "holds a scan made with other settings" in lines[0]
    assert "max_epochs 1 -> 3" in CliRunner().invoke(main, [*args, "--epochs", "3"]).stderr
    assert (out / "K2_lag0.3ps.nc").stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--states", "two"], "--states: expected integers such as 2,3,4, got 'two'"),
        (["--states", "1,2"], "states: expected integers >= 2 such as 2,3,4, got [1, 2]"),
    ],
)
def test_scan_cli_user_errors(tmp_path, option, message):
    result = CliRunner().invoke(
        main,
        [
            "scan",
            str(SHIPPED_TRAJECTORY),
            "--topology",
            str(SHIPPED_TOPOLOGY),
            "--select",
            "name Li",
            "--lag",
            "1ps",
            *option,
            "-o",
            str(tmp_path / "scan"),
        ],
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == f"asegraph-dynamics: error: {message}"
    assert not (tmp_path / "scan").exists()
