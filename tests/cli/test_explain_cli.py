"""``asegraph explain``: files written, pool models, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from asegraph.cli.main import cli
from asegraph.models.checkpoint import save_model

sys.path.insert(0, str(Path(__file__).parents[1] / "analysis" / "interpret"))
from interpret_models import make_model, perovskite  # noqa: E402

FAST = ["--max-points", 12, "--n-random", 2, "--no-progress"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def write_csv(path, combos):
    """ABX3 cells of (A, B) ``combos``, A listed last, with a target column."""
    from ase.io import write

    rng = np.random.default_rng(0)
    rows = []
    for k, (a_site, b_site) in enumerate(combos):
        atoms = perovskite(a_site, b_site, a=3.9 + 0.05 * k)
        atoms.positions += rng.normal(scale=0.02, size=atoms.positions.shape)
        text = io.BytesIO()
        write(text, atoms, format="cif")
        rows.append({"material_id": f"p{k}", "cif": text.getvalue().decode(), "e": -k / 10})
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["material_id", "cif", "e"])
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def perovskite_csv(tmp_path):
    """Eight ABX3 cells, A listed last, with a target column."""
    combos = [("Sr", "Ti"), ("Ba", "Zr"), ("Pb", "Ti"), ("Sn", "Nb"), ("K", "Ta"), ("Tl", "W")]
    combos += [("La", "Al"), ("Bi", "Cr")]
    return write_csv(tmp_path / "perov.csv", combos)


def model_file(tmp_path, readout):
    return save_model(make_model(readout).float(), tmp_path / f"{readout}.pt")


def test_explain_site_model_writes_everything(tmp_path, perovskite_csv):
    out = tmp_path / "out"
    result = run(
        "explain", model_file(tmp_path, "site"), perovskite_csv, "-o", out, "--target", "e",
        "--probe-min-atoms", 1, *FAST,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_structures"] == 8
    assert summary["probe_elements"]["n_used"] == 15 and not summary["probe_elements"]["left_out"]
    assert set(summary["probes"]) >= {"block", "radius", "electronegativity"}
    # the 15 metals (thesis), not O; La, the only f-block one, is alone in its class
    assert summary["probes"]["block"]["n_elements"] == 14
    assert summary["probes"]["block"]["left_out"] == ["La"]
    assert {"learned", "random"} <= set(summary["probes"]["block"])
    for name in ["elements_pca.png", "probes.png", "environments_O.png", "site_energy_A.png"]:
        assert (out / name).stat().st_size > 1000, name
    ds = xr.open_dataset(out / "representations.nc")
    assert ds.sizes["atom"] == 40 and "site_value" in ds
    assert list(ds["structure"].values[:2]) == ["p0", "p1"]
    # A sites found by coordination although the A atom is listed last in every file
    assert set(summary["site_energies"]["A"]) == {"Sr", "Ba", "Pb", "Sn", "K", "Tl", "La", "Bi"}
    search = summary["search"]
    assert search["n_candidates"] > 0
    known = [c for c in search["top30"] if c["in_dataset"]]
    assert all(c["true"] is not None for c in known)
    assert "structures" in result.output and "probe block" in result.output
    assert "alone in class: La" in result.output
    # no group has 3 of these 15 metals: said, not silently missing
    assert set(summary["probes"]) == {"block", "radius", "electronegativity"}
    assert list(summary["probe_elements"]["not_probed"]) == ["group"]
    assert "not probed: group (no 3-fold probe: needs two classes" in result.output


def test_probes_leave_out_elements_the_model_barely_saw(tmp_path):
    combos = [(a, b) for a in ("Sr", "Ba", "Pb", "K", "La") for b in ("Ti", "Zr", "Nb", "Ta")]
    data = write_csv(tmp_path / "perov.csv", combos + [("Tl", "W")])  # Tl, W: one atom each
    out = tmp_path / "out"
    result = run(
        "explain", model_file(tmp_path, "site"), data, "-o", out, "--probe-min-atoms", 4,
        "--no-search", "--no-site-energies", *FAST,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    used = json.loads((out / "summary.json").read_text())["probe_elements"]
    assert used["left_out"] == {"Tl": 1, "W": 1}
    assert used["used"] == {s: 5 for s in ("Ti", "Zr", "Nb", "Ta")} | {
        s: 4 for s in ("Sr", "Ba", "Pb", "K", "La")
    }
    assert used["n_used"] == 9
    assert "probes over 9 elements (metals with >= 4 atoms); left out: W (1), Tl (1)" in (
        result.output
    )
    probes = json.loads((out / "summary.json").read_text())["probes"]
    # La alone in the f block, Pb in the p block: a 3-fold probe never trains on them
    assert probes["block"]["n_elements"] == 7 and probes["block"]["left_out"] == ["La", "Pb"]


def test_pool_model_gives_embeddings_and_skips_site_energies(tmp_path, perovskite_csv):
    out = tmp_path / "out"
    result = run("explain", model_file(tmp_path, "pool"), perovskite_csv, "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    assert (out / "representations.nc").is_file()
    assert not list(out.glob("site_energy_*.png"))


def test_pool_model_asked_for_site_values_is_one_line_error(tmp_path, perovskite_csv):
    out = tmp_path / "out"
    result = run(
        "explain", model_file(tmp_path, "pool"), perovskite_csv, "-o", out, "--site-energies", *FAST
    )
    assert result.exit_code == 2
    assert "readout='pool'" in result.output and "--readout site" in result.output
    assert "Traceback" not in result.output
    ds = xr.open_dataset(out / "representations.nc")  # the embeddings are still given
    assert "element_embedding" in ds and "site_value" not in ds


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.csv"], "does not exist"),
        (["{csv}", "--element", "Xe"], "element 'Xe' has no atoms in the data"),
        (["{xyz}", "--rows", "0:2"], "apply to CSV datasets"),
        (
            ["{csv}", "--reference", "{fluorides}", "--element", "O"],
            "element 'O' has no atoms in the reference structures (--reference); present: F, Sr",
        ),
        (["{salt}", "--search"], "search: no ABX3 structure (three anions per two cations)"),
    ],
)
def test_bad_input_is_one_line(tmp_path, perovskite_csv, args, message):
    from ase.build import bulk
    from ase.io import write

    xyz = tmp_path / "cells.extxyz"
    write(xyz, [perovskite("Sr", "Ti"), perovskite("Ba", "Zr")])
    fluorides = tmp_path / "fluorides.extxyz"
    write(fluorides, [perovskite("Sr", "Ti", anions=("F", "F", "F"))])
    salt = tmp_path / "salt.extxyz"
    write(salt, [bulk("NaCl", "rocksalt", a=5.64)])
    args = [a.format(csv=perovskite_csv, xyz=xyz, fluorides=fluorides, salt=salt) for a in args]
    result = run("explain", model_file(tmp_path, "site"), *args, "-o", tmp_path / "o", *FAST)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    # refused before the representation pass (a minute on a real dataset), not after it
    assert not (tmp_path / "o").exists()


def test_reference_map_places_new_atoms(tmp_path, perovskite_csv):
    from ase.io import write

    reference = tmp_path / "reference.extxyz"
    write(reference, [perovskite("Sr", "Ti"), perovskite("Ba", "Zr"), perovskite("K", "Ta")])
    out = tmp_path / "out"
    result = run(
        "explain", model_file(tmp_path, "site"), perovskite_csv, "-o", out,
        "--reference", reference, "--element", "O", "--no-search", *FAST,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    environments = json.loads((out / "summary.json").read_text())["environments"]
    assert environments["n_points"] == 9  # the map: the reference's 9 O atoms
    assert environments["n_projected"] == 12  # this data's O atoms (max_points)
    assert environments["reference"] == [str(reference)]
    assert not (out / "search.csv").exists()


def test_identical_cells_give_a_one_point_map_and_say_why_nothing_was_probed(tmp_path):
    """Every O of identical cubic cells has one vector: t-SNE crashed the process on it."""
    from ase.io import write

    cells = tmp_path / "cells.extxyz"
    write(cells, [perovskite("Sr", "Ti"), perovskite("Sr", "Ti")])
    out = tmp_path / "out"
    result = run("explain", model_file(tmp_path, "site"), cells, "-o", out, "--element", "O", *FAST)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["environments"]["n_points"] == 6
    assert (out / "environments_O.png").stat().st_size > 1000
    # Sr and Ti have 2 atoms each, under --probe-min-atoms 20: no map, no probe, and it says so
    assert summary["probes"] == {} and summary["probe_elements"]["n_used"] == 0
    assert set(summary["probe_elements"]["not_probed"]) == {
        "block", "group", "radius", "electronegativity"
    }  # fmt: skip
    assert (
        "not probed: block, group, radius, electronegativity (0 elements; the map and the "
        "3-fold probes need 3 or more)" in result.output
    )
    assert "probes over 0 elements (metals with >= 20 atoms); left out: Ti (2), Sr (2)" in (
        result.output
    )


def test_a_model_of_several_targets_is_explained_on_its_first(tmp_path, perovskite_csv):
    import torch

    from asegraph.models.cgcnn import CGCNN, CGCNNConfig

    torch.manual_seed(0)
    config = CGCNNConfig(
        atom_features="embedding", readout="site", n_conv=1, atom_dim=8, hidden_dim=8,
        targets=["e", "gap"], units=["eV/atom", "eV"], target_transform=["none", "none"],
    )  # fmt: skip
    net = CGCNN(config)
    net.set_normalizer([-1.0, 3.0], [0.5, 2.0])
    out = tmp_path / "out"
    model = save_model(net.eval(), tmp_path / "two.pt")
    result = run("explain", model, perovskite_csv, "-o", out, "--no-search", *FAST)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["target"] == "e"
    ds = xr.open_dataset(out / "representations.nc")
    is_b = ds["symbol"].values == "Ti"  # Ti sits on B sites only
    ti = summary["site_energies"]["B"]["Ti"]
    assert ti["count"] == is_b.sum() == 2
    assert ti["mean"] == pytest.approx(ds["site_value"].values[is_b, 0].mean(), rel=1e-6)
    assert ti["mean"] != pytest.approx(ds["site_value"].values[is_b, 1].mean(), rel=1e-3)


def test_two_datasets_with_the_same_ids_each_keep_their_own_structures(tmp_path):
    """Both CSVs number p0..p3: the second's results were computed on the first's cells."""
    first = write_csv(tmp_path / "a.csv", [("Sr", "Ti"), ("Ba", "Zr"), ("Pb", "Ti"), ("Sn", "Nb")])
    second = write_csv(tmp_path / "b.csv", [("K", "Ta"), ("Tl", "W"), ("La", "Al"), ("Bi", "Cr")])
    out = tmp_path / "out"
    result = run(
        "explain", model_file(tmp_path, "site"), first, second, "-o", out, "--no-search", *FAST
    )
    assert result.exit_code == 0, result.output
    ds = xr.open_dataset(out / "representations.nc")
    assert list(ds["structure"].values) == ["p0", "p1", "p2", "p3"] + [
        f"{second}:p{k}" for k in range(4)
    ]
    sites = json.loads((out / "summary.json").read_text())["site_energies"]
    assert sorted(sites["A"]) == ["Ba", "Bi", "K", "La", "Pb", "Sn", "Sr", "Tl"]
    assert sorted(sites["B"]) == ["Al", "Cr", "Nb", "Ta", "Ti", "W", "Zr"]  # La was on B
