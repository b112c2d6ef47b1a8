"""The whole screening: library, command line, dask, and every bad input of the issue."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from click.testing import CliRunner
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from asegraph.analysis.screening.output import COLUMNS, write_screen
from asegraph.analysis.screening.physics import LithiumAnode, critical_wavelength_nm
from asegraph.analysis.screening.screen import screen
from asegraph.analysis.screening.statistics import combine_members, ensemble_stability
from asegraph.cli.main import cli
from asegraph.exceptions import InputFileError, ParameterError
from asegraph.models.cgcnn import CGCNN, CGCNNConfig
from asegraph.models.ensemble import Ensemble
from tests.conftest import SHARED


def _model(target: str, units: str = "GPa", seed: int = 0, transform: str = "log10") -> CGCNN:
    config = CGCNNConfig(
        targets=[target],
        units=[units],
        target_transform=[transform],
        atom_dim=8,
        n_conv=1,
        hidden_dim=8,
        cutoff=6.0,
        gaussian={"start": 0.0, "stop": 6.0, "step": 0.2, "width": 0.2},
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = CGCNN(config)
        torch.nn.init.normal_(model.fc_out.weight, std=0.3)
        torch.nn.init.constant_(model.fc_out.bias, 1.0)  # ~10 GPa
    return model.eval()


def _ensemble(target: str, n: int = 3) -> Ensemble:
    return Ensemble([_model(target, seed=s) for s in range(n)])


def _li2o() -> Atoms:
    s = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["O", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]]
    )
    return AseAtomsAdaptor.get_atoms(s)


def _entries():
    isolated = Atoms("LiF", positions=[[0, 0, 0], [0, 0, 14]], cell=[30, 30, 30], pbc=True)
    return [
        ("lif", bulk("LiF", "rocksalt", a=4.03)),
        ("nacl", bulk("NaCl", "rocksalt", a=5.64)),
        ("li2o", _li2o()),
        ("lonely", isolated),
        ("broken", InputFileError("structure file 'broken.cif' could not be read")),
    ]


def test_ensemble_members_give_spread_and_probability():
    ds = screen(
        _entries(), bulk=_ensemble("bulk_modulus"), shear=_ensemble("shear_modulus"), progress=False
    )
    ids = list(ds["structure"].values)
    # Li-free NaCl is counted, not listed; the unreadable file and isolated Li get error rows
    assert "nacl" not in ids and ds.attrs["n_without_li"] == 1
    assert ids[-1] == "broken" and ds["n_atoms"].values[-1] == -1
    lonely = ids.index("lonely")
    assert "isolated Li" in ds["error"].values[lonely]
    ranked = [i for i in ids if ds["error"].values[ids.index(i)] == ""]
    assert set(ranked) == {"lif", "li2o"}
    lam = ds["lambda_crit"].values[: len(ranked)]
    assert np.all(np.diff(lam) <= 0)  # ranked by decreasing λ_crit
    # every member through Eq. 2.10 on its own: the mean λ_crit is the mean of the members'
    i = ids.index("lif")
    g, nu = ds["shear_modulus_members"].values[:, i], ds["poisson_ratio_members"].values[:, i]
    v = ds["molar_volume_ratio"].values[i]
    members = critical_wavelength_nm(g, nu, v)
    assert ds["lambda_crit"].values[i] == pytest.approx(members.mean())
    assert ds["lambda_crit_std"].values[i] == pytest.approx(members.std())
    assert ds["shear_modulus_std"].values[i] > 0  # three different members
    chi_high = ds["chi_high_members"].values[:, i]
    assert ds["p_stable_high"].values[i] == pytest.approx(np.mean(chi_high < 0))
    assert ds.sizes["member"] == 3 and ds["chi_total"].shape == (61, len(ids))


def test_single_published_style_model_has_no_spread():
    ds = screen(
        _entries()[:1], bulk=_model("bulk_modulus"), shear=_model("shear_modulus"), progress=False
    )
    assert ds["chi_low_std"].values[0] == 0 and ds["p_stable_low"].values[0] in (0.0, 1.0)


def test_v_above_one_is_flagged_and_ranked_last():
    # a Li "metal" of small molar volume makes rock-salt LiF (Shannon VI) exceed v = 1
    anode = LithiumAnode(molar_volume_m3_per_mol=1.0e-6)
    entries = [("lif", bulk("LiF", "rocksalt", a=4.03)), ("li2o", _li2o())]
    ds = screen(
        entries,
        bulk=_model("bulk_modulus"),
        shear=_model("shear_modulus"),
        anode=anode,
        progress=False,
    )
    assert list(ds["structure"].values) == ["li2o", "lif"]
    assert ds["molar_volume_ratio"].values[1] == pytest.approx(1.1073, rel=1e-3)
    assert "excluded from the ranking: molar volume ratio v = 1.11 > 1" in ds["error"].values[1]
    assert np.isfinite(ds["chi_low"].values[1])  # still computed, for the record


def test_a_shear_and_bulk_model_serves_both_options():
    """One multi-target ensemble (G and K learnt together) gives the screening of its two
    single-target halves; a multi-target model without a shear target is refused."""
    config = CGCNNConfig(
        targets=["shear_modulus_vrh", "bulk_modulus_vrh"],
        units=["GPa", "GPa"],
        target_transform=["log10", "log10"],
        atom_dim=8,
        n_conv=1,
        hidden_dim=8,
        cutoff=6.0,
    )
    members = []
    for seed in range(2):
        torch.manual_seed(seed)
        members.append(CGCNN(config).eval())
        members[-1].set_normalizer([1.0, 1.5], [0.2, 0.3])
    both = Ensemble(members)
    from asegraph.models.transfer import select_target

    entries = _entries()[:1]
    ds = screen(entries, bulk=both, shear=both, progress=False)
    halves = screen(
        entries,
        bulk=select_target(both, "bulk_modulus_vrh"),
        shear=select_target(both, "shear_modulus_vrh"),
        progress=False,
    )
    for name in ("shear_modulus_members", "bulk_modulus_members", "lambda_crit"):
        np.testing.assert_allclose(ds[name].values, halves[name].values)
    assert ds["shear_modulus"].values[0] != ds["bulk_modulus"].values[0]
    energies = CGCNNConfig(
        targets=["a", "b"], units=["GPa"] * 2, target_transform=["none"] * 2, atom_dim=8, n_conv=1
    )
    with pytest.raises(ParameterError, match=r"a model of several targets \['a', 'b'\]"):
        screen(entries, shear=CGCNN(energies).eval(), bulk=_model("bulk_modulus"), progress=False)


def test_model_that_does_not_predict_moduli_is_refused():
    energy = _model("formation_energy_per_atom", units="eV/atom", transform="none")
    with pytest.raises(ParameterError, match="--bulk model .* not the bulk modulus in GPa"):
        screen(_entries()[:1], bulk=energy, shear=_model("shear_modulus"), progress=False)
    with pytest.raises(ParameterError, match="--shear model .* predicts 'bulk_modulus'"):
        screen(
            _entries()[:1],
            bulk=_model("bulk_modulus"),
            shear=_model("bulk_modulus"),
            progress=False,
        )
    with pytest.raises(
        ParameterError,
        match="--bulk 'nowhere.pt': model 'nowhere.pt' is neither a file nor a pretrained",
    ):
        screen(_entries()[:1], bulk="nowhere.pt", progress=False)


def test_unavailable_published_model_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ASEGRAPH_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("ASEGRAPH_OFFLINE", "1")
    with pytest.raises(ParameterError, match="--bulk 'bulk-moduli': .*not on disk"):
        screen(_entries()[:1], progress=False)


def test_given_moduli_missing_ids_and_negative_values(tmp_path):
    table = tmp_path / "dft.csv"
    table.write_text("id,shear_modulus_GPa,bulk_modulus_GPa\nlif,48.0,70.0\nli2o,-3,80\n")
    ds = screen(
        _entries()[:3] + [("extra", bulk("LiCl", "rocksalt", a=5.13))], moduli=table, progress=False
    )
    errors = dict(zip(ds["structure"].values, ds["error"].values))
    assert errors["lif"] == ""
    assert "id 'li2o' has shear_modulus_GPa=-3" in errors["li2o"] and "positive" in errors["li2o"]
    assert "no moduli for id 'extra'" in errors["extra"]
    i = list(ds["structure"].values).index("lif")
    assert ds["shear_modulus"].values[i] == 48.0 and ds["p_stable_low"].values[i] in (0, 1)
    nu = (3 * 70 - 2 * 48) / (2 * (3 * 70 + 48))
    assert ds["poisson_ratio"].values[i] == pytest.approx(nu)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,G\nlif,3\n")
    with pytest.raises(InputFileError, match="lacks column.*shear_modulus_GPa"):
        screen(_entries()[:1], moduli=bad, progress=False)


def test_combine_members_pairs_broadcasts_or_crosses():
    g, k = np.ones((3, 2)), np.full((3, 2), 2.0)
    assert combine_members(g, k)[0].shape == (3, 2)
    assert combine_members(g[:1], k)[0].shape == (3, 2)
    assert combine_members(np.ones((2, 2)), k)[0].shape == (6, 2)
    with pytest.raises(ParameterError, match="moduli must be positive"):
        ensemble_stability(-g, k, np.full(2, 0.1))


def test_dask_chunks_equal_local_run():
    from distributed import LocalCluster

    kwargs = dict(
        bulk=_ensemble("bulk_modulus", 2), shear=_ensemble("shear_modulus", 2), progress=False
    )
    local = screen(_entries(), chunk_size=2, **kwargs)
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        remote = screen(_entries(), chunk_size=2, scheduler=cluster.scheduler_address, **kwargs)
    assert list(remote["structure"].values) == list(local["structure"].values)
    np.testing.assert_allclose(remote["chi_low_members"].values, local["chi_low_members"].values)


def test_cli_writes_table_netcdf_and_figures(tmp_path):
    import xarray as xr

    for name, target in (("bulk", "bulk_modulus"), ("shear", "shear_modulus")):
        _ensemble(target).save(tmp_path / f"{name}.pt")
    folder = tmp_path / "cifs"
    folder.mkdir()
    bulk("LiF", "rocksalt", a=4.03).write(folder / "lif.cif")
    _li2o().write(folder / "li2o.cif")
    bulk("NaCl", "rocksalt", a=5.64).write(folder / "nacl.cif")
    (folder / "junk.cif").write_text("not a cif")
    out = tmp_path / "res" / "screen.csv"
    args = [
        "screen",
        str(folder),
        "--bulk",
        str(tmp_path / "bulk.pt"),
        "--shear",
        str(tmp_path / "shear.pt"),
    ]
    train = tmp_path / "train"
    train.mkdir()
    for k, a in enumerate((3.9, 4.0, 4.1, 4.2)):
        bulk("NaCl", "rocksalt", a=a + 1.6).write(train / f"nacl{k}.cif")
        bulk("LiF", "rocksalt", a=a).write(train / f"lif{k}.cif")
    args += ["--train-data", str(train)]
    result = CliRunner().invoke(cli, args + ["-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "1 without Li left out" in result.output and "1 unreadable" in result.output
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == COLUMNS
    junk = next(r for r in rows if r["id"] == "junk")
    assert junk["error"] and all(junk[c] == "" for c in COLUMNS[1:-1])
    assert [r["id"] for r in rows[:2]] in (["lif", "li2o"], ["li2o", "lif"])
    ds = xr.open_dataset(out.with_suffix(".nc"))
    for attr in (
        "G_Li_GPa",
        "nu_Li",
        "V_M_m3_per_mol",
        "gamma_J_per_m2",
        "z",
        "k_low_per_m",
        "k_high_per_m",
    ):
        assert attr in ds.attrs
    assert ds["chi_low_members"].shape == (3, 3)
    ds.close()
    for fig in ("fig2-4_terms", "fig2-5_tsne", "fig2-6_histograms", "fig2-7_stability_diagram"):
        assert (out.parent / f"screen_{fig}.png").stat().st_size > 10_000


def test_cli_bad_model_and_bad_moduli_file_exit_2(tmp_path, published_model_dir):
    cif = tmp_path / "lif.cif"
    bulk("LiF", "rocksalt", a=4.03).write(cif)
    out = str(tmp_path / "s.csv")
    result = CliRunner().invoke(
        cli, ["screen", str(cif), "--bulk", "formation-energy-per-atom", "-o", out]
    )
    assert result.exit_code == 2
    assert (
        "--bulk model 'formation-energy-per-atom' predicts 'formation_energy_per_atom'"
        in result.output
    )
    bad = tmp_path / "m.csv"
    bad.write_text("material,G\nlif,3\n")
    result = CliRunner().invoke(cli, ["screen", str(cif), "--moduli", str(bad), "-o", out])
    assert result.exit_code == 2 and "lacks column(s) id, shear_modulus_GPa" in result.output


@pytest.mark.skipif(
    not (SHARED / "data" / "mp_elastic_binary").is_dir(), reason="no ../shared data"
)
def test_cli_published_models_on_li_binaries_csv(tmp_path, published_model_dir):
    """The README command: a CSV with a CIF column, the published models by default."""
    import pandas as pd

    frame = pd.read_csv(SHARED / "data" / "mp_elastic_binary" / "mp_elastic_binary.csv")
    li = frame[frame["formula"].str.contains(r"Li(?![a-z])")].head(3)
    li = pd.concat([li, frame[~frame["formula"].str.contains("Li")].head(1)])
    source = tmp_path / "li.csv"
    li.to_csv(source, index=False)
    out = tmp_path / "screen.csv"
    result = CliRunner().invoke(cli, ["screen", str(source), "-o", str(out), "--no-figures"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 3 and {r["id"] for r in rows} == set(li["material_id"][:3])
    assert all(float(r["shear_modulus_std_GPa"]) == 0 for r in rows)
    assert all(float(r["p_stable_low"]) in (0.0, 1.0) for r in rows)


def test_write_screen_marks_stress_stabilised_as_inf(tmp_path):
    entries = [("li2o", _li2o())]
    table = tmp_path / "soft.csv"
    table.write_text("id,shear_modulus_GPa,bulk_modulus_GPa\nli2o,0.1,1.0\n")
    ds = screen(entries, moduli=table, progress=False)
    write_screen(ds, tmp_path / "s.csv", figures=False)
    row = next(csv.DictReader((tmp_path / "s.csv").open()))
    assert row["lambda_crit_nm"] == "inf" and float(row["p_stable_low"]) == 1.0


@pytest.mark.parametrize("gap, dropped", [(-1.0, 2), (2.0, 0)])
def test_band_gap_model_drops_predicted_conductors(gap, dropped):
    model = _model("band_gap", units="eV", transform="none")
    with torch.no_grad():  # a constant prediction: the gap is the output bias
        model.fc_out.weight.zero_()
        model.fc_out.bias.fill_(gap)
    kwargs = dict(bulk=_model("bulk_modulus"), shear=_model("shear_modulus"), progress=False)
    ds = screen(_entries()[:3], band_gap=model, min_band_gap=0.5, **kwargs)
    assert ds.attrs["n_conductors_dropped"] == dropped
    assert ds.sizes["structure"] == 2 - dropped
    with pytest.raises(ParameterError, match="--band-gap model .* not a band gap in eV"):
        screen(_entries()[:1], band_gap=_model("bulk_modulus"), **kwargs)
