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
