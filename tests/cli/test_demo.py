"""The README's quick-start job runs offline and learns something."""

from __future__ import annotations

import csv

from click.testing import CliRunner

from asegraph.cli.main import cli


def test_demo_trains_and_beats_the_mean_baseline(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "-o", str(out), "--max-time", "6", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert (out / "best_model.pt").is_file() and (out / "log.csv").is_file()
    rows = list(csv.DictReader((out / "test_predictions.csv").open()))
    errors = [
        abs(float(r["energy_per_atom_emt"]) - float(r["energy_per_atom_cgcnn"])) for r in rows
    ]
    targets = [float(r["energy_per_atom_emt"]) for r in rows]
    mean = sum(targets) / len(targets)
    baseline = sum(abs(t - mean) for t in targets) / len(targets)
    assert sum(errors) / len(errors) < 0.7 * baseline
    # the trained model is usable by `asegraph predict`
    from asegraph.data.emt_alloys import EXAMPLE_PATH

    result = CliRunner().invoke(
        cli,
        [
            "predict",
            str(out / "best_model.pt"),
            str(EXAMPLE_PATH),
            "-o",
            str(tmp_path / "p.csv"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader((tmp_path / "p.csv").open()))) == 600
