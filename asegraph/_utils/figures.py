"""Matplotlib figures without pyplot: no backend switch, no global figure registry.

Library code must not call ``matplotlib.use`` (it would change a notebook
user's backend) nor keep figures in pyplot's registry (they would leak).
``new_figure`` builds a :class:`matplotlib.figure.Figure` directly; saving it
needs no backend selection because ``Figure.savefig`` uses the Agg canvas for
raster formats.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asegraph._utils.files import atomic_write_bytes

__all__ = ["new_figure", "save_figure"]


def new_figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (5, 4), **kwargs):
    """A new ``Figure`` and its axes, like ``pyplot.subplots`` but without pyplot.

    Returns
    -------
    (Figure, Axes or ndarray of Axes)
        ``kwargs`` go to ``Figure.subplots`` (e.g. ``squeeze=False``, ``sharex=True``).
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    return figure, figure.subplots(nrows, ncols, **kwargs)


def save_figure(figure, path: str | Path, dpi: int = 150, **kwargs: Any) -> Path:
    """Save ``figure`` to ``path`` atomically; the format follows the suffix (default PNG).

    ``kwargs`` go to ``Figure.savefig`` (e.g. ``bbox_inches="tight"``).
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    return atomic_write_bytes(
        path, lambda handle: figure.savefig(handle, format=fmt, dpi=dpi, **kwargs)
    )
