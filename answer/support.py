"""How likely it is that the guidebook answers a question: a calibrated probability.

Two signals were measured (``bench/abstention.py``, BENCHMARKS.md). Read off the section ranking
(the best section's score and cosines, its margin over the next, how many editions agree, keyword
coverage, the share of the question's words the index never contains) they tell answerable from
out-of-scope questions poorly (AUC about .63 in cross-validation). The question's own embedding
tells them apart far better (AUC about .86): the multilingual model places "where is the Osaka tax
office", "a good ramen shop" or "translate this for me" away from what the guidebook covers,
whatever the language. The two together do better than either (AUC .867 against .826 on the real
desk questions of ../shared/eval/consultations/dev.jsonl, .944 in cross-validation): the support is
a logistic model over the question's vector and the ranking features, fitted on this project's
labelled in- and out-of-scope questions (every language, eval/scope_questions.jsonl among them)
and calibrated by the fit itself; its weights (``scope.json``) belong to the embedding model they
were fitted with. With another model, the ranking-feature model below gives the probability instead.

``ask`` abstains below ``abstain_below`` and answers marked "not sure" below ``unsure_below``.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from answer.sections import FEATURES as SECTION_FEATURES
from answer.sections import Scored

SCOPE_FILE = Path(__file__).with_name("scope.json")
FEATURES = ("top", "margin", "margin5", "sentence_max", "dense_max", "top_share", "coverage")
# The fallback over the section ranking, from `python bench/abstention.py` (same training questions).
WEIGHTS = np.array([0.0733, 0.0237, 0.0474, 0.0049, 0.1718, 0.4815, 0.5301])
BIAS = -2.7395
_AT = {name: i for i, name in enumerate(SECTION_FEATURES)}


def features(sections: Scored | None) -> np.ndarray:
    """The ranking features of a search's section ranking (zeros when there is none)."""
    out = np.zeros(len(FEATURES))
    if sections is None or not len(sections.scores):
        return out
    s, x = sections.scores, sections.features[0]
    out[:] = (s[0], s[0] - s[1] if len(s) > 1 else 0.0, s[0] - s[min(4, len(s) - 1)] if len(s) > 1 else 0.0,
              x[_AT["sentence_max"]], x[_AT["dense_max"]], x[_AT["top_share"]], x[_AT["coverage_max"]])
    return out


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


@lru_cache(maxsize=4)
def scope_model(path: Path = SCOPE_FILE) -> tuple[str, np.ndarray, float] | None:
    """(model id, weights, bias) of the fitted scope model, or None when there is none or it was
    fitted over other ranking features. The weights are the question vector's, then ``FEATURES``'."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["ranking_features"]) != FEATURES:
            return None
        return str(data["model_id"]), np.asarray(data["weights"], dtype=np.float64), float(data["bias"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def scope_inputs(vector: np.ndarray, sections: Scored | None) -> np.ndarray:
    """The scope model's inputs: the question's vector and the ranking features."""
    return np.r_[np.asarray(vector, dtype=np.float64), features(sections)]


def probability(vector: np.ndarray, model_id: str, sections: Scored | None) -> float:
    """P(the guidebook answers the question), 0..1: the scope model when it was fitted for this
    embedding model, else the ranking-feature model."""
    scope = scope_model()
    if scope is not None and scope[0] == model_id and len(scope[1]) == len(vector) + len(FEATURES):
        return _sigmoid(float(scope_inputs(vector, sections) @ scope[1] + scope[2]))
    return _sigmoid(float(features(sections) @ WEIGHTS + BIAS))


def verdict(p: float, abstain_below: float, unsure_below: float) -> str:
    """"not_found" below ``abstain_below``, "unsure" below ``unsure_below``, else "answered"."""
    if p < abstain_below:
        return "not_found"
    return "unsure" if p < unsure_below else "answered"
