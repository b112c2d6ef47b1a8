"""Bayesian optimisation over coarse-grained MD of polymer electrolytes (thesis ch. 5).

Modules (imported on demand; nothing heavy is imported here):

- :mod:`~asegraph.optimize.space` — design spaces, unit-cube transforms, PEO-LiTFSI reference;
- :mod:`~asegraph.optimize.surrogate` — GP with Matérn-5/2 ARD kernel (gpytorch/BoTorch);
- :mod:`~asegraph.optimize.acquisition` — log-EI, UCB, local penalization, qLogNEI, baselines;
- :mod:`~asegraph.optimize.campaign` / :mod:`~asegraph.optimize.store` — persistent campaigns;
- :mod:`~asegraph.optimize.report` — figures and summary;
- :mod:`~asegraph.optimize.transport` — σ, t_Li, σ_Li (Onsager and Nernst–Einstein);
- :mod:`~asegraph.optimize.cgmd` — CG model as ``ase.Atoms``, force field, MD backends.
"""

from __future__ import annotations

from asegraph._utils.lazy import lazy_exports

_EXPORTS = {
    "Campaign": "asegraph.optimize.campaign",
    "CampaignConfig": "asegraph.optimize.campaign",
    "load_campaign": "asegraph.optimize.campaign",
    "DesignSpace": "asegraph.optimize.space",
    "Parameter": "asegraph.optimize.space",
    "GPSurrogate": "asegraph.optimize.surrogate",
    "propose": "asegraph.optimize.acquisition",
    "make_report": "asegraph.optimize.report",
    "onsager_transport": "asegraph.optimize.transport",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
