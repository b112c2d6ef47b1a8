"""Figures of a screening (thesis Figs. 2-4, 2-6, 2-7), built on ``matplotlib.figure.Figure``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from asegraph.analysis.screening.physics import (
    LithiumAnode,
    critical_shear_ratio,
)


def screening_figures(dataset: Any, prefix: str | Path) -> list[Path]:
    """Write the screening figures as ``<prefix>_fig2-*.png``; returns the paths written.

    Fig. 2-4 needs at least one ranked structure; the others are drawn from
    whatever the screening holds (empty axes say so).
    """
    prefix = Path(prefix)
    anode = LithiumAnode(
        shear_modulus_GPa=float(dataset.attrs["G_Li_GPa"]),
        poisson_ratio=float(dataset.attrs["nu_Li"]),
        molar_volume_m3_per_mol=float(dataset.attrs["V_M_m3_per_mol"]),
        surface_tension_J_per_m2=float(dataset.attrs["gamma_J_per_m2"]),
        valence=int(dataset.attrs["z"]),
    )
    written = []
    ranked = np.flatnonzero(
        (dataset["error"].values == "") & np.isfinite(dataset["chi_low"].values)
    )
    if ranked.size:
        written.append(terms_figure(dataset, int(ranked[0]), f"{prefix}_fig2-4_terms.png"))
    written.append(histogram_figure(dataset, f"{prefix}_fig2-6_histograms.png"))
    written.append(stability_diagram(dataset, anode, f"{prefix}_fig2-7_stability_diagram.png"))
    return written


def terms_figure(dataset: Any, index: int, path: str | Path) -> Path:
    """Fig. 2-4: the three terms of χ and their sum vs k, and the surface-tension share."""
    from matplotlib.figure import Figure

    k = dataset["k"].values
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    styles = {
        "hydrostatic": ("C0", "hydrostatic stress"),
        "deviatoric": ("C2", "deviatoric stress"),
        "surface": ("C1", "surface tension"),
        "total": ("k", "χ (total)"),
    }
    values = {}
    for name, (color, label) in styles.items():
        values[name] = dataset[f"chi_{name}"].values[:, index]
        ax.plot(k, values[name], color=color, label=label, lw=2 if name == "total" else 1.3)
    ax.axhline(0, color="grey", lw=0.6)
    lam = float(dataset["lambda_crit"].values[index])
    if np.isfinite(lam):
        ax.axvline(2 * np.pi / (lam * 1e-9), color="grey", ls="--", lw=0.8)
        ax.annotate("k_crit", (2 * np.pi / (lam * 1e-9), ax.get_ylim()[1]), fontsize=8, va="top")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("surface roughness wavenumber k (1/m)")
    ax.set_ylabel("contribution to χ (kJ/(mol·nm))")
    share = np.abs(values["surface"]) / (
        np.abs(values["surface"]) + np.abs(values["deviatoric"]) + np.abs(values["hydrostatic"])
    )
    twin = ax.twinx()
    twin.plot(k, share, color="red", lw=1.2)
    twin.set_ylim(0, 1)
    twin.set_ylabel("surface-tension share", color="red")
    g = float(dataset["shear_modulus"].values[index])
    title = (
        f"{dataset['structure'].values[index]} {dataset['formula'].values[index]}: "
        f"G/G_Li = {g / float(dataset.attrs['G_Li_GPa']):.3g}, "
        f"ν = {float(dataset['poisson_ratio'].values[index]):.2f}, "
        f"v = {float(dataset['molar_volume_ratio'].values[index]):.3f}"
    )
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    return _save(fig, path)


def histogram_figure(dataset: Any, path: str | Path) -> Path:
    """Fig. 2-6: distributions of the ensemble-mean χ at k_low and of λ_crit."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.4))
    ax_chi, ax_lam = fig.subplots(1, 2)
    ranked = dataset["error"].values == ""
    chi = dataset["chi_low"].values[ranked]
    lam = dataset["lambda_crit"].values[ranked]
    chi, finite_lam = chi[np.isfinite(chi)], lam[np.isfinite(lam)]
    ax_chi.hist(chi, bins=30, color="C0")
    ax_chi.axvline(0, color="grey", lw=0.8)
    ax_chi.set_xlabel(f"χ at k = {float(dataset.attrs['k_low_per_m']):.0e} 1/m (kJ/(mol·nm))")
    ax_chi.set_ylabel("materials")
    ax_lam.hist(finite_lam, bins=30, color="C1")
    ax_lam.set_xlabel("critical wavelength λ_crit (nm)")
    n_inf = int(np.isinf(lam).sum())
    ax_lam.set_title(f"{n_inf} stabilised by stress alone (no λ_crit)", fontsize=8)
    fig.suptitle(f"{ranked.sum()} ranked materials", fontsize=9)
    return _save(fig, path)


def stability_diagram(dataset: Any, anode: LithiumAnode, path: str | Path) -> Path:
    """Fig. 2-7: G/G_Li vs v with the critical lines for ν = 0.33 and 0.5, and the materials."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6, 4.4))
    ax = fig.add_subplot()
    v = np.linspace(0.001, 0.999, 400)
    for nu, style in ((0.33, "-"), (0.5, "--")):
        ax.plot(
            v,
            critical_shear_ratio(v, nu, anode),
            "k",
            ls=style,
            lw=1.2,
            label=f"critical, ν = {nu}",
        )
    ok = np.isfinite(dataset["shear_modulus"].values) & np.isfinite(
        dataset["molar_volume_ratio"].values
    )
    ratio = dataset["shear_modulus"].values[ok] / anode.shear_modulus_GPa
    points = ax.scatter(
        dataset["molar_volume_ratio"].values[ok],
        ratio,
        c=dataset["poisson_ratio"].values[ok],
        s=12,
        cmap="viridis",
        label=f"screened ({ok.sum()})",
    )
    fig.colorbar(points, ax=ax, label="Poisson ratio ν")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 1e4)
    ax.set_xlim(
        0, max(1.0, float(np.nanmax(dataset["molar_volume_ratio"].values[ok])) if ok.any() else 1.0)
    )
    ax.text(0.05, 3e3, "unstable", fontsize=10)
    ax.text(0.05, 3e-4, "stable", fontsize=10)
    ax.set_xlabel("molar volume ratio v = V_Li+ / V_Li")
    ax.set_ylabel("G / G_Li")
    ax.legend(fontsize=8, loc="center right")
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    from asegraph._utils.figures import save_figure

    return save_figure(fig, path, bbox_inches="tight")


def tsne_figure(
    model: Any,
    training: list,
    screened: list,
    path: str | Path,
    n_max: int = 500,
    seed: int = 0,
) -> Path:
    """Fig. 2-5: t-SNE of the crystal embeddings of training vs screened structures.

    Parameters
    ----------
    model : CGCNN or Ensemble
        Pool-readout model whose last hidden layer is the latent space (the
        first member of an ensemble).
    training, screened : list of ase.Atoms
        Up to ``n_max`` of each are drawn at random (thesis: 500 and 500).
    path : path
        PNG to write.
    seed : int
        Seed of the subsampling and of t-SNE.
    """
    from matplotlib.figure import Figure
    from sklearn.manifold import TSNE

    from asegraph.models import model_graphs, predict_graphs

    net = model.members[0] if hasattr(model, "members") else model
    rng = np.random.default_rng(seed)
    clouds = []
    for structures in (training, screened):
        pick = rng.choice(len(structures), size=min(n_max, len(structures)), replace=False)
        graphs = model_graphs(net, [structures[i] for i in np.sort(pick)], errors="return")
        graphs = [g for g in graphs if not isinstance(g, Exception)]
        out = predict_graphs(net, graphs, extra=("crystal_embeddings",))
        clouds.append(out.get("crystal_embeddings", np.zeros((0, 1))))
    points = np.vstack(clouds)
    if len(points) < 5:
        raise ValueError(f"t-SNE needs at least 5 embedded structures, got {len(points)}")
    perplexity = min(30.0, (len(points) - 1) / 3)
    xy = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)
    fig = Figure(figsize=(5, 4.4))
    ax = fig.add_subplot()
    n_train = len(clouds[0])
    ax.scatter(*xy[:n_train].T, s=6, c="C0", label=f"training ({n_train})")
    ax.scatter(*xy[n_train:].T, s=6, c="C3", label=f"screened ({len(clouds[1])})")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8)
    ax.set_title("t-SNE of CGCNN crystal embeddings", fontsize=9)
    return _save(fig, path)
