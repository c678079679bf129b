import numpy as np
import pytest

from answer.fusion import get_fusion, rrf, weighted
from kb.errors import ConfigError


def leg(rows, scores):
    return np.array(rows), np.array(scores, dtype=np.float32)


def test_weighted_min_max_normalises_each_leg():
    legs = {"dense": leg([1, 2, 3], [0.9, 0.8, 0.7]), "keyword": leg([3, 4], [10.0, 2.0])}
    fused = dict(weighted(legs, {"dense": 0.5, "keyword": 0.5}))
    assert fused[1] == pytest.approx(0.5)   # dense best, keyword missing
    assert fused[3] == pytest.approx(0.5)   # dense worst (0), keyword best (1)
    assert fused[2] == pytest.approx(0.25)
    assert fused[4] == pytest.approx(0.0)


def test_weighted_lets_weights_decide():
    legs = {"dense": leg([1, 2], [0.9, 0.1]), "keyword": leg([2, 1], [5.0, 1.0])}
    assert weighted(legs, {"dense": 0.3, "keyword": 0.7})[0][0] == 2
    assert weighted(legs, {"dense": 0.7, "keyword": 0.3})[0][0] == 1


def test_single_candidate_and_empty_leg():
    legs = {"dense": leg([7], [0.3]), "keyword": leg([], [])}
    assert weighted(legs, {"dense": 0.5, "keyword": 0.5}) == [(7, 0.5)]


def test_rrf_by_hand():
    legs = {"dense": leg([1, 2], [0.9, 0.8]), "keyword": leg([2, 3], [3.0, 1.0])}
    fused = dict(rrf(legs, {"dense": 1.0, "keyword": 1.0}, rrf_k=60))
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1] == pytest.approx(1 / 61)
    assert fused[3] == pytest.approx(1 / 62)


def test_unknown_fusion_lists_the_choices():
    with pytest.raises(ConfigError, match=r"choose from \['rrf', 'weighted'\]"):
        get_fusion("borda")
