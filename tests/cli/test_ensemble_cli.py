"""Ensembles from the command line: members on subsets, spread in predictions."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from asegraph.cli.main import cli
from asegraph.data.emt_alloys import EXAMPLE_PATH
from asegraph.exceptions import ParameterError
from asegraph.models.ensemble import Ensemble
from asegraph.training import TrainingConfig


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


def _tiny_ensemble_args(output, *extra):
    return [
        "train",
        str(EXAMPLE_PATH),
        "--target",
        "energy_per_atom",
        "--rows",
        "0:80",
        "--cutoff",
        "5",
        "--atom-dim",
        "8",
        "--n-conv",
        "1",
        "--hidden-dim",
        "8",
        "--ensemble",
        "3",
        "-o",
        str(output),
        "--no-progress",
        *extra,
    ]


def test_max_time_is_the_budget_of_the_whole_ensemble(tmp_path):
    output = tmp_path / "ens.pt"
    result = CliRunner().invoke(cli, _tiny_ensemble_args(output, "--max-time", "6s"))
    assert result.exit_code == 0, result.output
    members = json.loads((tmp_path / "ens.pt.metrics.json").read_text())["members"]
    # each member gets an equal share of what is left, not the whole budget
    assert members[0]["budget_s"] == pytest.approx(2.0, abs=0.3)
    for k, member in enumerate(members):
        left = max(6.0 - member["started_s"], 0.0)
        assert member["budget_s"] == pytest.approx(max(left / (3 - k), 1e-3))
        assert member["epochs"] >= 1  # a member whose share is spent still trains one epoch
    assert members[2]["started_s"] >= members[1]["started_s"] + members[1]["train_time_s"]
    assert Ensemble.load(output).metadata["clock"] == "wall"


def test_cpu_time_budget(tmp_path):
    output = tmp_path / "ens.pt"
    args = _tiny_ensemble_args(
        output, "--max-time", "3s", "--cpu-time", "--epochs", "2", "--dropout", "0.3"
    )
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    ensemble = Ensemble.load(output)
    assert ensemble.metadata["clock"] == "cpu"
    # --cpu-time composes with the ensemble budget: members share 3 CPU seconds
    members = json.loads((tmp_path / "ens.pt.metrics.json").read_text())["members"]
    assert members[0]["budget_s"] == pytest.approx(1.0, abs=0.05)
    for k, member in enumerate(members):
        assert member["budget_s"] == pytest.approx(max((3.0 - member["started_s"]) / (3 - k), 1e-3))
    # --dropout reaches every member's config (and so the saved file)
    assert [member.config.dropout for member in ensemble.members] == [0.3, 0.3, 0.3]
    with pytest.raises(ParameterError, match="clock must be 'wall' or 'cpu'"):
        TrainingConfig(clock="gpu").validate()
