"""Figures of the interpretation (thesis Fig. 3-3 to 3-11), built without pyplot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from asegraph._utils.figures import new_figure, save_figure


def _table_position(symbol: str) -> tuple[int, int]:
    """(row, column) of an element in the usual periodic-table drawing (f block below)."""
    from pymatgen.core.periodic_table import Element

    element = Element(symbol)
    if 57 <= element.Z <= 71:
        return 8, element.Z - 57 + 3
    if 89 <= element.Z <= 103:
        return 9, element.Z - 89 + 3
    return element.row, element.group


def periodic_table(values: dict[str, float], path: str | Path, title: str, label: str) -> Path:
    """A periodic-table heat map of ``{symbol: value}`` (Fig. 3-4); grey: no data."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle
    from pymatgen.core.periodic_table import Element

    figure, ax = new_figure(figsize=(11, 6))
    finite = [v for v in values.values() if np.isfinite(v)]
    norm = Normalize(min(finite), max(finite)) if finite else Normalize(0, 1)
    cmap = colormaps["coolwarm"]
    for z in range(1, 104):
        symbol = Element.from_Z(z).symbol
        row, column = _table_position(symbol)
        value = values.get(symbol)
        colour = cmap(norm(value)) if value is not None and np.isfinite(value) else "0.92"
        ax.add_patch(Rectangle((column - 0.5, row - 0.5), 0.95, 0.95, color=colour))
        ax.text(column - 0.03, row, symbol, ha="center", va="center", fontsize=8)
    ax.set_xlim(0.3, 18.7)
    ax.set_ylim(9.7, 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)
    figure.colorbar(ScalarMappable(norm, cmap), ax=ax, fraction=0.025, label=label)
    return save_figure(figure, path, bbox_inches="tight")


def element_map(
    coords: np.ndarray,
    symbols: Sequence[str],
    explained: np.ndarray,
    path: str | Path,
    title: str = "element representations v^(0)",
) -> Path:
    """PCA map of element vectors coloured by group, with an atomic-radius inset (Fig. 3-3b)."""
    from matplotlib import colormaps

    from asegraph.analysis.interpret.elements import element_properties

    props = element_properties(symbols)
    figure, ax = new_figure(figsize=(7, 6))
    cmap = colormaps["tab20"]
    for k, symbol in enumerate(symbols):
        colour = cmap((props["group"][k] - 1) / 17)
        ax.scatter(coords[k, 0], coords[k, 1], color=colour, s=90, edgecolor="k", lw=0.4)
        ax.annotate(symbol, coords[k], ha="center", va="center", fontsize=7)
    ax.set_xlabel(f"PC 1 ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({explained[1]:.0%} of variance)")
    ax.set_title(f"{title}; colour: group")
    inset = ax.inset_axes([0.72, 0.04, 0.26, 0.26])
    radius = props["radius"]
    ok = np.isfinite(radius)
    inset.scatter(
        coords[ok, 1], radius[ok], s=8, c=[cmap((g - 1) / 17) for g in props["group"][ok]]
    )
    inset.set_xlabel("PC 2", fontsize=7)
    inset.set_ylabel("atomic radius (Å)", fontsize=7)
    inset.tick_params(labelsize=6)
    return save_figure(figure, path, bbox_inches="tight")


def probe_bars(probes: dict[str, dict[str, float]], path: str | Path) -> Path:
    """Probe accuracy, learned vs random vectors (Fig. 3-3c)."""
    figure, ax = new_figure(figsize=(6, 4))
    names = list(probes)
    x = np.arange(len(names))
    learned = [probes[n]["learned"] for n in names]
    random = [probes[n]["random"] for n in names]
    spread = [probes[n]["random_std"] for n in names]
    ax.bar(x - 0.2, learned, 0.4, label="learned")
    ax.bar(x + 0.2, random, 0.4, yerr=spread, label="random (20 draws)", color="0.6")
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("3-fold CV accuracy")
    ax.legend()
    return save_figure(figure, path, bbox_inches="tight")


def environment_maps(
    coords: np.ndarray,
    colours: dict[str, np.ndarray],
    path: str | Path,
    title: str,
    projected: np.ndarray | None = None,
) -> Path:
    """t-SNE map coloured by each of ``colours`` (Fig. 3-5, 3-9); projected points in black."""
    panels = [(name, values) for name, values in colours.items() if values is not None]
    figure, axes = new_figure(1, len(panels), figsize=(4.6 * len(panels), 4.2), squeeze=False)
    for ax, (name, values) in zip(axes[0], panels):
        points = ax.scatter(coords[:, 0], coords[:, 1], c=values, s=6, cmap="viridis")
        figure.colorbar(points, ax=ax, label=name)
        if projected is not None and len(projected):
            ax.scatter(projected[:, 0], projected[:, 1], s=14, c="k", marker="x", label="new")
            ax.legend(loc="best", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle(title)
    return save_figure(figure, path, bbox_inches="tight")


def anion_environments(
    energies: dict[tuple[str, str], dict[str, float]], anions: Sequence[str], path: str | Path
) -> Path:
    """Mean ``E_i`` of centres coordinated by each anion vs the centre's Z (Fig. 3-10)."""
    from pymatgen.core.periodic_table import Element

    figure, axes = new_figure(len(anions), 1, figsize=(8, 3 * len(anions)), squeeze=False)
    for ax, anion in zip(axes[:, 0], anions):
        rows = sorted((Element(c).Z, c, e["mean"]) for (c, n), e in energies.items() if n == anion)
        if not rows:
            continue
        z, symbols, mean = zip(*rows)
        ax.plot(z, mean, "o-", ms=4)
        for zi, s, m in rows:
            ax.annotate(s, (zi, m), fontsize=6, xytext=(0, 4), textcoords="offset points")
        ax.set_ylabel(f"E_i of {anion} environments")
        twin = ax.twinx()
        chi = [Element(s).X for s in symbols]
        twin.plot(z, chi, ":", color="tab:blue", lw=1)
        twin.set_ylabel("electronegativity", color="tab:blue")
    axes[-1, 0].set_xlabel("atomic number of the centre atom")
    return save_figure(figure, path, bbox_inches="tight")


def pair_matrix(
    energies: dict[tuple[str, str], dict[str, float]], path: str | Path, label: str
) -> Path:
    """Mean ``E_i`` per (centre, neighbour) element pair (Fig. 3-11)."""
    from pymatgen.core.periodic_table import Element

    elements = sorted({e for pair in energies for e in pair}, key=lambda s: Element(s).Z)
    index = {s: k for k, s in enumerate(elements)}
    matrix = np.full((len(elements), len(elements)), np.nan)
    for (centre, neighbour), entry in energies.items():
        matrix[index[centre], index[neighbour]] = entry["mean"]
    size = max(5.0, 0.16 * len(elements))
    figure, ax = new_figure(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="coolwarm", origin="lower")
    ax.set_xticks(range(len(elements)), elements, fontsize=5, rotation=90)
    ax.set_yticks(range(len(elements)), elements, fontsize=5)
    ax.set_xlabel("neighbour element")
    ax.set_ylabel("centre element")
    figure.colorbar(image, ax=ax, label=label, fraction=0.04)
    return save_figure(figure, path, bbox_inches="tight")
