"""The published CGCNN models as an ASE calculator: energy, forces, moduli, screening.

Needs the published checkpoints: downloaded on first use, or offline from a folder::

    REF=../shared/reference/cgcnn
    export ASEGRAPH_MODEL_DIR=$REF/pre-trained:$REF/data/sample-regression
    python examples/calculator_quickstart.py

A few seconds on one core.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from ase.build import bulk

from asegraph.calculators import CGCNNCalculator, eos_check
from asegraph.calculators.predict import predict


def main() -> None:
    torch.set_num_threads(1)
    atoms = bulk("MgO", "rocksalt", a=4.21)
    atoms.calc = CGCNNCalculator()  # each published model loads when first needed
    print(f"implemented: {', '.join(atoms.calc.implemented_properties)}")
    print(f"energy (MP absolute DFT scale): {atoms.get_potential_energy():.3f} eV")
    formation = atoms.calc.get_property("formation_energy", atoms)
    print(f"formation energy: {formation / len(atoms):.3f} eV/atom")
    print(f"max |force| {abs(atoms.get_forces()).max():.2e} eV/Å (zero by symmetry)")
    print(f"stress (Voigt, eV/Å³): {atoms.get_stress().round(4)}")
    for name in ("bulk_modulus", "shear_modulus", "poisson_ratio", "band_gap"):
        print(f"{name}: {atoms.calc.get_property(name, atoms):.3f}")
    # Does the energy model's curvature agree with the bulk-modulus model? (It need not:
    # the published energy model was trained on relaxed structures only.)
    print(eos_check(atoms, atoms.calc))
    print()

    folder = Path(__file__).parents[2] / "shared/reference/cgcnn/data/sample-regression"
    cifs = sorted(folder.glob("*.cif"))
    if cifs:
        from pymatgen.core import Structure

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structures = [Structure.from_file(str(p)) for p in cifs]
        ds = predict(structures, names=[p.stem for p in cifs], progress=False)
        print(ds[["formula", "bulk_modulus", "shear_modulus", "band_gap"]].to_dataframe())


if __name__ == "__main__":
    main()
