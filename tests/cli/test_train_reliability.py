"""`asegraph train` / `evaluate`: resume with the defaults, one run per -o, bad targets.

Each case was a traceback, a silent wrong answer or a lost result before
(issue 9); the CLI now exits 0 with the right result or 2 with one line.
"""

from __future__ import annotations

import csv

import ase.io
import numpy as np
import pytest
import torch
from ase.build import bulk
from click.testing import CliRunner

from asegraph.cli.main import cli

SMALL = ["--cutoff", "6", "--atom-dim", "8", "--hidden-dim", "16", "--n-conv", "1"]
SMALL += ["--batch-size", "8", "--epochs", "2", "--no-progress"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """A CSV of 16 rattled crystals with CIF text; `e` has a blank cell and `gap` is 0/1."""
    folder = tmp_path_factory.mktemp("table")
    path = folder / "small.csv"
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["material_id", "cif", "e", "gap"])
        for k in range(16):
            name, kind, a = [("Cu", "fcc", 3.6), ("Ag", "fcc", 4.1), ("NaCl", "rocksalt", 5.6)][
                k % 3
            ]
            atoms = bulk(name, kind, a=a, cubic=True)
            atoms.rattle(0.05, seed=k)
            ase.io.write(folder / "s.cif", atoms)
            e = "" if k == 4 else f"{rng.normal():.4f}"
            writer.writerow([f"m{k}", (folder / "s.cif").read_text(), e, k % 2])
    return path


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


def test_train_twice_with_the_default_schedule_resumes(table, tmp_path):
    # the command: cosine (the default) stored a numpy float that
    # weights-only loading refused on the second run
    first = run("train", table, "--target", "e", *SMALL, "-o", tmp_path / "m.pt")
    assert first.exit_code == 0, first.output
    second = run("train", table, "--target", "e", *SMALL, "-o", tmp_path / "m.pt")
    assert second.exit_code == 0, second.output
    assert second.output.splitlines()[-3:] == first.output.splitlines()[-3:]


@pytest.mark.parametrize(
    "change,message,key,value",
    [
        (
            ["--target", "gap"],
            "holds another run (targets ['e'] -> ['gap']; the data differ)",
            "targets",
            ["gap"],
        ),
        (["--target", "e", "--n-conv", "2"], "holds another run (n_conv 1 -> 2)", "n_conv", 2),
    ],
)
def test_resume_with_other_settings_is_refused(table, tmp_path, change, message, key, value):
    model = tmp_path / "m.pt"
    assert run("train", table, "--target", "e", *SMALL, "-o", model).exit_code == 0
    before = model.read_bytes()
    result = run("train", table, *SMALL, *change, "-o", model)
    assert result.exit_code == 2, result.output
    assert message in result.output and "start afresh with --restart" in result.output
    assert "Traceback" not in result.output
    assert model.read_bytes() == before  # before: exit 0 and a model of the old target
    again = run("train", table, *SMALL, *change, "-o", model, "--restart")
    assert again.exit_code == 0, again.output
    assert torch.load(model, weights_only=True)["config"][key] == value


def test_a_run_folder_from_before_a_new_setting_resumes_with_its_old_value(table, tmp_path):
    # run records written before bn_recalibration_batches existed lack the key: that
    # run is named and refused with the new default, and resumes with the old value (0)
    import json

    model = tmp_path / "m.pt"
    args = ["train", table, "--target", "e", *SMALL, "-o", model]
    assert run(*args, "--bn-recalibration-batches", "0").exit_code == 0
    (record,) = tmp_path.glob("**/run.json")
    stored = json.loads(record.read_text())
    del stored["training"]["bn_recalibration_batches"]
    record.write_text(json.dumps(stored))
    refused = run(*args)
    assert refused.exit_code == 2, refused.output
    assert "bn_recalibration_batches 0 -> 20" in refused.output
    resumed = run(*args, "--bn-recalibration-batches", "0")
    assert resumed.exit_code == 0, resumed.output


def test_blank_and_infinite_targets_are_skipped_and_listed(table, tmp_path):
    result = run("train", table, "--target", "e", *SMALL, "-o", tmp_path / "m.pt")
    assert result.exit_code == 0, result.output
    assert "skipped 1 entries:\n  m4: target 'e' is nan" in result.output
    evaluated = run("evaluate", tmp_path / "m.pt", table, "--target", "e", "-o", tmp_path / "ev")
    assert evaluated.exit_code == 0 and "mae nan" not in evaluated.output
    assert "m4: target 'e' is nan" in evaluated.output
    none_left = run("train", table, "--target", "e / 0", *SMALL, "-o", tmp_path / "z.pt")
    assert none_left.exit_code == 2
    assert "has no usable entries (16 skipped; first: m0: target 'e / 0' is " in none_left.output


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--target", "e", "--task", "classification"],
            "needs class indices 0..1 as targets, got ",
        ),
        (["--target", "gap > 5", "--task", "classification"], "has one class only (0) in the 10"),
        (["--target", "e", "--rows", "100:200"], "--rows 100:200 selects no entries: dataset"),
    ],
)
def test_classification_and_rows_mistakes(table, tmp_path, args, message):
    result = run("train", table, *SMALL, *args, "-o", tmp_path / "m.pt")
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m.pt").exists()


def test_rows_past_the_end_names_the_size(table, tmp_path):
    result = run("train", table, *SMALL, "--target", "e", "--rows", "100:200", "-o", tmp_path / "m")
    assert "dataset '" in result.output and "small.csv' has 16 rows (0:16)" in result.output


def test_empty_csv_and_split_without_validation(table, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    result = run("train", tmp_path / "empty.csv", "--target", "e", *SMALL, "-o", tmp_path / "e")
    assert result.exit_code == 2
    assert "dataset '" in result.output and "empty.csv' could not be read as CSV" in result.output
    # no validation or test set: the best epoch is chosen by training loss
    result = run("train", table, "--target", "e", *SMALL, "--split", "1,0,0", "-o", tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert "val" not in result.output.split("wrote")[-1]


def test_evaluate_a_classifier_on_a_continuous_target(table, tmp_path):
    model = tmp_path / "k.pt"
    trained = run(
        "train", table, "--target", "gap", "--task", "classification", *SMALL, "-o", model
    )
    assert trained.exit_code == 0, trained.output
    result = run("evaluate", model, table, "--target", "e", "-o", tmp_path / "ev")
    assert result.exit_code == 2
    assert "a classification model needs class indices 0..1 as targets, got " in result.output


def test_a_corrupt_cache_entry_is_rebuilt(table, tmp_path):
    cache = tmp_path / "cache"
    args = ["train", table, "--target", "e", *SMALL, "--cache-dir", cache]
    assert run(*args, "-o", tmp_path / "a.pt").exit_code == 0
    (entry,) = cache.iterdir()
    entry.write_bytes(entry.read_bytes()[:3000])  # truncated zip: BadZipFile before
    result = run(*args, "-o", tmp_path / "b.pt")
    assert result.exit_code == 0, result.output
    assert len(entry.read_bytes()) > 3000  # rebuilt
