"""train / evaluate / learning-curve / tune from the command line."""

from __future__ import annotations

import json

import ase.io
import pytest
from click.testing import CliRunner

from asegraph.cli.main import cli

SMALL = ["--cutoff", "6", "--threads", "1"]


@pytest.fixture(scope="module")
def alloys(tmp_path_factory):
    from asegraph.data.emt_alloys import EXAMPLE_PATH

    path = tmp_path_factory.mktemp("data") / "alloys.extxyz"
    frames = ase.io.read(EXAMPLE_PATH, index=":80")
    for frame in frames:
        frame.info["metal_rich"] = float(frame.info["energy_per_atom"] > 0.1)
    ase.io.write(path, frames)
    return path


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_train_then_evaluate_with_a_parity_plot(alloys, tmp_path):
    model = tmp_path / "m.pt"
    result = run(
        "train",
        alloys,
        "--target",
        "energy_per_atom",
        "--units",
        "eV/atom",
        "--epochs",
        "3",
        "--atom-dim",
        "16",
        "--n-conv",
        "1",
        "-o",
        model,
        "--no-progress",
        *SMALL,
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "m.pt.metrics.json").read_text())
    assert {"val", "test", "best_epoch"} <= set(metrics)
    result = run("evaluate", model, alloys, "--target", "energy_per_atom", "-o", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ev" / "parity.png").stat().st_size > 1000
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["mae"] > 0


def test_classification_gives_a_roc_curve(alloys, tmp_path):
    model = tmp_path / "c.pt"
    result = run(
        "train",
        alloys,
        "--target",
        "metal_rich",
        "--task",
        "classification",
        "--epochs",
        "2",
        "--atom-dim",
        "16",
        "--n-conv",
        "1",
        "-o",
        model,
        "--no-progress",
        *SMALL,
    )
    assert result.exit_code == 0, result.output
    result = run("evaluate", model, alloys, "--target", "metal_rich", "-o", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ev" / "roc.png").is_file() and "roc_auc" in result.output


def test_learning_curve_and_tune(alloys, tmp_path):
    result = run(
        "learning-curve",
        alloys,
        "--target",
        "energy_per_atom",
        "--sizes",
        "10,40",
        "--epochs",
        "2",
        "--max-time",
        "5s",
        "-o",
        tmp_path / "lc",
        *SMALL[:2],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "lc" / "learning_curve.png").is_file()
    assert len((tmp_path / "lc" / "learning_curve.csv").read_text().splitlines()) == 3
    result = run(
        "tune",
        alloys,
        "--target",
        "energy_per_atom",
        "--lr",
        "1e-3",
        "--weight-decay",
        "0",
        "--n-conv",
        "1,2",
        "--epochs",
        "2",
        "-o",
        tmp_path / "t.csv",
        *SMALL[:2],
    )
    assert result.exit_code == 0, result.output
    assert "best: lr 0.001" in result.output
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 3


@pytest.mark.parametrize(
    "args,match",
    [
        (["--rows", "a:b"], "--rows expects START:STOP"),
        (
            ["--target", "nope"],
            "has no usable entries (80 skipped; first: 0: frame 0 has no info key",
        ),
        (["--max-time", "soon"], "expected a duration like 90s, 15m or 2h"),
        (["--units", "eV,GPa"], "--units needs one unit per target"),
    ],
)
def test_train_user_mistakes(alloys, tmp_path, args, match):
    base = ["train", alloys, "-o", tmp_path / "x.pt", "--epochs", "1", "--no-progress"]
    if "--target" not in args:
        base += ["--target", "energy_per_atom"]
    result = run(*base, *args)
    assert result.exit_code == 2, result.output
    assert match in result.output
    assert not (tmp_path / "x.pt").exists()


def test_explicit_validation_and_test_files(alloys, tmp_path):
    frames = ase.io.read(alloys, index=":")
    for name, part in (("train", frames[:50]), ("val", frames[50:65]), ("test", frames[65:])):
        ase.io.write(tmp_path / f"{name}.extxyz", part)
    result = run(
        "train",
        tmp_path / "train.extxyz",
        "--val",
        tmp_path / "val.extxyz",
        "--test",
        tmp_path / "test.extxyz",
        "--target",
        "energy_per_atom",
        "--epochs",
        "2",
        "--atom-dim",
        "8",
        "--n-conv",
        "1",
        "-o",
        tmp_path / "m.pt",
        "--no-progress",
        *SMALL,
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "m.pt.metrics.json").read_text())
    assert metrics["test"]["mae"] > 0 and metrics["val"]["mae"] > 0
