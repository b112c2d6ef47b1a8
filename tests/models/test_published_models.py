"""Imported published checkpoints reproduce the original implementation."""

from __future__ import annotations

import csv
import json
import sys
import warnings

import numpy as np
import pytest
import torch

from asegraph.models.checkpoint import import_original
from asegraph.models.inference import model_graph, predict_graphs
from asegraph.models.registry import load_pretrained

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from original_reference import is_ambiguous, original_predict  # noqa: E402

REFERENCE_MODELS = ["formation-energy-per-atom", "bulk-moduli", "shear-moduli"]


def read_cif(path):
    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_file(str(path))


@pytest.mark.parametrize("name", REFERENCE_MODELS)
def test_sample_cifs_match_reference_predictions(published_model_dir, name):
    reference = json.loads((published_model_dir / "reference_predictions.json").read_text())[name]
    folder = published_model_dir / "data" / "sample-regression"
    model = load_pretrained(name).double()
    ids = sorted(reference)
    graphs = [model_graph(model, read_cif(folder / f"{i}.cif"), i) for i in ids]
    predicted = predict_graphs(model, graphs)["y"][:, 0]
    expected = np.array([reference[i] for i in ids])
    np.testing.assert_allclose(predicted, expected, atol=1e-4, rtol=0)


def test_float32_model_also_within_tolerance(published_model_dir):
    reference = json.loads((published_model_dir / "reference_predictions.json").read_text())
    folder = published_model_dir / "data" / "sample-regression"
    model = load_pretrained("formation-energy-per-atom")  # float32, as served by default
    ids = sorted(reference["formation-energy-per-atom"])
    graphs = [model_graph(model, read_cif(folder / f"{i}.cif"), i) for i in ids]
    predicted = predict_graphs(model, graphs)["y"][:, 0]
    expected = np.array([reference["formation-energy-per-atom"][i] for i in ids])
    np.testing.assert_allclose(predicted, expected, atol=1e-4, rtol=0)


#: Every published regression checkpoint (the classifier is checked separately).
REGRESSION_MODELS = [
    "formation-energy-per-atom",
    "final-energy-per-atom",
    "band-gap",
    "efermi",
    "bulk-moduli",
    "shear-moduli",
    "poisson-ratio",
]


@pytest.fixture(scope="module")
def perovskites():
    """The first 40 perovskites of ../shared as pymatgen structures, with their ambiguity."""
    import os
    from pathlib import Path

    from pymatgen.core import Structure

    shared = Path(os.environ.get("ASEGRAPH_SHARED", Path(__file__).parents[2].parent / "shared"))
    csv_path = shared / "data" / "perov_5" / "val.csv"
    if not csv_path.is_file():
        pytest.skip("../shared/data/perov_5 or the published checkpoints are not available")
    with open(csv_path) as handle:
        rows = [row for _, row in zip(range(40), csv.DictReader(handle))]
    structures = []
    for row in rows:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_str(row["cif"], fmt="cif")
        structures.append((structure, is_ambiguous(structure)))
    return structures


@pytest.mark.parametrize("name", REGRESSION_MODELS)
def test_unambiguous_perovskites_match_an_independent_original_pipeline(
    shared_cgcnn, perovskites, name
):
    """Any structure whose 12-nearest graph is unambiguous matches the original's pipeline."""
    path = shared_cgcnn / "pre-trained" / f"{name}.pth.tar"
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    atom_init_path = shared_cgcnn / "data" / "sample-regression" / "atom_init.json"
    atom_init = json.loads(atom_init_path.read_text())
    model = import_original(path, atom_init_path).double()
    checked = 0
    for structure, ambiguous in perovskites:
        if ambiguous:
            continue
        ours = predict_graphs(model, [model_graph(model, structure)])["y"][0, 0]
        assert ours == pytest.approx(original_predict(checkpoint, atom_init, structure), abs=1e-4)
        checked += 1
    assert checked >= 12, checked


def test_semi_metal_classification_loads_with_its_numpy_scalar(published_model_dir):
    model = load_pretrained("semi-metal-classification")
    assert model.config.task == "classification"
    assert model.config.classes == ["non-metal", "metal"]
