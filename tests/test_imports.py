"""One import per concept: every subpackage exports its names lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = [
    "asegraph.graph",
    "asegraph.models",
    "asegraph.data",
    "asegraph.calculators",
    "asegraph.optimize",
    "asegraph.analysis.dynamics",
    "asegraph.workflows",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_resolves(package):
    module = importlib.import_module(package)
    assert module.__all__
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


def test_importing_the_packages_stays_light():
    code = (
        "import sys; import " + ", ".join(PACKAGES) + "; "
        "print(sorted(m for m in ('torch', 'pymatgen', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_readme_imports():
    from asegraph.analysis.dynamics import GDyNetAnalysis
    from asegraph.data import load_dataset
    from asegraph.graph import build_graph, build_graphs
    from asegraph.models import CGCNN, CGCNNConfig, Ensemble, load, load_pretrained, save
    from asegraph.training import Trainer

    assert load_dataset.__name__ == "load_graph_dataset"
    assert all(callable(x) for x in (build_graph, build_graphs, load, save, load_pretrained))
    assert all(isinstance(x, type) for x in (CGCNN, CGCNNConfig, Ensemble, Trainer, GDyNetAnalysis))
