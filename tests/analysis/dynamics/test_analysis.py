"""GDyNetAnalysis end to end on short slices (fast settings)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from ase import Atoms

from asegraph.analysis.dynamics import GDyNetAnalysis
from asegraph.analysis.dynamics.trajectory import universe_from_ase
from asegraph.exceptions import InputFileError, ParameterError

FAST = {"max_epochs": 2, "n_blocks": 2, "ck_steps": 3, "environment": "name S"}


@pytest.fixture(scope="module")
def short_run(toy_universe):
    return GDyNetAnalysis(toy_universe, select="name Li", lag="0.5ps", **FAST).run(stop=600)


def test_dataset_contents(short_run):
    ds = short_run.results.dataset
    assert ds["state_probability"].dims == ("time", "target", "state")
    assert ds.sizes["time"] == 600 and ds.sizes["target"] == 16 and ds.sizes["state"] == 2
    np.testing.assert_allclose(ds["state_probability"].sum("state"), 1.0, atol=1e-9)
    np.testing.assert_allclose(ds["time"].values[:3], [0.0, 0.1, 0.2], atol=1e-5)
    for name in (
        "koopman_matrix",
        "implied_timescale",
        "implied_timescale_lower",
        "implied_timescale_upper",
        "ck_predicted",
        "ck_estimated",
        "population",
    ):
        assert "units" in ds[name].attrs and "long_name" in ds[name].attrs, name
    assert ds["implied_timescale"].attrs["units"] == "ps"
    assert ds["lag"].attrs["units"] == "ps" and ds["ck_lag"].values[0] == pytest.approx(0.5)
    assert ds.attrs["Conventions"] == "CF-1.10" and ds.attrs["select"] == "name Li"
    assert ds.attrs["n_states"] == 2 and ds.attrs["seed"] == 0
    assert ds.attrs["lag_frames"] == 5 and "atom_dim" in ds.attrs["hyperparameters"]
    np.testing.assert_allclose(ds["koopman_matrix"].sum("state_to"), 1.0, atol=1e-6)
    assert ds.sizes["epoch"] == 2


def test_thesis_softmax_states_sit_beside_the_memberships(short_run):
    """Item 3: the raw softmax, its Koopman model, populations (mean softmax) and CK test.
    The membership map is linear and invertible, so both give the same implied timescales;
    populations differ when the softmax does not span [0, 1]."""
    ds = short_run.results.dataset
    softmax = ds["state_probability_softmax"]
    assert softmax.dims == ("time", "target", "state")
    np.testing.assert_allclose(softmax.sum("state"), 1.0, atol=1e-6)
    test = ds["frame_role"].values == 2
    np.testing.assert_allclose(
        ds["population_softmax"], softmax.values[test].mean(axis=(0, 1)), atol=1e-12
    )
    np.testing.assert_allclose(
        ds["implied_timescale_softmax"], ds["implied_timescale"], rtol=1e-4, atol=1e-6
    )
    for name in ("koopman_matrix_softmax", "ck_predicted_softmax", "ck_estimated_upper_softmax"):
        assert ds[name].attrs["units"] == "1", name
    assert ds.attrs["ck_passed_softmax"] in (0, 1) and "softmax" in ds.attrs["state_definition"]
    # the same state j in both: softmax column j is highest where membership j is
    memberships = ds["state_probability"].values[test]
    for j in range(2):
        assert (
            np.corrcoef(memberships[..., j].ravel(), softmax.values[test][..., j].ravel())[0, 1]
            > 0.9
        )


def test_save_writes_netcdf_model_and_figures(short_run, tmp_path):
    written = short_run.save(tmp_path / "li.nc")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["li.nc", "li.pt", "li_ck.png", "li_populations.png", "li_timescales.png"]
    assert len(written) == 5
    with xr.open_dataset(tmp_path / "li.nc") as ds:
        assert ds["state_probability"].shape == (600, 16, 2)
        assert ds.attrs["program"] == "asegraph-dynamics"


def test_model_file_reproduces_outputs(short_run, toy_universe, tmp_path):
    short_run.save(tmp_path / "li.nc", figures=False)
    again = GDyNetAnalysis(
        toy_universe, select="name Li", lag="0.5ps", model_file=tmp_path / "li.pt", **FAST
    ).run(stop=600)
    np.testing.assert_allclose(again.results.memberships, short_run.results.memberships, atol=1e-5)
    # another K or cutoff than the model's: K=3 was written into the attributes of a result
    # with the model's 2 states; another cutoff built other graphs than the model was trained on
    for other, message in [
        ({"n_states": 3}, "n_states=3 but model_file .* was trained with n_states=2; give 2"),
        ({"cutoff": 7.0}, r"cutoff=7 but model_file .* cutoff=6; give 6 \(--cutoff 6\)"),
    ]:
        with pytest.raises(ParameterError, match=message):
            GDyNetAnalysis(
                toy_universe,
                select="name Li",
                lag="0.5ps",
                model_file=tmp_path / "li.pt",
                **{**FAST, **other},
            )
    # item 2: a trained model is applied to every frame (all are test frames)
    ds = again.results.dataset
    assert (ds["frame_role"].values == 2).all() and ds.attrs["test_start_ps"] == 0.0
    assert again.results.history == []


def test_checkpoint_resume_continues_history(toy_universe, tmp_path):
    checkpoint = tmp_path / "fit.ckpt"
    kwargs = {**FAST, "checkpoint": checkpoint}
    first = GDyNetAnalysis(
        toy_universe, select="name Li", lag="0.5ps", **{**kwargs, "max_epochs": 1}
    ).run(stop=400)
    assert checkpoint.exists() and len(first.results.history) == 1
    resumed = GDyNetAnalysis(toy_universe, select="name Li", lag="0.5ps", **kwargs).run(stop=400)
    assert [h["epoch"] for h in resumed.results.history] == [0, 1]
    assert resumed.results.history[0] == first.results.history[0]
    with pytest.raises(ParameterError, match="was written for lag=5 frames"):
        GDyNetAnalysis(toy_universe, select="name Li", lag="0.3ps", **kwargs).run(stop=400)
    # other model or training settings: another n_conv was a load_state_dict traceback,
    # another seed or learning rate resumed the old run as if it had them
    for other, message in [
        ({"n_conv": FAST.get("n_conv", 2) + 1}, r"other settings \(n_conv \d -> \d\)"),
        ({"seed": 7, "learning_rate": 0.1}, r"seed 0 -> 7; learning rate 0.003 -> 0.1"),
    ]:
        with pytest.raises(ParameterError, match=message):
            GDyNetAnalysis(toy_universe, select="name Li", lag="0.5ps", **{**kwargs, **other}).run(
                stop=400
            )


def test_water_residues_in_a_triclinic_box(water_universe):
    u = water_universe(n_frames=80, triclinic=True)
    run = GDyNetAnalysis(
        u,
        select="resname SOL",
        group="residues",
        lag="0.05ps",
        max_neighbors=8,
        cutoff=5.0,
        max_epochs=1,
        n_blocks=2,
        ck_steps=2,
    ).run()
    ds = run.results.dataset
    assert ds.sizes["target"] == 27 and ds.sizes["target_atom"] == 81
    assert ds.attrs["group"] == "residues"
    assert np.isfinite(ds["koopman_matrix"]).all()


@pytest.mark.parametrize(
    ("kwargs", "run_kwargs", "error", "message"),
    [
        ({"n_states": 1}, {}, ParameterError, "n_states must be an integer >= 2, got 1"),
        ({"select": "name Na"}, {}, ParameterError, "selects no atoms"),
        ({"environment": "name Na"}, {}, ParameterError, "environment='name Na' selects no"),
        (
            {"lag": "1ps"},
            {"stop": 10},
            ParameterError,
            r"lag=1 ps \(10 frames\) is not shorter than the analysed trajectory \(10 frames",
        ),
        ({}, {"stop": 1}, ParameterError, "only 1 frame\\(s\\) left after slicing"),
        ({"lag": "0.15ps"}, {}, ParameterError, "is not a whole number of analysed frames"),
        (
            {"lag": "2ps"},
            {"stop": 60},
            ParameterError,
            "the validation block has 15 frames but lag=20 frames",
        ),
        ({"max_neighbors": 0}, {}, ParameterError, "max_neighbors must be >= 1"),
        ({"interval_source": "x"}, {}, ParameterError, "interval_source must be one of"),
        ({}, {"frames": [0, 1, 5, 9]}, ParameterError, "needs evenly spaced frames"),
    ],
)
def test_bad_input(toy_universe, kwargs, run_kwargs, error, message):
    settings = {"select": "name Li", "lag": "0.5ps", **FAST, **kwargs}
    with pytest.raises(error, match=message):
        GDyNetAnalysis(toy_universe, **settings).run(**run_kwargs)


def test_missing_box_is_reported():
    frames = [
        Atoms("Li2S2", positions=np.random.default_rng(i).random((4, 3)) * 5) for i in range(5)
    ]
    u = universe_from_ase(frames, timestep_ps=0.1)
    with pytest.raises(InputFileError, match="frame 0 has no periodic box"):
        GDyNetAnalysis(u, select="name Li", lag=0.1, split=(0.4, 0.3, 0.3)).run()


def test_memory_mapped_graph_cache_gives_the_same_result(toy_universe, tmp_path):
    settings = {"select": "name Li", "lag": "0.5ps", **FAST, "max_epochs": 1}
    in_memory = GDyNetAnalysis(toy_universe, **settings).run(stop=300)
    cached = GDyNetAnalysis(toy_universe, graph_cache=tmp_path / "graphs", **settings).run(stop=300)
    assert (tmp_path / "graphs.distances.npy").exists()
    np.testing.assert_allclose(cached.results.memberships, in_memory.results.memberships)


@pytest.fixture(scope="module")
def three_runs(toy_universe, tmp_path_factory):
    """The shipped toy trajectory cut into three DCD files, standing in for independent runs."""
    import MDAnalysis as mda

    from asegraph.examples.li_fcc import SHIPPED_TOPOLOGY

    folder = tmp_path_factory.mktemp("runs")
    paths = []
    for i in range(3):
        path = folder / f"run{i + 1}.dcd"
        with mda.Writer(str(path), toy_universe.atoms.n_atoms, dt=0.1) as writer:
            for _ in toy_universe.trajectory[i * 200 : (i + 1) * 200]:
                writer.write(toy_universe.atoms)
        paths.append(str(path))
    return str(SHIPPED_TOPOLOGY), paths


def test_independent_trajectory_files(three_runs):
    """Item 2: train on file 1, analyse files 2 and 3; no lag pair crosses a file boundary;
    intervals from the two independent test trajectories."""
    from asegraph.analysis.dynamics.trajectory import load_universe

    topology, paths = three_runs
    u = load_universe(paths, topology)
    gd = GDyNetAnalysis(u, select="name Li", lag="0.5ps", **FAST).run()
    blocks = gd.results.blocks
    assert [(b.start, b.stop) for b in blocks.train + blocks.validation] == [(0, 133), (133, 200)]
    assert [(b.start, b.stop) for b in blocks.test] == [(200, 400), (400, 600)]
    ds = gd.results.dataset
    assert ds.attrs["interval_source"] == "trajectories" and ds.attrs["n_blocks"] == 2
    assert ds.attrs["n_trajectory_files"] == 3 and ds.attrs["fallback"] == ""
    np.testing.assert_array_equal(ds["trajectory_file"].values, np.repeat([0, 1, 2], 200))
    # the Koopman matrix is that of the two test files as separate trajectories
    from asegraph.analysis.dynamics.koopman import estimate_koopman

    m = gd.results.memberships
    separate = estimate_koopman(
        [m[a:b, j] for a, b in ((200, 400), (400, 600)) for j in range(16)], 5
    )
    np.testing.assert_allclose(ds["koopman_matrix"], separate.koopman_matrix, atol=1e-10)
    # and the choice of files is the user's
    swapped = GDyNetAnalysis(
        u, select="name Li", lag="0.5ps", train_files=[2], test_files=[0], **FAST
    ).run()
    assert [(b.start, b.stop) for b in swapped.results.blocks.test] == [(0, 200)]
    assert swapped.results.dataset.attrs["interval_source"] == "time"
    with pytest.raises(
        ParameterError, match="train_files: trajectory 5 does not exist; there are 3"
    ):
        GDyNetAnalysis(u, select="name Li", lag="0.5ps", train_files=[4], **FAST).run()
    with pytest.raises(ParameterError, match="must be disjoint and non-empty"):
        GDyNetAnalysis(u, select="name Li", lag="0.5ps", train_files=[0], test_files=[0]).run()


def test_short_trajectory_falls_back_and_says_so(toy_universe):
    """Item 4: 140 frames at lag 0.5 ps: 5 time blocks of 7 test frames cannot hold a CK test
    to 2.5 ps; the analysis uses random target subsets instead and records it."""
    gd = GDyNetAnalysis(toy_universe, select="name Li", lag="0.5ps", max_epochs=2).run(stop=140)
    ds = gd.results.dataset
    assert ds.attrs["interval_source"] == "targets" and ds.attrs["ck_steps"] == 5
    assert ds.attrs["fallback"].startswith("time intervals from 5 subsets of 7 frames cannot")
    assert ds.attrs["batch_frames_used"] < 32  # 65 training pairs: more, smaller steps
