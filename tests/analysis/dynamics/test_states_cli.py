"""``asegraph-dynamics analyze``: the README commands, outputs with units, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from asegraph.cli.dynamics import main
from asegraph.examples.li_fcc import SHIPPED_TOPOLOGY, SHIPPED_TRAJECTORY

FAST = ["--epochs", "1", "--blocks", "2", "--ck-steps", "3", "--quiet", "--stop", "300"]


def _run(args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def gdynet_result(tmp_path_factory):
    """A GDyNet result of the first 300 toy frames, made by ``asegraph-dynamics run``."""
    out = tmp_path_factory.mktemp("gdynet") / "li.nc"
    result = _run(
        [
            SHIPPED_TRAJECTORY,
            "--topology",
            SHIPPED_TOPOLOGY,
            "--select",
            "name Li",
            "--environment",
            "name S",
            "--lag",
            "500fs",
            "--no-figures",
            "-o",
            out,
            *FAST,
        ]
    )
    assert result.exit_code == 0, result.output
    return out


def test_analyze_writes_labelled_dataset_figures_and_snapshots(gdynet_result, tmp_path):
    out = tmp_path / "states.nc"
    result = _run(
        [
            "analyze",
            gdynet_result,
            SHIPPED_TRAJECTORY,
            "--topology",
            SHIPPED_TOPOLOGY,
            "--charges",
            "Li=1,S=-0.5",
            "--temperature",
            "400",
            "--no-unwrap",
            "--snapshots",
            "2",
            "--quiet",
            "-o",
            out,
        ]
    )
    assert result.exit_code == 0, result.output
    assert "MSD over 0.5 ps: sum of transitions" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "states.nc",
        "states_charge.png",
        "states_order.png",
        "states_rdf.png",
        "states_state0.extxyz",
        "states_state1.extxyz",
        "states_transport.png",
    ]
    with xr.open_dataset(out) as ds:
        for name in ds.data_vars:
            assert "units" in ds[name].attrs and "long_name" in ds[name].attrs, name
        assert ds["rdf"].dims == ("partner", "state", "radius")
        assert list(ds["partner"].values) == ["Li", "S"]
        assert ds["radius"].attrs["units"] == "angstrom"
        assert ds["conductivity_bare"].attrs["units"] == "S cm-1"
        assert ds.attrs["Conventions"] == "CF-1.10" and ds.attrs["membership"] == "refined"
        total = ds["msd_contribution"].sum().item()
        assert total == pytest.approx(ds.attrs["msd_total_angstrom2"], rel=1e-9)
        # every Li has 4 or 6 S within the shell (3.9 Å): the states' numbers lie between
        shell = ds.attrs["shell_radius_angstrom"]
        assert 3.5 < shell < 4.2
        n_s = ds["coordination_number"].sel(partner="S").interp(radius=shell).values
        assert np.all((n_s > 3.8) & (n_s < 6.2))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--charges", "Li:1"], "--charges: cannot read 'Li:1'"),
        (["--charges", "Na=1"], r"charges: no atom is called \['Na'\]"),
        (["--partner", "S"], "--partner: cannot read 'S'"),
        # said "other='name Xx' selects no atoms", naming no option the user gave
        (["--partner", "S=name Xx"], "--partner S='name Xx' selects no atoms; check the names"),
        (["--partner", "S=nme S"], "--partner S='nme S': MDAnalysis cannot parse it"),
    ],
)
def test_analyze_errors_are_one_line(gdynet_result, tmp_path, extra, message):
    result = _run(
        [
            "analyze",
            gdynet_result,
            SHIPPED_TRAJECTORY,
            "--topology",
            SHIPPED_TOPOLOGY,
            "--quiet",
            "-o",
            tmp_path / "s.nc",
            *extra,
        ]
    )
    import re

    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), result.output
    assert not (tmp_path / "s.nc").exists()


def test_analyze_softmax_needs_the_variable(gdynet_result, tmp_path):
    """A GDyNet result written before the softmax variable existed (issue 11 added it)."""
    import xarray as xr

    with xr.open_dataset(gdynet_result) as ds:
        older = ds.drop_vars("state_probability_softmax").load()
    path = tmp_path / "older.nc"
    older.to_netcdf(path)
    result = _run(
        [
            "analyze",
            path,
            SHIPPED_TRAJECTORY,
            "--topology",
            SHIPPED_TOPOLOGY,
            "--quiet",
            "--membership",
            "softmax",
            "-o",
            tmp_path / "s.nc",
        ]
    )
    assert result.exit_code == 2, result.output
    assert "needs the variable 'state_probability_softmax'" in result.output
    assert not (tmp_path / "s.nc").exists()


def test_analyze_assignment_counts_each_target_frame_in_one_state(gdynet_result, tmp_path):
    """--membership assignment: crisp states, so each state's weight is a whole count."""
    out = tmp_path / "crisp.nc"
    args = [gdynet_result, SHIPPED_TRAJECTORY, "--topology", SHIPPED_TOPOLOGY, "--quiet"]
    extra = ["--no-order", "--snapshots", "0", "--no-figures", "-o", out]
    result = _run(["analyze", *args, "--membership", "assignment", *extra])
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out) as ds, xr.open_dataset(gdynet_result) as gd:
        assert ds.attrs["membership"] == "assignment"
        weight = ds["state_weight"].values
        crisp = np.bincount(gd["state_assignment"].values.ravel(), minlength=gd.sizes["state"])
        np.testing.assert_allclose(weight / weight.sum(), crisp / crisp.sum(), atol=1e-12)


def test_analyze_given_its_own_output_says_it_is_not_a_gdynet_result(tmp_path):
    """analyze states.nc (an analyze output, not a run output) told the user to
    "use membership='refined'", the membership already in use."""
    states = tmp_path / "states.nc"
    xr.Dataset({"rdf": (("state", "radius"), np.ones((2, 3)))}).to_netcdf(states)
    args = [states, SHIPPED_TRAJECTORY, "--topology", SHIPPED_TOPOLOGY, "--quiet"]
    result = _run(["analyze", *args, "-o", tmp_path / "s.nc"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "states.nc' is not a GDyNet result (it holds rdf" in lines[0]
    assert "give the .nc that asegraph-dynamics run wrote" in lines[0]
    assert not (tmp_path / "s.nc").exists()


def test_analyze_missing_result_file(tmp_path):
    result = _run(["analyze", tmp_path / "none.nc", SHIPPED_TRAJECTORY, "-o", tmp_path / "s.nc"])
    assert result.exit_code == 2
    assert "GDyNet result" in result.output and "does not exist" in result.output


def test_gdynet_analysis_object_feeds_the_classes(toy_universe):
    """In Python, a GDyNetAnalysis is a result: no file needed."""
    from asegraph.analysis.dynamics import GDyNetAnalysis
    from asegraph.analysis.dynamics.state_transport import StateTransport

    gd = GDyNetAnalysis(
        toy_universe,
        select="name Li",
        lag="0.5ps",
        max_epochs=1,
        n_blocks=2,
        ck_steps=3,
        environment="name S",
    ).run(stop=200)
    transport = StateTransport(toy_universe, gd, unwrap=False).run(stop=200)
    assert transport.results.msd_contribution.sum() == pytest.approx(transport.results.msd)
