"""Campaign configs with a user's mistakes: refused before a folder exists (issue 9).

A typo in the objective optimised the evaluator's ``value`` instead; TOML type
errors were tracebacks that left a campaign folder refusing the corrected
config; report points that are not numbers were tracebacks, and points outside
the design space were predicted without a word.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from asegraph.cli.main import cli
from asegraph.exceptions import InputFileError, ParameterError
from asegraph.optimize.campaign import Campaign, CampaignConfig
from asegraph.optimize.report import _load_points, make_report

CONFIG = """
[campaign]
name = "syn"
seed = {seed}
strategy = "sobol"
n_initial = 2
batch = {batch}
budget = {budget}
evaluator = "{evaluator}"
objective = "{objective}"

[space.parameters]
x0 = {{lower = 0, upper = 1, reference = 0.2}}
x1 = {{lower = 0, upper = 1}}

[simulation]
function = "sum"
"""
SYNTHETIC = "asegraph.optimize.testfunctions:synthetic"


def config(tmp_path, seed=0, batch=1, budget=2, evaluator=SYNTHETIC, objective="value"):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(**locals()))
    return path


def run(*args):
    args = ["optimize", "run", *map(str, args), "--executor", "threads"]
    return CliRunner().invoke(cli, args)


def test_objective_typo_is_refused_before_anything_runs(tmp_path):
    result = run(config(tmp_path, objective="Value_"), "--no-progress")
    assert result.exit_code == 2, result.output  # before: 0, having maximised 'value'
    assert (
        "campaign.objective 'Value_' is not an output of evaluator "
        f"'{SYNTHETIC}' (its outputs: value, uncertainty); did you mean 'value'?"
    ) in result.output
    assert not (tmp_path / "syn.campaign").exists()


def test_cgmd_objective_is_checked_against_its_transport_results(tmp_path):
    from asegraph.optimize.space import peo_litfsi_space

    space = peo_litfsi_space("anion")
    with pytest.raises(ParameterError, match=r"'sigma_Li' is not an output .* mean 'sigma_li'"):
        CampaignConfig(space=space, objective="sigma_Li").check_objective()
    CampaignConfig(space=space, objective="t_li").check_objective()


def test_undeclared_evaluator_is_checked_on_its_first_result(tmp_path, monkeypatch):
    (tmp_path / "myeval.py").write_text(
        "def conductivity(params, settings, seed):\n    return {'sigma': sum(params.values())}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    path = config(tmp_path, evaluator="myeval:conductivity", objective="sigma_li")
    result = run(path, "--no-progress")
    assert result.exit_code == 2, result.output
    assert (
        "'sigma_li' is not an output of evaluator 'myeval:conductivity' (its outputs: sigma)"
        in (result.output)
    )
    assert "the campaign folder this run created was removed" in result.output
    assert not (tmp_path / "syn.campaign").exists()
    fixed = run(config(tmp_path, evaluator="myeval:conductivity", objective="sigma"))
    assert fixed.exit_code == 0, fixed.output


@pytest.mark.parametrize(
    "values,message",
    [
        ({"budget": '"ten"'}, "campaign.budget must be an integer, got 'ten' (str)"),
        ({"seed": '"zero"'}, "campaign.seed must be an integer, got 'zero' (str)"),
        ({"batch": 1.7}, "campaign.batch must be an integer, got 1.7 (float)"),
    ],
)
def test_toml_type_errors_leave_no_campaign_folder(tmp_path, values, message):
    result = run(config(tmp_path, **values), "--no-progress")
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "syn.campaign").exists()  # before: it refused the fixed config
    assert run(config(tmp_path), "--no-progress").exit_code == 0


def test_report_points_not_numbers_or_outside_the_space(tmp_path):
    path = config(tmp_path, budget=3)
    Campaign(CampaignConfig.from_file(path), tmp_path / "camp").run(
        executor="threads", progress=False
    )
    (tmp_path / "p.toml").write_text('[points.p]\nx0 = "a"\n')
    with pytest.raises(InputFileError, match=r"point 'p': x0 = 'a' is not a number; give a val"):
        make_report(tmp_path / "camp", points=tmp_path / "p.toml")
    args = ["optimize", "report", str(tmp_path / "camp"), "--points", str(tmp_path / "p.toml")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "is not a number" in result.output  # before: traceback
    assert not (tmp_path / "camp" / "report").exists()  # refused before any figure
    (tmp_path / "p.toml").write_text("[points.far]\nx0 = 5.0\n")
    space = CampaignConfig.from_file(path).space
    with pytest.warns(UserWarning, match=r"'far' lies outside .*x0 = 5 \(range 0..1\).*extrapol"):
        far = _load_points(tmp_path / "p.toml", space)
    assert far["far"][0] == pytest.approx(5.0)  # still predicted, with the warning


@pytest.mark.parametrize(
    "space,message",
    [
        # a misspelt group varied all 15 parameters of the builtin space instead of 5
        ('builtin = "peo_litfsi"\ngrup = "anion"', "unknown keys ['grup']; allowed: ['builtin'"),
        # bounds given beside builtin were dropped without a word
        (
            'builtin = "peo_litfsi"\ngroup = "anion"\n[space.parameters]\n'
            "r_ani = {lower = 2, upper = 4}",
            "a builtin space's bounds cannot be changed",
        ),
        ("fixd = {x9 = 1}\n[space.parameters]\nx0 = {lower = 0, upper = 1}", "['fixd']"),
    ],
)
def test_space_keys_that_would_be_ignored_are_refused(tmp_path, space, message):
    path = tmp_path / "c.toml"
    text = CONFIG.format(seed=0, batch=1, budget=2, evaluator=SYNTHETIC, objective="value").replace(
        "[space.parameters]\nx0 = {lower = 0, upper = 1, reference = 0.2}\n", ""
    )
    path.write_text(text.replace("x1 = {lower = 0, upper = 1}\n", f"[space]\n{space}\n"))
    result = run(path, "--no-progress")
    assert result.exit_code == 2, result.output
    assert "c.toml [space]: unknown keys" in result.output and message in result.output
    assert not (tmp_path / "syn.campaign").exists()


@pytest.mark.parametrize(
    "setting,message",
    [
        ('n_prod = "400"', "n_prod must be a whole number, got '400' (str); e.g. n_prod = 500000"),
        ("n_prod = 400.5", "n_prod must be a whole number, got 400.5 (float)"),  # it ran
        ("backend = 1", 'backend must be a string, got 1 (int); e.g. backend = "ase"'),
        (
            "diffusive_range = 1.0",
            "diffusive_range must be a list, got 1.0 (float); e.g. diffusive_range = [0.85, 1.15]",
        ),
    ],
)
def test_cgmd_setting_of_the_wrong_type_is_one_line(tmp_path, setting, message):
    """n_prod = "400" was a TypeError traceback; n_prod = 400.5 was accepted."""
    text = CONFIG.format(seed=0, batch=1, budget=2, evaluator="cgmd", objective="sigma_li")
    path = tmp_path / "c.toml"
    path.write_text(text.replace('function = "sum"', setting))
    result = run(path, "--no-progress")
    assert result.exit_code == 2, result.output
    assert f"[simulation]: {message}" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "syn.campaign").exists()


def test_cgmd_space_names_the_model_would_ignore_are_refused(tmp_path):
    """r_anion (for r_ani) was optimised while every simulation used the default radius."""
    text = CONFIG.format(seed=0, batch=1, budget=2, evaluator="cgmd", objective="sigma_li")
    text = text.replace(
        "x0 = {lower = 0, upper = 1, reference = 0.2}", "r_anion = {lower = 2, upper = 4}"
    )
    text = text.replace("x1 = {lower = 0,", "c_salt = {lower = 0.02,").replace(
        'function = "sum"', ""
    )
    path = tmp_path / "c.toml"
    path.write_text(text)
    # checked when the config is read (no simulation runs, even on code without the check)
    with pytest.raises(ParameterError, match=r"\['r_anion'\] are not parameters of the CG-MD"):
        CampaignConfig.from_file(path)
    path.write_text(text.replace("r_anion", "r_ani"))
    assert CampaignConfig.from_file(path).space.names == ["r_ani", "c_salt"]
