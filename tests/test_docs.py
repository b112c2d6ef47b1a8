"""The documentation builds without warnings: API and CLI reference, concepts, tutorials' text.

The tutorials are not executed here (``ASEGRAPH_DOCS_PLOT=0``); ``.ci/run`` builds the full
site after the tests. This catches, at test time, the usual way the docs break: a
docstring that is not valid reStructuredText/numpydoc, or a page that links nowhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GENERATED = ("_build", "api", "cli.rst", "auto_tutorials", "sg_execution_times.rst")


def _docs_tools() -> None:
    for module in ("sphinx", "furo", "numpydoc", "sphinx_gallery", "myst_parser"):
        pytest.importorskip(module, reason='the docs extra: pip install -e ".[docs]"')


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    _docs_tools()
    # a copy: a build without the tutorials' outputs must not overwrite a real one
    source = tmp_path / "docs"
    shutil.copytree(REPO / "docs", source, ignore=shutil.ignore_patterns(*GENERATED))
    for name in ("pyproject.toml", "CHANGELOG.md", "CITATION.cff"):
        shutil.copy(REPO / name, tmp_path / name)
    env = {
        **os.environ,
        "ASEGRAPH_DOCS_PLOT": "0",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    out = tmp_path / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", source, out],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    # every public module has a page, and the generated pages name real objects
    api = (out / "api" / "asegraph.calculators.html").read_text()
    assert "CGCNNCalculator" in api
    assert "asegraph-dynamics" in (out / "cli.html").read_text()
    assert (out / "auto_tutorials" / "index.html").is_file()
    # summaries are not cut at the thesis' abbreviations ("of Eq. 2.10 and its three terms")
    physics = (out / "api" / "asegraph.analysis.screening.physics.html").read_text()
    assert "of Eq. 2.10 and its three terms" in physics
    assert "Eq. 2.10 split into its terms" in physics  # a summary that starts with "Eq."
    assert "change sign (Fig. 2-7" in physics


def test_api_pages_cover_every_public_name():
    """apigen's rules: ``__all__`` first, else public classes and functions defined there."""
    sys.path.insert(0, str(REPO / "docs" / "_ext"))
    try:
        import apigen
    finally:
        sys.path.remove(str(REPO / "docs" / "_ext"))
    modules = apigen.module_names()
    assert "asegraph.graph.crystal_graph" in modules
    assert not [m for m in modules if m.startswith("asegraph.cli") or "._" in m]
    documented = set(modules)
    page = apigen.module_page("asegraph.calculators", documented)
    # a lazy re-export links to the defining module instead of documenting it twice
    assert "~asegraph.calculators.cgcnn.CGCNNCalculator" in page
    assert ".. autoclass:: asegraph.calculators.CGCNNCalculator" not in page
    page = apigen.module_page("asegraph.graph.crystal_graph", documented)
    assert ".. autofunction:: asegraph.graph.crystal_graph.build_graph" in page


def test_licence_agrees_across_project_files():
    """LICENSE, pyproject.toml (what the wheel ships) and CITATION.cff name one licence and
    one holder."""
    import yaml

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    licence = (REPO / "LICENSE").read_text()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert licence.startswith("MIT License")
    assert project["license"] == citation["license"] == "MIT"
    assert "LICENSE" in project["license-files"]
    holder = citation["authors"][0]["name"]
    assert project["authors"][0]["name"] == holder
    assert f"Copyright (c) 2026 {holder}" in licence


def test_docstrings_parse_as_numpydoc_without_warnings():
    """numpydoc warns (it does not fail) on unknown sections such as "Results", so the
    docs build passes while the section is dropped from the rendered page; every public
    class and function must parse cleanly."""
    numpydoc = pytest.importorskip(
        "numpydoc.docscrape", reason='the docs extra: pip install -e ".[docs]"'
    )
    import importlib
    import inspect
    import warnings

    sys.path.insert(0, str(REPO / "docs" / "_ext"))
    try:
        import apigen
    finally:
        sys.path.remove(str(REPO / "docs" / "_ext"))
    problems = []
    for modname in apigen.module_names():
        module = importlib.import_module(modname)
        for name in apigen.public_names(module):
            obj = getattr(module, name)
            if getattr(obj, "__module__", None) != modname:
                continue  # documented in its own module
            parse = numpydoc.ClassDoc if inspect.isclass(obj) else numpydoc.FunctionDoc
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                parse(obj)
            problems += [f"{modname}.{name}: {w.message}" for w in caught]
    assert not problems, "\n".join(problems)
