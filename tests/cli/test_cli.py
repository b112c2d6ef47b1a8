"""The command line: one line and exit code 2 for a user's mistake."""

from __future__ import annotations

import csv
import shutil

import pytest
from click.testing import CliRunner

from asegraph.cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_predict_folder_with_an_unreadable_cif(published_model_dir, tmp_path):
    folder = tmp_path / "cifs"
    shutil.copytree(published_model_dir / "data" / "sample-regression", folder)
    for extra in folder.glob("*.cif"):
        if extra.stem not in ("1000041", "9011998"):
            extra.unlink()
    (folder / "broken.cif").write_text("data_broken\n_cell_length_a 1\n")
    out = tmp_path / "out.csv"
    result = run("predict", "bulk-moduli", folder, "-o", out, "--no-progress")
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"1000041", "9011998", "broken"}
    assert "could not be read" in rows["broken"]["error"]
    assert float(rows["1000041"]["log10_bulk_modulus"]) == pytest.approx(1.3808047771, abs=1e-4)
    assert float(rows["1000041"]["bulk_modulus (GPa)"]) == pytest.approx(10**1.3808047771, rel=1e-3)
    assert "predicted 2 of 3 structures" in result.output


def test_predict_extxyz_and_ase_database(tmp_path):
    import ase.db
    import ase.io
    from ase.build import bulk

    from asegraph.models.cgcnn import CGCNN, CGCNNConfig
    from asegraph.models.checkpoint import save_model

    model_path = save_model(
        CGCNN(CGCNNConfig(n_conv=1, atom_dim=8, hidden_dim=8)), tmp_path / "m.pt"
    )
    frames = [bulk("Cu", "fcc", a=3.6), bulk("NaCl", "rocksalt", a=5.6)]
    ase.io.write(tmp_path / "two.extxyz", frames)
    with ase.db.connect(tmp_path / "s.db") as db:
        for atoms in frames:
            db.write(atoms)
    out = tmp_path / "o.csv"
    result = run(
        "predict",
        model_path,
        tmp_path / "two.extxyz",
        tmp_path / "s.db",
        "-o",
        out,
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    ids = [r["id"] for r in csv.DictReader(out.open())]
    assert ids == ["two.extxyz@0", "two.extxyz@1", "s.db@1", "s.db@2"]


def test_convert_then_predict(published_model_dir, tmp_path):
    atom_init = published_model_dir / "data" / "sample-regression" / "atom_init.json"
    out = tmp_path / "gap.pt"
    result = run(
        "convert",
        published_model_dir / "pre-trained" / "band-gap.pth.tar",
        out,
        "--atom-init",
        atom_init,
    )
    assert result.exit_code == 0, result.output
    assert "ties=truncate" in result.output
    cif = published_model_dir / "data" / "sample-regression" / "1000041.cif"
    result = run("predict", out, cif, "-o", tmp_path / "p.csv", "--no-progress")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args,match",
    [
        (
            ["predict", "no-such-model", "x.cif", "-o", "o.csv"],
            "neither a file nor a pretrained name",
        ),
        (
            ["predict", "band-gap", "missing-dir", "-o", "o.csv"],
            "structure source 'missing-dir' does not exist",
        ),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(args, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASEGRAPH_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("ASEGRAPH_OFFLINE", "1")
    (tmp_path / "band-gap.pth.tar").write_bytes(b"x")  # wrong checksum if it were read
    (tmp_path / "x.cif").write_text("x")
    result = run(*args)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert match in result.output and result.output.startswith("asegraph: error:")
    assert not (tmp_path / "o.csv").exists()


def test_wrong_checksum_from_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("ASEGRAPH_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("ASEGRAPH_OFFLINE", "1")
    (tmp_path / "band-gap.pth.tar").write_bytes(b"not the published file")
    cif = tmp_path / "a.cif"
    cif.write_text("x")
    result = run("predict", "band-gap", cif, "-o", tmp_path / "o.csv")
    assert result.exit_code == 2 and "has SHA-256" in result.output
