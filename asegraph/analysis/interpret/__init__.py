"""What a CGCNN learned (thesis ch. 3): element maps, local environments, site energies.

- :mod:`.representations`: element vectors, per-layer atom vectors, site values
  ``E_i`` and crystal embeddings as an ``xarray.Dataset``.
"""

from asegraph.analysis.interpret.representations import (
    element_vectors,
    representations,
    site_values,
)

__all__ = ["element_vectors", "representations", "site_values"]
