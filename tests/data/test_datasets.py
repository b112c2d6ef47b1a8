"""Dataset readers: every format, skipped entries reported, the graph cache."""

from __future__ import annotations

import csv

import ase.db
import ase.io
import numpy as np
import pytest
from ase.build import bulk

from asegraph.data import datasets
from asegraph.data.datasets import load_graph_dataset, read_dataset, split_indices
from asegraph.exceptions import InputFileError, ParameterError


def _structures():
    return [
        bulk("NaCl", "rocksalt", a=5.6),
        bulk("Cu", "fcc", a=3.6),
        bulk("Si", "diamond", a=5.43),
    ]


def _cif_text(atoms, tmp_path, name):
    path = tmp_path / f"{name}.cif"
    ase.io.write(path, atoms)
    return path.read_text()


def test_cgcnn_folder_with_an_unreadable_cif(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    rows = []
    for k, atoms in enumerate(_structures()):
        ase.io.write(folder / f"s{k}.cif", atoms)
        rows.append([f"s{k}", str(float(k))])
    (folder / "broken.cif").write_text("data_x\n")
    rows.append(["broken", "9.0"])
    with open(folder / "id_prop.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    data = read_dataset(folder)
    assert data.ids == ["s0", "s1", "s2"] and data.targets[:, 0].tolist() == [0.0, 1.0, 2.0]
    assert [sid for sid, _ in data.failures] == ["broken"]


def test_csv_with_expression_targets_and_bad_rows(tmp_path):
    path = tmp_path / "data.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["material_id", "cif", "heat", "gap"])
        for k, atoms in enumerate(_structures()):
            writer.writerow([f"m{k}", _cif_text(atoms, tmp_path, k), 5.0 * k, k % 2])
        writer.writerow(["bad", "not a cif", 1.0, 0])
    data = read_dataset(path, targets=["heat / 5", "gap == 0"])
    assert data.ids == ["m0", "m1", "m2"]
    np.testing.assert_allclose(data.targets, [[0, 1], [1, 0], [2, 1]])
    assert data.failures[0][0] == "bad"
    assert len(read_dataset(path, targets=["heat"], rows=slice(1, 3))) == 2
    with pytest.raises(
        InputFileError, match=r"target 'enthalpy' is neither a column nor an expression"
    ):
        read_dataset(path, targets=["enthalpy"])
    with pytest.raises(
        InputFileError, match=r"no column 'structure' of CIF text .*--structure-column"
    ):
        read_dataset(path, targets=["heat"], structure_column="structure")


def test_ase_database_and_extxyz(tmp_path):
    with ase.db.connect(tmp_path / "s.db") as db:
        for k, atoms in enumerate(_structures()):
            db.write(atoms, band_gap=float(k), phase="a" if k < 2 else "b")
    data = read_dataset(tmp_path / "s.db", targets=["band_gap"], selection="phase=a")
    assert len(data) == 2 and data.targets[:, 0].tolist() == [0.0, 1.0]
    frames = _structures()
    for k, atoms in enumerate(frames):
        atoms.info["energy_per_atom"] = -float(k)
    del frames[1].info["energy_per_atom"]
    ase.io.write(tmp_path / "s.extxyz", frames)
    data = read_dataset(tmp_path / "s.extxyz", targets=["energy_per_atom"])
    assert data.targets[:, 0].tolist() == [0.0, -2.0]
    assert "frame 1 has no info key" in data.failures[0][1]


def test_unknown_format_and_missing_file(tmp_path):
    (tmp_path / "x.parquet").write_text("")
    with pytest.raises(InputFileError, match="unknown format '.parquet'"):
        read_dataset(tmp_path / "x.parquet")
    with pytest.raises(FileNotFoundError, match="dataset '.*nothing.csv' does not exist"):
        read_dataset(tmp_path / "nothing.csv")


def test_graph_cache_skips_parsing_on_the_second_run(tmp_path, monkeypatch):
    frames = _structures()
    for k, atoms in enumerate(frames):
        atoms.info["e"] = float(k)
    ase.io.write(tmp_path / "s.extxyz", frames)
    first = load_graph_dataset(tmp_path / "s.extxyz", ["e"], cutoff=6.0, cache_dir=tmp_path / "c")

    def no_parsing(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(datasets, "read_dataset", no_parsing)
    second = load_graph_dataset(tmp_path / "s.extxyz", ["e"], cutoff=6.0, cache_dir=tmp_path / "c")
    assert second.ids == first.ids
    np.testing.assert_array_equal(second.targets, first.targets)
    for a, b in zip(first.graphs, second.graphs):
        np.testing.assert_array_equal(a.edge_index, b.edge_index)
        np.testing.assert_array_equal(a.distances, b.distances)
    with pytest.raises(AssertionError, match="cache should have been used"):  # other settings
        load_graph_dataset(tmp_path / "s.extxyz", ["e"], cutoff=5.0, cache_dir=tmp_path / "c")


def test_split_indices():
    train, val, test = split_indices(100, (0.6, 0.2, 0.2), seed=4)
    assert (len(train), len(val), len(test)) == (60, 20, 20)
    assert len(set(train) | set(val) | set(test)) == 100
    assert split_indices(100, (0.6, 0.2, 0.2), seed=4)[0].tolist() == train.tolist()
    with pytest.raises(ParameterError, match="three non-negative numbers summing to 1"):
        split_indices(10, (0.5, 0.2, 0.2))


def test_subsets_keep_the_list_of_failed_entries(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    rows = []
    for k, atoms in enumerate(_structures()):
        ase.io.write(folder / f"s{k}.cif", atoms)
        rows.append([f"s{k}", str(float(k))])
    (folder / "broken.cif").write_text("data_x\n")
    rows.append(["broken", "9.0"])
    with open(folder / "id_prop.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    structures = read_dataset(folder)
    graphs = load_graph_dataset(folder, [])
    for data in (structures, graphs):
        assert [sid for sid, _ in data.failures] == ["broken"]
        part = data.subset([0, 2])
        assert part.ids == ["s0", "s2"] and part.failures == data.failures
