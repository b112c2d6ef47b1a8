"""Figures: parity plots, ROC curves and learning curves (matplotlib ``Figure``, no pyplot)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asegraph._utils.figures import new_figure, save_figure


def parity_plot(
    target: np.ndarray,
    predicted: np.ndarray,
    path: str | Path,
    label: str = "",
    unit: str = "",
    reference_label: str | None = None,
) -> Path:
    """Predicted vs reference scatter with the identity line and MAE, as a PNG.

    ``label`` names the predicted quantity; ``reference_label`` (default
    ``label``) the reference, when the data name it otherwise.
    """
    fig, ax = new_figure(figsize=(4.5, 4.5))
    ax.scatter(target, predicted, s=6, alpha=0.5, edgecolors="none")
    low, high = float(min(target.min(), predicted.min())), float(max(target.max(), predicted.max()))
    ax.plot([low, high], [low, high], "k--", lw=1)
    mae = float(np.abs(predicted - target).mean())
    suffix = f" ({unit})" if unit else ""
    ax.set_xlabel(f"reference {label if reference_label is None else reference_label}{suffix}")
    ax.set_ylabel(f"predicted {label}{suffix}")
    ax.set_title(f"MAE {mae:.4g}{' ' + unit if unit else ''}, n = {len(target)}")
    ax.set_aspect("equal")
    return save_figure(fig, path, dpi=150, bbox_inches="tight")


def roc_plot(labels: np.ndarray, scores: np.ndarray, path: str | Path) -> Path:
    """ROC curve of a binary classifier (thesis Fig. 2-2d), as a PNG."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(labels, scores)
    fig, ax = new_figure(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, lw=2, label=f"AUC = {roc_auc_score(labels, scores):.3f}")
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right")
    return save_figure(fig, path, dpi=150, bbox_inches="tight")


def learning_curve_plot(
    sizes: np.ndarray, errors: np.ndarray, path: str | Path, unit: str = ""
) -> Path:
    """Test MAE vs number of training structures on log-log axes (thesis Fig. 3-2)."""
    fig, ax = new_figure(figsize=(5, 4))
    ax.loglog(sizes, errors, "o-")
    slope = np.polyfit(np.log(sizes), np.log(errors), 1)[0] if len(sizes) > 1 else np.nan
    ax.set_xlabel("training structures")
    ax.set_ylabel(f"test MAE{' (' + unit + ')' if unit else ''}")
    ax.set_title(f"log-log slope {slope:.2f}")
    ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, path, dpi=150, bbox_inches="tight")
