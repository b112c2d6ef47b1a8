"""Global VAMPnet baseline (thesis ch. 4.3): deeptime's ``VAMPNet`` on coordinates.

The thesis compares GDyNet's *local* model with a standard VAMPnet whose
fully connected lobe reads the flattened coordinates of the whole system. With
several independent target groups, each group gets its own trajectory of
inputs: the wrapped Cartesian coordinates of its own atoms followed by those
of all non-target atoms (the same frames GDyNet sees). The lobe ends in a
softmax over ``K`` states and is trained with deeptime's VAMP-2 (``K - 1``
columns are not needed here: deeptime's ``VAMPNet`` handles the scoring, and
the regularised mode keeps ``eigh`` finite). Its outputs go through the same
membership map and Koopman analysis as GDyNet's, for a side-by-side comparison.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from asegraph.analysis.dynamics.koopman import KoopmanResult, koopman_analysis, membership_map


def global_features(
    universe, targets: np.ndarray, group_index: np.ndarray, start=None, stop=None, step=None
) -> np.ndarray:
    """Wrapped coordinates per target group: ndarray float32 [F, n, 3 (atoms of group + others)].

    All groups must have the same number of atoms.
    """
    others = np.setdiff1d(np.arange(universe.atoms.n_atoms), targets)
    groups = [targets[group_index == g] for g in range(int(group_index.max()) + 1)]
    frames = []
    for _ in universe.trajectory[start:stop:step]:
        positions = universe.atoms.wrap(inplace=False)  # [N, 3], Å, inside the box
        rest = positions[others].ravel()
        frames.append(np.stack([np.concatenate([positions[g].ravel(), rest]) for g in groups]))
    return np.asarray(frames, dtype=np.float32)


def global_vampnet(
    features: np.ndarray,
    lag: int,
    blocks: list[range],
    n_states: int = 2,
    hidden: tuple[int, ...] = (64, 32),
    n_epochs: int = 20,
    batch_size: int = 512,
    learning_rate: float = 1e-3,
    patience: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Train deeptime's ``VAMPNet`` on the training block; memberships of all frames.

    Parameters
    ----------
    features : ndarray, shape (F, n, D)
    lag : int, frames
    blocks : Blocks
        Train, validation, test frames (one trajectory: one range each).

    Returns
    -------
    memberships : ndarray, shape (F, n, K)
    validation_scores : ndarray
        VAMP-2 score on the validation block per epoch (the best epoch's lobe is kept,
        training stops after ``patience`` epochs without improvement).
    """
    from deeptime.decomposition.deep import VAMPNet
    from deeptime.util.data import TrajectoryDataset
    from torch.utils.data import ConcatDataset, DataLoader

    train, validation = blocks.train[0], blocks.validation[0]
    mean = features[train.start : train.stop].reshape(-1, features.shape[2]).mean(axis=0)
    std = features[train.start : train.stop].reshape(-1, features.shape[2]).std(axis=0) + 1e-6
    scaled = (features - mean) / std

    def dataset(block: range):
        return ConcatDataset(
            [
                TrajectoryDataset(lag, np.ascontiguousarray(scaled[block.start : block.stop, j]))
                for j in range(features.shape[1])
            ]
        )

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: list[nn.Module] = [nn.BatchNorm1d(features.shape[2])]
        width = features.shape[2]
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ELU()]
            width = size
        lobe = nn.Sequential(*layers, nn.Linear(width, n_states), nn.Softmax(dim=1))
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(
        dataset(train), batch_size=batch_size, shuffle=True, generator=generator
    )
    validation_loader = DataLoader(dataset(validation), batch_size=len(dataset(validation)))
    vampnet = VAMPNet(lobe=lobe, learning_rate=learning_rate)
    best, best_state, scores = -np.inf, None, []
    for _ in range(n_epochs):  # early stopping on the validation VAMP-2 (keeps the best lobe)
        vampnet.fit(train_loader, n_epochs=1, validation_loader=validation_loader)
        scores.append(float(vampnet.validation_scores[-1, 1]))
        if scores[-1] > best:
            best = scores[-1]
            best_state = {k: v.clone() for k, v in lobe.state_dict().items()}
        elif len(scores) - 1 - int(np.argmax(scores)) >= patience:
            break
    lobe.load_state_dict(best_state)
    model = vampnet.fetch_model()
    chi = np.stack([model.transform(scaled[:, j]) for j in range(features.shape[1])], axis=1)
    fitted = chi[train.start : validation.stop].reshape(-1, n_states)
    memberships = chi @ membership_map(fitted)
    return memberships, np.asarray(scores)


def compare_local_global(
    gdynet_memberships: np.ndarray,
    global_memberships: np.ndarray,
    test: range,
    lag: int,
    **analysis_kwargs,
) -> dict[str, KoopmanResult]:
    """Koopman analyses of both models on the same test frames."""
    return {
        "gdynet": koopman_analysis(
            gdynet_memberships[test.start : test.stop], lag, **analysis_kwargs
        ),
        "global_vampnet": koopman_analysis(
            global_memberships[test.start : test.stop], lag, **analysis_kwargs
        ),
    }
