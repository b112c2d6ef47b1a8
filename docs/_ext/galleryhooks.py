"""sphinx-gallery hooks, importable by name so the Sphinx configuration stays picklable."""

from __future__ import annotations

import sys


def reset_threads(gallery_conf, fname):
    """Before each tutorial: one torch thread (two shared cores; small graphs train
    fastest on one). torch is only touched when a tutorial already imported it."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
