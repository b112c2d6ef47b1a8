"""Figures are built without pyplot and never switch the user's backend."""

from __future__ import annotations

import subprocess
import sys

import numpy as np


def test_library_figures_leave_the_backend_and_pyplot_alone(tmp_path):
    # in a fresh interpreter: a notebook user's backend must survive our plots
    script = f"""
import sys, matplotlib
matplotlib.use("svg")
import numpy as np
from asegraph.plots import parity_plot
path = parity_plot(np.arange(5.0), np.arange(5.0) + 0.1, r"{tmp_path / "p.png"}", "e", "eV")
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert "matplotlib.pyplot" not in sys.modules
print(open(path, "rb").read(8) == b"\\x89PNG\\r\\n\\x1a\\n")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_save_figure_follows_the_suffix(tmp_path):
    from asegraph._utils.figures import new_figure, save_figure

    fig, ax = new_figure(figsize=(2, 2))
    ax.plot(np.arange(3))
    assert save_figure(fig, tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")
