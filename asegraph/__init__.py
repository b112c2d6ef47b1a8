"""asegraph: graph neural networks for solid materials inside ASE and MDAnalysis.

Heavy dependencies (torch, pymatgen) are imported lazily by the submodules
that need them, so ``import asegraph`` stays cheap.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
