"""The README's first command: a tour of the three uses, offline, that learns something."""

from __future__ import annotations

import csv

import pytest
import xarray as xr
from click.testing import CliRunner

from asegraph.cli.main import cli
from asegraph.exceptions import ParameterError
from asegraph.optimize.campaign import load_campaign


def test_demo_tour_of_the_three_uses(tmp_path):
    out = tmp_path / "demo"
    # a fixed number of epochs: a wall-clock budget trains less on a loaded machine
    args = ["demo", "-o", str(out), "--epochs", "12", "--max-time", "600", "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    # one result line per use, each followed by where its outputs are
    lines = result.output.splitlines()
    for head in ("CGCNN:", "GDyNet:", "BO:"):
        (k,) = [i for i, line in enumerate(lines) if line.startswith(head)]
        assert f"in {out}/" in lines[k + 1]
    assert "as an ASE calculator" in result.output

    # GDyNet: a netCDF file xarray reads, with the thesis' two states of 16 Li
    with xr.open_dataset(out / "li.nc") as ds:
        assert ds.sizes["target"] == 16 and ds.sizes["state"] == 2
        assert ds["implied_timescale"].attrs["units"] == "ps"
    # BO: both campaigns ran their whole budget, and the model-based one did better
    # than its own random baseline on noisy Hartmann-6
    best = {}
    for strategy in ("lp-logei", "random"):
        _, results, _ = load_campaign(out / "bo.campaign" / strategy)
        values = [r["value"] for r in results.values() if r["status"] == "ok"]
        assert len(values) == 24, strategy
        best[strategy] = max(values)
    assert best["lp-logei"] > best["random"]

    # CGCNN: the test error beats predicting the mean
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


def test_tour_rejects_a_non_positive_budget(tmp_path):
    from asegraph.tour import run_tour

    with pytest.raises(ParameterError, match="max_time_s must be > 0 seconds, got 0"):
        run_tour(tmp_path, max_time_s=0)
    with pytest.raises(ParameterError, match="epochs must be >= 1, got 0"):
        run_tour(tmp_path, epochs=0)
