import numpy as np
import pytest

from asegraph.exceptions import InputFileError, ParameterError
from asegraph.optimize.space import (
    PEO_LITFSI_REFERENCE,
    DesignSpace,
    Parameter,
    load_space,
    peo_litfsi_space,
)


def test_builtin_groups_sizes_and_bounds():
    assert peo_litfsi_space("anion").dim == 5
    assert peo_litfsi_space("secondary").dim == 5
    assert peo_litfsi_space("backbone").dim == 4
    full = peo_litfsi_space()
    assert full.dim == 13
    for p in full.parameters:
        if p.name.startswith("r_"):
            assert (p.lower, p.upper, p.unit) == (1.5, 5.0, "angstrom")
        if p.name.startswith("eps_"):
            assert (p.lower, p.upper, p.unit) == (0.4, 6.0, "kcal/mol")


def test_unit_cube_round_trip_and_reference():
    space = peo_litfsi_space("anion")
    u = space.sample(16, seed=3)
    assert u.shape == (16, 5) and (u >= 0).all() and (u <= 1).all()
    np.testing.assert_allclose(space.to_unit(space.from_unit(u)), u, atol=1e-12)
    ref = space.to_params(space.reference_unit())
    for k, v in PEO_LITFSI_REFERENCE.items():
        assert ref[k] == pytest.approx(v)
    # the bounds map to the corners
    np.testing.assert_allclose(space.to_unit(space.bounds), [[0] * 5, [1] * 5])


def test_log_parameter_and_seeded_sampling():
    space = DesignSpace([Parameter("c", 0.01, 1.0, log=True), Parameter("x", 0, 2)])
    np.testing.assert_allclose(space.from_unit([[0.5, 0.5]]), [[0.1, 1.0]])
    assert np.array_equal(
        space.sample(4, seed=1, method="random"), space.sample(4, seed=1, method="random")
    )
    assert not np.array_equal(space.sample(4, seed=1), space.sample(4, seed=2))


def test_load_toml_and_yaml(tmp_path):
    (tmp_path / "s.toml").write_text(
        '[parameters.r_ani]\nlower = 1.5\nupper = 5.0\nreference = 3.3\ngroup = "anion"\n'
        "[parameters.eps_cat_ani]\nlower = 0.4\nupper = 6\n[fixed]\nr_li = 0.8\n"
    )
    s = load_space(tmp_path / "s.toml")
    assert s.names == ["r_ani", "eps_cat_ani"] and s.fixed == {"r_li": 0.8}
    assert s.parameters[0].unit == "angstrom" and s.parameters[1].unit == "kcal/mol"
    (tmp_path / "s.yaml").write_text("space:\n  builtin: peo_litfsi\n  group: backbone\n")
    assert load_space(tmp_path / "s.yaml").dim == 4


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(name="a", lower=2.0, upper=1.0), "expected lower < upper"),
        (dict(name="a", lower=0.0, upper=1.0, log=True), "log=true needs lower > 0"),
        (dict(name="a", lower=0.0, upper=1.0, reference=3.0), "lies outside"),
        (dict(name="a", lower=0.0, upper=float("inf")), "must be finite"),
    ],
)
def test_parameter_errors(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        Parameter(**kwargs)


def test_space_errors(tmp_path):
    with pytest.raises(ParameterError, match="duplicate parameter names"):
        DesignSpace([Parameter("a", 0, 1), Parameter("a", 0, 1)])
    with pytest.raises(ParameterError, match="both varied and fixed"):
        DesignSpace([Parameter("a", 0, 1)], {"a": 0.5})
    with pytest.raises(ParameterError, match="at least one varied parameter"):
        DesignSpace([])
    with pytest.raises(ParameterError, match="expected last dimension 5"):
        peo_litfsi_space("anion").to_unit(np.zeros(3))
    with pytest.raises(ParameterError, match="group must be one of"):
        peo_litfsi_space("cation")
    with pytest.raises(ParameterError, match="no parameter in group"):
        peo_litfsi_space().subspace("nothing")
    with pytest.raises(ParameterError, match="missing values for"):
        peo_litfsi_space("anion").from_params({"r_ani": 2.0})
    with pytest.raises(ParameterError, match="method must be"):
        peo_litfsi_space("anion").sample(2, seed=0, method="lhs")
    with pytest.raises(InputFileError, match="does not exist"):
        load_space(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[parameters\n")
    with pytest.raises(InputFileError, match="not valid TOML"):
        load_space(tmp_path / "bad.toml")
    (tmp_path / "s.json").write_text("{}")
    with pytest.raises(InputFileError, match="expected a .toml"):
        load_space(tmp_path / "s.json")
    (tmp_path / "k.toml").write_text("[parameters.a]\nlower = 0\nupper = 1\nfoo = 2\n")
    with pytest.raises(InputFileError, match="unknown keys"):
        load_space(tmp_path / "k.toml")
    (tmp_path / "n.toml").write_text('[parameters.a]\nlower = "x"\nupper = 1\n')
    with pytest.raises(InputFileError, match="needs a numeric 'lower'"):
        load_space(tmp_path / "n.toml")
    (tmp_path / "e.toml").write_text("x = 1\n")
    with pytest.raises(InputFileError, match="expected a 'parameters' table"):
        load_space(tmp_path / "e.toml")
    (tmp_path / "b.toml").write_text('builtin = "pvdf"\n')
    with pytest.raises(InputFileError, match="builtin space must be"):
        load_space(tmp_path / "b.toml")


def test_subspace_fixes_others_at_reference():
    sub = peo_litfsi_space().subspace("backbone")
    assert sub.names == ["r_cha", "eps_cha_cha", "eps_cat_cha"]
    assert sub.fixed["r_ani"] == pytest.approx(3.3)


def test_more_space_errors(tmp_path):
    from asegraph.optimize.space import space_from_config

    with pytest.raises(InputFileError, match="'parameters' must be a table"):
        space_from_config({"parameters": [1, 2]}, source="s")
    with pytest.raises(InputFileError, match="parameter 'a' must be a table"):
        space_from_config({"parameters": {"a": 3}}, source="s")
    with pytest.raises(InputFileError, match="'fixed' must map names to numbers"):
        space_from_config(
            {"parameters": {"a": {"lower": 0, "upper": 1}}, "fixed": {"b": "x"}}, source="s"
        )
    with pytest.raises(ParameterError, match="n must be >= 0"):
        peo_litfsi_space("anion").sample(-1, seed=0)
    (tmp_path / "l.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(InputFileError, match="expected a mapping at top level"):
        load_space(tmp_path / "l.yaml")
    (tmp_path / "b.yaml").write_text("a: [1,\n")
    with pytest.raises(InputFileError, match="could not be parsed"):
        load_space(tmp_path / "b.yaml")
