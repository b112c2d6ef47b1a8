"""Training workflows: what ``asegraph train``, ``evaluate``, ``learning-curve`` and ``tune`` run.

Each command line parses its options into the objects below and calls one
function of this package, so every workflow can also be run from Python::

    from asegraph.workflows import DataSource, train_to_file
    from asegraph.models import CGCNNConfig
    from asegraph.training import TrainingConfig

    source = DataSource("perov.csv", targets=["heat_ref / 5"])
    metrics = train_to_file(source, "perov.pt", CGCNNConfig(units=["eV/atom"]),
                            TrainingConfig(max_time_s=900))

Modules: :mod:`~asegraph.workflows.data` (``DataSource``: a labelled dataset
on disk), :mod:`~asegraph.workflows.train` (``train_to_file``,
``train_ensemble``, ``fit_model``) and :mod:`~asegraph.workflows.evaluate`
(``evaluate_to_folder``, ``learning_curve``, ``grid_search``); every name is
exported here (lazily, so ``import asegraph.workflows`` is cheap).

Functions take a ``report`` callable for the lines a user should see while
they run (skipped entries, ensemble members, learning-curve sizes); the
default prints nothing.
"""

from __future__ import annotations

from asegraph._utils.lazy import lazy_exports

_EXPORTS = {
    "DataSource": "asegraph.workflows.data",
    "evaluate_to_folder": "asegraph.workflows.evaluate",
    "fit_model": "asegraph.workflows.train",
    "grid_search": "asegraph.workflows.evaluate",
    "learning_curve": "asegraph.workflows.evaluate",
    "train_ensemble": "asegraph.workflows.train",
    "train_to_file": "asegraph.workflows.train",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
