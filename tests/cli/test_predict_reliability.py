"""`asegraph predict`: every input gets a row with a unique id (issue 9, item 5)."""

from __future__ import annotations

import csv

import ase.io
from ase.build import bulk
from click.testing import CliRunner

from asegraph.cli.main import cli


def test_same_file_names_in_two_folders_and_a_file_twice(tmp_path, monkeypatch):
    from asegraph.models.cgcnn import CGCNN, CGCNNConfig
    from asegraph.models.checkpoint import save_model

    monkeypatch.chdir(tmp_path)
    model = save_model(CGCNN(CGCNNConfig(atom_dim=8, n_conv=1, hidden_dim=8, cutoff=6.0)), "m.pt")
    for folder, a in (("a", 3.6), ("b", 3.7)):
        (tmp_path / folder).mkdir()
        ase.io.write(tmp_path / folder / "x.cif", bulk("Cu", "fcc", a=a))
    ase.io.write(tmp_path / "y.cif", bulk("Ag", "fcc", a=4.1))
    result = CliRunner().invoke(
        cli, ["predict", str(model), "a", "b/x.cif", "y.cif", "y.cif", "-o", "p.csv"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert [r["id"] for r in rows] == ["x", "b/x", "y", "y#2"]  # before: 2 rows, ids x and y
    assert rows[0]["target"] != rows[1]["target"] and rows[2]["target"] == rows[3]["target"]
    assert "predicted 4 of 4 structures" in result.output  # before: "3 of 2; -1 failed"
