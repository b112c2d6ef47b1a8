"""What a CGCNN learned (thesis ch. 3): element maps, local environments, site energies.

- :mod:`.representations`: element vectors, per-layer atom vectors, site values
  ``E_i`` and crystal embeddings as an ``xarray.Dataset``;
- :mod:`.elements`: PCA maps and linear probes of the element vectors;
- :mod:`.environments`: CrystalNN coordination, t-SNE maps, projection of new atoms;
- :mod:`.sites`: A/B sites of perovskites, site-energy tables, environment energies;
- :mod:`.search`: the ABX3 combinatorial search (ch. 3.3.2);
- :mod:`.explain`: all of it for one model and dataset (``asegraph explain``).
"""

from asegraph.analysis.interpret.elements import element_pca, element_probes
from asegraph.analysis.interpret.environments import coordination, environment_map, project
from asegraph.analysis.interpret.explain import explain
from asegraph.analysis.interpret.representations import (
    element_vectors,
    representations,
    site_values,
)
from asegraph.analysis.interpret.search import perovskite_search
from asegraph.analysis.interpret.sites import perovskite_sites

__all__ = [
    "coordination",
    "element_pca",
    "element_probes",
    "element_vectors",
    "environment_map",
    "explain",
    "perovskite_search",
    "perovskite_sites",
    "project",
    "representations",
    "site_values",
]
