"""train / evaluate / learning-curve / tune from the command line."""

from __future__ import annotations

import csv
import json

import ase.io
import numpy as np
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
    mae = json.loads((tmp_path / "ev" / "metrics.json").read_text())["mae"]
    rows = list(csv.DictReader((tmp_path / "ev" / "predictions.csv").open()))
    assert len(rows) == 80
    recomputed = np.mean(
        [
            abs(float(r["predicted_energy_per_atom"]) - float(r["reference_energy_per_atom"]))
            for r in rows
        ]
    )
    assert mae == pytest.approx(recomputed, rel=1e-9) and mae > 0
    reference = [f.info["energy_per_atom"] for f in ase.io.read(alloys, index=":")]
    np.testing.assert_allclose([float(r["reference_energy_per_atom"]) for r in rows], reference)


def test_evaluate_names_the_reference_it_was_given(alloys, tmp_path):
    """evaluate --target OTHER labelled DATA's column with the model's target (and units) in
    predictions.csv and the parity plot; a second --target was a traceback (ValueError)."""
    model = tmp_path / "m.pt"
    args = ["--units", "eV/atom", "--epochs", "1", "--atom-dim", "8", "--n-conv", "1"]
    result = run("train", alloys, "--target", "energy_per_atom", *args, "-o", model, *SMALL)
    assert result.exit_code == 0, result.output
    result = run("evaluate", model, alloys, "--target", "metal_rich", "-o", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    assert "with DATA's ['metal_rich']" in result.output
    header = (tmp_path / "ev" / "predictions.csv").read_text().splitlines()[0]
    assert header == "id,reference_metal_rich,predicted_energy_per_atom"
    two = ["--target", "energy_per_atom", "--target", "metal_rich"]
    result = run("evaluate", model, alloys, *two, "-o", tmp_path / "ev2")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--target: model" in result.output and "predicts 1 target(s)" in result.output
    assert len(result.output.strip().splitlines()) == 1


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


def test_learning_curve_error_falls_with_size(alloys, tmp_path):
    result = run(
        "learning-curve", alloys, "--target", "energy_per_atom", "--sizes", "4,48",
        "--n-conv", "1", "--epochs", "40", "--max-time", "30s", "-o", tmp_path / "lc", *SMALL[:2],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "lc" / "learning_curve.png").is_file()
    rows = list(csv.DictReader((tmp_path / "lc" / "learning_curve.csv").open()))
    assert [int(r["n_train"]) for r in rows] == [4, 48]
    small, large = (float(r["test_mae"]) for r in rows)
    assert large < 0.8 * small, (small, large)


@pytest.mark.parametrize("flag, clock", [([], "wall"), (["--cpu-time"], "cpu")])
def test_learning_curve_budget_counts_cpu_seconds_on_request(
    alloys, tmp_path, monkeypatch, flag, clock
):
    import asegraph.workflows

    seen = {}
    monkeypatch.setattr(
        asegraph.workflows, "learning_curve", lambda *a, **k: seen.update(training=a[3])
    )
    result = run(
        "learning-curve", alloys, "--target", "energy_per_atom", "--max-time", "90s", *flag,
        "-o", tmp_path / "lc", *SMALL[:2],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert seen["training"].clock == clock and seen["training"].max_time_s == 90.0


def test_tune_reports_the_minimum_validation_error_row(alloys, tmp_path):
    # a learning rate too small to move the weights against a sensible one
    result = run(
        "tune", alloys, "--target", "energy_per_atom", "--lr", "1e-9,3e-3", "--weight-decay", "0",
        "--n-conv", "1", "--epochs", "15", "-o", tmp_path / "t.csv", *SMALL[:2],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert len(rows) == 2
    best = min(rows, key=lambda r: float(r["val_mae"]))
    assert float(best["lr"]) == 3e-3
    assert float(rows[0]["val_mae"]) > float(rows[1]["val_mae"])  # 1e-9: the mean's error
    message = f"best: lr 0.003, weight decay 0, n_conv 1, dropout 0 (val MAE {float(best['val_mae']):.4g})"
    assert message in result.output
    assert "epochs:" in result.output  # the tqdm bar of each training, on by default
    # --no-progress did not exist for tune and learning-curve, whose bars always showed
    quiet = run(
        "tune", alloys, "--target", "energy_per_atom", "--lr", "3e-3", "--weight-decay", "0",
        "--n-conv", "1", "--epochs", "2", "--no-progress", "-o", tmp_path / "q.csv", *SMALL[:2],
    )  # fmt: skip
    assert quiet.exit_code == 0, quiet.output
    assert "epochs:" not in quiet.output and "best: lr 0.003" in quiet.output
    quiet = run(
        "learning-curve", alloys, "--target", "energy_per_atom", "--sizes", "4", "--n-conv", "1",
        "--epochs", "2", "--no-progress", "-o", tmp_path / "lc", *SMALL[:2],
    )  # fmt: skip
    assert quiet.exit_code == 0, quiet.output
    assert "epochs:" not in quiet.output and "test MAE" in quiet.output


def test_tune_grid_over_dropout_with_a_cpu_time_budget(alloys, tmp_path):
    result = run(
        "tune", alloys, "--target", "energy_per_atom", "--lr", "3e-3", "--weight-decay", "0",
        "--n-conv", "1", "--dropout", "0,0.5", "--epochs", "10000", "--max-time", "1s",
        "--cpu-time", "-o", tmp_path / "t.csv", *SMALL[:2],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert [float(r["dropout"]) for r in rows] == [0.0, 0.5]
    # the 1 s budget (CPU seconds) stops each point long before 10,000 epochs (each
    # takes milliseconds at least, so without the budget this would run for minutes)
    assert all(1 <= int(r["epochs"]) < 10000 for r in rows)
    result = run(
        "tune", alloys, "--target", "energy_per_atom", "--dropout", "1.5", "--n-conv", "1",
        "--lr", "3e-3", "--weight-decay", "0", "-o", tmp_path / "bad.csv", *SMALL[:2],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "dropout must be in [0, 1), got 1.5" in result.output


@pytest.mark.parametrize(
    "args,match",
    [
        (["--rows", "a:b"], "--rows expects START:STOP"),
        (
            ["--target", "nope"],
            "has no usable entries (80 skipped; first: alloys.extxyz@0: frame 0 has no info key",
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
