"""Coarse-grained MD of polymer electrolytes: ASE model, force field, transport, backends."""

from asegraph.optimize.cgmd.forcefield import CGForceField
from asegraph.optimize.cgmd.model import CGTopology, build_system

__all__ = ["CGForceField", "CGTopology", "build_system"]
