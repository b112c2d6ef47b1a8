"""GDyNet: graph dynamical networks for the Koopman analysis of MD trajectories (thesis ch. 4).

Modules: ``trajectory`` (readers), ``graphs`` (streamed neighbour lists),
``model`` (GDyNet), ``training`` (VAMP-2 fit), ``koopman`` (deeptime analysis),
``io`` (netCDF and figures), ``analysis`` (:class:`GDyNetAnalysis`),
``compare`` (global VAMPnet baseline).
"""

from __future__ import annotations

__all__ = ["GDyNetAnalysis"]


def __getattr__(name: str):
    if name == "GDyNetAnalysis":
        from asegraph.analysis.dynamics.analysis import GDyNetAnalysis

        return GDyNetAnalysis
    raise AttributeError(name)
