"""Ensembles from the command line: members on subsets, spread in predictions."""

from __future__ import annotations

import csv
import json

from click.testing import CliRunner

from asegraph.cli.main import cli
from asegraph.data.emt_alloys import EXAMPLE_PATH
from asegraph.models.ensemble import Ensemble


def test_train_an_ensemble_and_predict_with_its_spread(tmp_path):
    output = tmp_path / "ens.pt"
    args = [
        "train",
        str(EXAMPLE_PATH),
        "--target",
        "energy_per_atom",
        "--rows",
        "0:120",
        "--cutoff",
        "6",
        "--epochs",
        "2",
        "--atom-dim",
        "8",
        "--n-conv",
        "1",
        "--ensemble",
        "3",
        "--subsample",
        "0.5",
        "-o",
        str(output),
        "--no-progress",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    ensemble = Ensemble.load(output)
    assert len(ensemble) == 3
    metrics = json.loads((tmp_path / "ens.pt.metrics.json").read_text())
    assert len(metrics["members"]) == 3 and "mean_std" in metrics["test"]
    # members saw different random subsets, so they disagree somewhere
    predictions = tmp_path / "p.csv"
    result = CliRunner().invoke(
        cli, ["predict", str(output), str(EXAMPLE_PATH), "-o", str(predictions), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(predictions.open()))
    assert len(rows) == 600 and max(float(r["std_energy_per_atom"]) for r in rows) > 0
