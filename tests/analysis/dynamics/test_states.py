"""Per-state analyses (thesis ch. 4.4): RDFs, coordination, charge, transport, order, snapshots.

The toy states here are the geometric ground truth (nearest interstitial site:
0 octahedral, 1 tetrahedral) written as a GDyNet-shaped result, so that the
numbers can be checked against the lattice: 6 S around an octahedral Li, 4
around a tetrahedral one.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from asegraph.analysis.dynamics.state_order import RepresentativeConfigurations, StateOrder
from asegraph.analysis.dynamics.state_transport import StateTransport
from asegraph.analysis.dynamics.states import (
    StateRDF,
    StateSolvationCharge,
    atom_charges,
    first_minimum,
)
from asegraph.exceptions import ParameterError

N_FRAMES = 400


def result_dataset(probability, times, target_atoms, lag_ps, softmax=None):
    """A GDyNet-shaped result: state_probability(time, target, state) + target atoms."""
    data = {
        "state_probability": (("time", "target", "state"), probability),
        "target_atom": (("target_atom",), np.asarray(target_atoms)),
        "target_group": (("target_atom",), np.arange(len(target_atoms))),
    }
    if softmax is not None:
        data["state_probability_softmax"] = (("time", "target", "state"), softmax)
    return xr.Dataset(
        data,
        coords={"time": times},
        attrs={"frame_ps": float(times[1] - times[0]), "lag_ps": lag_ps},
    )


@pytest.fixture(scope="module")
def toy_states(toy_universe):
    """Geometric octahedral/tetrahedral memberships of the first frames of the toy run."""
    from asegraph.examples.li_fcc import nearest_site_type

    u = toy_universe
    li, s = u.select_atoms("name Li").indices, u.select_atoms("name S").indices
    positions = np.stack([u.atoms.positions.copy() for _ in u.trajectory[:N_FRAMES]])
    times = np.array([ts.time for ts in u.trajectory[:N_FRAMES]])
    site = nearest_site_type(positions[:, li], positions[:, s])  # [F, 16]
    probability = np.stack([site == 0, site == 1], axis=2).astype(np.float64)
    # a smooth stand-in for the raw softmax outputs: rows still sum to 1
    softmax = 0.8 * probability + 0.1
    return result_dataset(probability, times, li, lag_ps=1.0, softmax=softmax)


def test_toy_coordination_numbers_are_6_and_4(toy_universe, toy_states):
    rdf = StateRDF(toy_universe, toy_states, "name S", nbins=80, range=(0.0, 8.0)).run(
        stop=N_FRAMES
    )
    r = rdf.results
    # one shell radius for both: the first minimum of the state-free Li–S RDF (3.85 Å,
    # between the first S shells at 2.47/2.85 Å and the second at 4.73/4.94 Å)
    shell = first_minimum(r.bins, r.rdf_all, r.neighbours_all)
    assert 3.5 < shell < 4.2
    octahedral, tetrahedral = rdf.coordination_number(shell)
    assert octahedral == pytest.approx(6.0, abs=0.3)
    assert tetrahedral == pytest.approx(4.0, abs=0.15)
    # the two states' weighted counts add up to the state-free count, and the
    # state-free RDF is MDAnalysis' InterRDF (no self pairs between Li and S)
    np.testing.assert_allclose(r.count.sum(axis=0), r.count_all, rtol=1e-10)
    from MDAnalysis.analysis.rdf import InterRDF

    reference = InterRDF(
        toy_universe.select_atoms("name Li"),
        toy_universe.select_atoms("name S"),
        nbins=80,
        range=(0.0, 8.0),
    ).run(stop=N_FRAMES)
    np.testing.assert_allclose(r.rdf_all, reference.results.rdf, rtol=1e-8, atol=1e-12)


def test_softmax_membership_is_used_when_asked(toy_universe, toy_states):
    refined = StateRDF(toy_universe, toy_states, "name S", range=(0, 6)).run(stop=100)
    softmax = StateRDF(toy_universe, toy_states, "name S", membership="softmax", range=(0, 6))
    softmax.run(stop=100)
    # 0.8 p + 0.1: each state's weight is 0.8 of its own plus 0.1 of all target-frames
    expected = 0.8 * refined.results.weight + 0.1 * 100 * 16
    np.testing.assert_allclose(softmax.results.weight, expected)


def test_assignment_membership_recovers_6_and_4_from_soft_states(toy_universe, toy_states):
    """Soft memberships mix the states' averages; crisp states (argmax) do not.

    Like a trained GDyNet on the toy (octahedral state: 0.84 on octahedral,
    0.07 on tetrahedral frames), soft memberships pull the octahedral state's
    coordination number towards 4; ``membership="assignment"`` counts each
    target-frame only in its most probable state.
    """
    crisp = toy_states["state_probability"].values
    soft = toy_states.copy()
    soft["state_probability"] = (("time", "target", "state"), 0.7 * crisp + 0.15)
    kwargs = {"nbins": 80, "range": (0.0, 8.0)}
    mixed = StateRDF(toy_universe, soft, "name S", **kwargs).run(stop=N_FRAMES)
    shell = first_minimum(mixed.results.bins, mixed.results.rdf_all, mixed.results.neighbours_all)
    octahedral, tetrahedral = mixed.coordination_number(shell)
    assert octahedral < 5.7  # a fifth of octahedral frames: the soft weight pulls it to 4
    assigned = StateRDF(toy_universe, soft, "name S", membership="assignment", **kwargs)
    assigned.run(stop=N_FRAMES)
    np.testing.assert_allclose(assigned.results.weight, crisp.sum(axis=(0, 1)))
    octahedral, tetrahedral = assigned.coordination_number(shell)
    assert octahedral == pytest.approx(6.0, abs=0.3)
    assert tetrahedral == pytest.approx(4.0, abs=0.15)
    # the result's own crisp states win over the argmax when it has them
    flipped = soft.copy()
    flipped["state_assignment"] = (("time", "target"), crisp.argmin(axis=2).astype(np.int8))
    swapped = StateRDF(toy_universe, flipped, "name S", membership="assignment", **kwargs)
    swapped.run(stop=50)
    np.testing.assert_allclose(swapped.results.weight, crisp[:50].sum(axis=(0, 1))[::-1])


def test_rdf_in_a_changing_triclinic_box_integrates_to_the_counts(water_universe):
    """Per-frame densities: n(r) = ∫ rho g 4 pi r^2 dr also when the box changes."""
    import MDAnalysis as mda
    from MDAnalysis.coordinates.memory import MemoryReader

    base = water_universe(n_frames=12, triclinic=True)
    coordinates = base.trajectory.timeseries(order="fac")
    scale = np.linspace(1.0, 1.15, 12)[:, None, None]
    dims = np.tile(base.dimensions, (12, 1))
    dims[:, :3] *= scale[:, 0]
    u = mda.Merge(base.atoms)
    u.load_new(
        (coordinates * scale).astype(np.float32),
        format=MemoryReader,
        dimensions=dims.astype(np.float32),
        dt=0.05,
    )
    oxygens = u.select_atoms("name OW").indices
    times = np.arange(12) * 0.05
    p = np.zeros((12, len(oxygens), 2))
    p[:, ::2, 0] = 1.0
    p[:, 1::2, 1] = 1.0
    result = result_dataset(p, times, oxygens, lag_ps=0.05)
    rdf = StateRDF(u, result, "name OW", nbins=40, range=(0.0, 4.0)).run()
    r = rdf.results
    shell = 4.0 / 3.0 * np.pi * np.diff(r.edges**3)
    # direct count of O–O pairs within 4 Å per oxygen (minimum image in each frame's box)
    from MDAnalysis.lib.distances import distance_array

    direct = []
    for ts in u.trajectory:
        d = distance_array(
            u.atoms[oxygens].positions, u.atoms[oxygens].positions, box=ts.dimensions
        )
        direct.append(((d > 0) & (d < 4.0)).sum(axis=1))
    direct = np.array(direct)  # [F, n_O]
    np.testing.assert_allclose(r.cumulative[0, -1], direct[:, ::2].mean(), rtol=1e-10)
    np.testing.assert_allclose(r.cumulative[1, -1], direct[:, 1::2].mean(), rtol=1e-10)
    # rho_k = sum_t N_b / V(t) / frames, not N_b / <V>: the integral gives the count
    n_b = len(oxygens) - 1
    rho = np.mean([n_b / ts.volume for ts in u.trajectory])
    np.testing.assert_allclose(np.sum(rho * r.rdf[0] * shell), r.cumulative[0, -1], rtol=1e-10)


def test_first_shell_charge_is_one_minus_half_the_coordination(toy_universe, toy_states):
    """With q(Li) = +1, q(S) = -0.5 and only S counted: Q(r) = 1 - 0.5 n(r)."""
    charge = StateSolvationCharge(
        toy_universe,
        toy_states,
        charges={"Li": 1.0, "S": -0.5},
        other="name S",
        nbins=80,
        range=(0.0, 8.0),
        shell_radius=3.9,
    ).run(stop=N_FRAMES)
    rdf = StateRDF(toy_universe, toy_states, "name S", nbins=80, range=(0.0, 8.0)).run(
        stop=N_FRAMES
    )
    np.testing.assert_allclose(
        charge.results.shell_charge, 1.0 - 0.5 * rdf.coordination_number(3.9), rtol=1e-10
    )
    octahedral, tetrahedral = charge.results.shell_charge
    assert octahedral == pytest.approx(-2.0, abs=0.15)
    assert tetrahedral == pytest.approx(-1.0, abs=0.1)


def test_transport_contributions_sum_to_the_state_free_msd(toy_universe, toy_states):
    from MDAnalysis.analysis.msd import EinsteinMSD

    transport = StateTransport(
        toy_universe,
        toy_states,
        unwrap=False,
        target_charge=1.0,
        state_charges=[0.2, 1.0],
        temperature_K=400.0,
    ).run(stop=N_FRAMES)
    r = transport.results
    direct = EinsteinMSD(toy_universe, select="name Li", fft=False).run(stop=N_FRAMES)
    lag = int(round(r.lag_ps / 0.1))
    assert r.msd_contribution.sum() == pytest.approx(direct.results.timeseries[lag], rel=1e-2)
    assert r.msd_contribution.sum() == pytest.approx(r.msd, rel=1e-10)
    assert np.all(r.msd_contribution > 0)
    # the bare Nernst–Einstein split sums to sigma_NE = N e^2 MSD / (6 V k T tau)
    volume = toy_universe.trajectory.ts.volume
    e, kb = 1.602176634e-19, 1.380649e-23
    sigma = 16 * e**2 * r.msd * 1e-20 / (6 * volume * 1e-30 * kb * 400.0 * r.lag_ps * 1e-12)
    assert r.conductivity_bare.sum() == pytest.approx(sigma / 100.0, rel=1e-6)  # S/cm
    q = np.array([[0.2, 0.6], [0.6, 1.0]])
    np.testing.assert_allclose(r.conductivity_solvation, q**2 * r.conductivity_bare)


def test_transport_unwraps_a_wrapped_trajectory(toy_universe, toy_states):
    import MDAnalysis as mda
    from MDAnalysis import transformations

    u = mda.Universe(toy_universe.filename, toy_universe.trajectory.filename)
    u.trajectory.add_transformations(transformations.wrap(u.atoms))
    wrapped = StateTransport(u, toy_states, unwrap=True).run(stop=200)
    plain = StateTransport(toy_universe, toy_states, unwrap=False).run(stop=200)
    np.testing.assert_allclose(
        wrapped.results.msd_contribution, plain.results.msd_contribution, rtol=1e-4
    )


def test_steinhardt_q3_of_diamond_and_the_axis_profile():
    """Ideal diamond Si with 4 neighbours: q3 = 0.745, q4 = 0.509, q6 = 0.628."""
    from ase.build import bulk

    from asegraph.analysis.dynamics.trajectory import universe_from_ase

    si = bulk("Si", "diamond", a=5.43, cubic=True).repeat(2)
    u = universe_from_ase([si, si], timestep_ps=1.0)
    n = len(si)
    p = np.zeros((2, n, 2))
    upper = si.positions[:, 2] > si.cell[2, 2] / 2
    p[:, upper, 1] = 1.0
    p[:, ~upper, 0] = 1.0
    result = result_dataset(p, np.array([0.0, 1.0]), np.arange(n), lag_ps=1.0)
    order = StateOrder(u, result, l=(3, 4, 6), num_neighbors=4, nbins_axis=10).run()
    r = order.results
    np.testing.assert_allclose(r.q_mean, [[0.745, 0.509, 0.628]] * 2, atol=2e-3)
    np.testing.assert_allclose(r.q_histogram.sum(axis=2), 1.0)
    # state 1 lives in the upper half of the cell, state 0 in the lower; every atom counted
    assert r.axis_profile.sum() == pytest.approx(n)
    centres = 0.5 * (r.axis_edges[1:] + r.axis_edges[:-1])
    assert np.average(centres, weights=r.axis_profile[1]) > np.average(
        centres, weights=r.axis_profile[0]
    )


def test_representative_configurations(toy_universe, toy_states, tmp_path):
    import ase.io

    reps = RepresentativeConfigurations(toy_universe, toy_states, n_per_state=2, radius=3.85)
    reps.run(stop=N_FRAMES)
    written = reps.write(tmp_path / "toy")
    assert [p.name for p in written] == ["toy_state0.extxyz", "toy_state1.extxyz"]
    for k, path in enumerate(written):
        frames = ase.io.read(path, index=":")
        assert len(frames) == 2
        for atoms in frames:
            assert atoms.info["state"] == k and atoms.info["probability"] == 1.0
            target = list(atoms.arrays["atom_index"]).index(atoms.info["target_atom"])
            np.testing.assert_allclose(atoms.positions[target], 0.0, atol=1e-5)
            sulfur = atoms.get_chemical_symbols().count("S")
            # within the first shell (3.85 Å): 4 S round a tetrahedral site, ~6 round an octahedral one
            assert sulfur == 4 if k == 1 else sulfur >= 5


def test_topology_charges_and_charge_table(toy_universe):
    with pytest.raises(ParameterError, match="the topology has no charges"):
        atom_charges(toy_universe)
    q = atom_charges(toy_universe, {"Li": 1.0, "S": -0.5})
    assert q.sum() == pytest.approx(16 - 16)
    with pytest.raises(ParameterError, match=r"charges: no atom is called \['Na'\]"):
        atom_charges(toy_universe, {"Na": 1.0})


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda u, r: StateRDF(u, r, "name S", membership="raw"),
            "membership must be one of",
        ),
        (
            lambda u, r: StateRDF(
                u, r.drop_vars("state_probability_softmax"), "name S", membership="softmax"
            ),
            "needs the variable 'state_probability_softmax'",
        ),
        (lambda u, r: StateRDF(u, r, "name Xx"), "other='name Xx' selects no atoms"),
        (lambda u, r: StateRDF(u, r, "name S", range=(3, 1)), "range"),
        (lambda u, r: StateRDF(u, "missing.nc", "name S"), "GDyNet result 'missing.nc'"),
        (
            lambda u, r: StateTransport(u, r, state_charges=[1.0]),
            "state_charges: expected 2 values",
        ),
        (lambda u, r: StateTransport(u, r, temperature_K=-1), "temperature_K must be > 0"),
        (lambda u, r: StateTransport(u, r, lag="0.15ps").run(stop=50), "whole number"),
        (lambda u, r: StateOrder(u, r, num_neighbors=None), "exactly one of num_neighbors"),
        (lambda u, r: StateOrder(u, r, axis="w"), "axis must be one of"),
        (
            lambda u, r: RepresentativeConfigurations(u, r, n_per_state=0),
            "n_per_state must be >= 1",
        ),
    ],
)
def test_bad_input_is_named(toy_universe, toy_states, build, message):
    with pytest.raises((ParameterError, FileNotFoundError), match=message):
        build(toy_universe, toy_states)


def test_frames_of_another_run_are_reported(toy_universe, toy_states):
    shifted = toy_states.assign_coords(time=toy_states["time"] + 1e4)
    with pytest.raises(ParameterError, match="no frame of the trajectory has a time"):
        StateRDF(toy_universe, shifted, "name S").run(stop=20)


def test_pairs_inside_a_target_molecule_are_not_solvation(water_universe):
    """Water targets grouped by residue: a water's own O and H are no neighbours of it."""
    u = water_universe(n_frames=5)
    atoms = u.select_atoms("resname SOL").indices
    groups = u.atoms.resindices
    times = np.arange(5) * 0.05
    p = np.zeros((5, 27, 2))
    p[:, :, 0] = 1.0
    result = xr.Dataset(
        {
            "state_probability": (("time", "target", "state"), p),
            "target_atom": (("target_atom",), atoms),
            "target_group": (("target_atom",), groups[atoms]),
        },
        coords={"time": times},
        attrs={"frame_ps": 0.05, "lag_ps": 0.05},
    )
    rdf = StateRDF(u, result, "name OW", nbins=30, range=(0.0, 3.0)).run()
    # own O–H is 0.96 Å (and O–O 0): without the exclusion every atom has 1 O within 1 Å
    assert rdf.coordination_number(1.0)[0] == pytest.approx(0.0)
    # each target atom sees the 26 other waters' O as partners
    np.testing.assert_array_equal(rdf._n_partners, 26)
