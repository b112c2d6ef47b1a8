"""Each remaining user-facing error message of the GDyNet code, with its fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from click.testing import CliRunner

from asegraph.analysis.dynamics import GDyNetAnalysis
from asegraph.analysis.dynamics.training import load_checkpoint, split_blocks
from asegraph.analysis.dynamics.trajectory import (
    load_universe,
    species_labels,
    universe_from_ase,
)
from asegraph.exceptions import InputFileError, ModelFileError, ParameterError


def test_ase_adapter_messages():
    with pytest.raises(InputFileError, match="holds no frames"):
        universe_from_ase([])
    frames = [Atoms("H2", cell=[5, 5, 5], pbc=True), Atoms("H3", cell=[5, 5, 5], pbc=True)]
    with pytest.raises(InputFileError, match="the number of atoms changes between frames"):
        universe_from_ase(frames, timestep_ps=1.0)


def test_unreadable_files(tmp_path):
    from asegraph.examples.li_fcc import SHIPPED_TRAJECTORY

    bad_traj = tmp_path / "bad.traj"
    bad_traj.write_text("not a trajectory")
    with pytest.raises(InputFileError, match="bad.traj': ASE cannot read it"):
        load_universe(bad_traj)
    bad_top = tmp_path / "bad.pdb"
    bad_top.write_text("ATOM      1  S   LIS     1       0.000   0.000   0.000\nEND\n")
    with pytest.raises(InputFileError, match="MDAnalysis cannot read them"):
        load_universe(SHIPPED_TRAJECTORY, bad_top)


def test_species_need_some_label():
    import MDAnalysis as mda

    with pytest.raises(InputFileError, match="no elements, types or names; pass --types"):
        species_labels(mda.Universe.empty(3).atoms)


def test_split_fractions():
    with pytest.raises(ParameterError, match="split must be three positive fractions summing"):
        split_blocks(100, (0.5, 0.5), 1)


def test_model_file_messages(tmp_path, toy_universe, water_universe):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00\x01 not torch")
    with pytest.raises(ModelFileError, match="garbage.pt' cannot be read"):
        load_checkpoint(garbage)
    # a netCDF result given as --model: torch's message ran over six lines
    netcdf = tmp_path / "li.nc"
    netcdf.write_bytes(b"CDF\x01" + bytes(64))
    with pytest.raises(ModelFileError, match="li.nc' cannot be read .*; give the .pt") as info:
        load_checkpoint(netcdf)
    assert "\n" not in str(info.value)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ModelFileError, match="is not a GDyNet file written by asegraph"):
        load_checkpoint(foreign)
    li_model = tmp_path / "li.pt"
    torch.save({"format": "asegraph-gdynet-model-1", "vocabulary": ["Li", "S"]}, li_model)
    with pytest.raises(
        ParameterError,
        match=r"was trained on species \['Li', 'S'\]; this "
        r"system also has \['H', 'O'\]",
    ):
        GDyNetAnalysis(water_universe(n_frames=3), select="resname SOL", model_file=li_model)


def test_environment_and_save_messages(toy_universe, tmp_path):
    with pytest.raises(ParameterError, match="environment='name S and and': MDAnalysis cannot"):
        GDyNetAnalysis(toy_universe, select="name Li", environment="name S and and")
    analysis = GDyNetAnalysis(toy_universe, select="name Li")
    with pytest.raises(ParameterError, match="nothing to save: call run\\(\\) first"):
        analysis.save(tmp_path / "x.nc")
    assert list(tmp_path.iterdir()) == []


def test_cli_split_option(tmp_path):
    from asegraph.cli.dynamics import main
    from asegraph.examples.li_fcc import SHIPPED_TOPOLOGY, SHIPPED_TRAJECTORY

    result = CliRunner().invoke(
        main,
        [
            str(SHIPPED_TRAJECTORY),
            "--topology",
            str(SHIPPED_TOPOLOGY),
            "--select",
            "name Li",
            "--lag",
            "1ps",
            "--split",
            "half,rest",
            "-o",
            str(tmp_path / "x.nc"),
        ],
    )
    assert result.exit_code == 2
    assert "--split: expected comma-separated numbers, got 'half,rest'" in result.stderr
    assert np.all([p.name != "x.nc" for p in tmp_path.iterdir()])


def test_reused_graphs_must_match():
    from asegraph.analysis.dynamics.graphs import GraphStore
    from asegraph.analysis.dynamics.trajectory import load_universe
    from asegraph.examples.li_fcc import shipped_trajectory

    topology, trajectory = shipped_trajectory()
    u = load_universe(trajectory, topology)
    with pytest.raises(
        ParameterError,
        match=r"graphs: the given neighbour tables have shape \(3, 1, 1\), this analysis "
        r"needs \(100, 48, 12\)",
    ):
        GDyNetAnalysis(u, select="name Li", graphs=GraphStore(3, 1, 1)).run(stop=100)
