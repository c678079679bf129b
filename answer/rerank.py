"""Learned re-ranking of the fused candidates: five features, one linear score.

Weighted fusion finds the right passage among its top 20 for 99% of JSQuAD questions but puts it
first for 91%. A linear model over five features of each candidate orders those 20 better:

- ``keyword``, ``bigram``: the lemma BM25 and CJK-bigram BM25 scores, min-max normalised over each
  leg's candidates (0 when the leg did not return the row), as in ``answer.fusion.weighted``;
- ``dense``: the passage's cosine to the question;
- ``sentence``: the best cosine of one of the passage's sentences (``index.sentences``): a
  question usually asks about one sentence, and a passage vector averages it with the rest;
- ``coverage``: the idf-weighted share of the question's keyword tokens the passage contains.

The weights are a conditional logit (softmax over each question's candidates, the gold passage as
the label) fitted by ``bench/fit_reranker.py`` on JaQuAD dev and checked on JSQuAD valid, which the
fit never saw: R@1 .910 -> .935 there (BENCHMARKS.md). Scores are comparable between the editions
one question searches, so per-edition results still merge by score.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from answer.fusion import Ranked, minmax

FEATURES = ("keyword", "bigram", "dense", "sentence", "coverage")
# Per unit of each raw feature, from `python bench/fit_reranker.py` (fit on JaQuAD dev, 2026-11-28).
# The keyword weight is negative only given the bigram leg and coverage, which carry the same
# evidence; the bias is dropped (it does not change an order).
WEIGHTS = np.array([-1.0940, 3.5681, 21.4208, 79.3317, 9.5366])


def feature_matrix(rows: Sequence[int], legs: Mapping[str, Ranked], dense: np.ndarray,
                   sentence: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """(len(rows), len(FEATURES)): ``legs`` holds the keyword and bigram legs' (rows, scores);
    ``dense``, ``sentence`` and ``coverage`` are given per row, in ``rows`` order."""
    out = np.zeros((len(rows), len(FEATURES)), dtype=np.float64)
    for column, name in enumerate(("keyword", "bigram")):
        leg_rows, scores = legs.get(name, (np.empty(0, dtype=np.int64), np.empty(0)))
        normalised = dict(zip(leg_rows.tolist(), minmax(scores).tolist()))
        out[:, column] = [normalised.get(r, 0.0) for r in rows]
    out[:, 2], out[:, 3], out[:, 4] = dense, sentence, coverage
    return out


def rerank(rows: Sequence[int], features: np.ndarray,
           weights: np.ndarray = WEIGHTS) -> list[tuple[int, float]]:
    """``rows`` with their learned scores, best first (ties keep the given order)."""
    scores = features @ weights
    order = np.argsort(-scores, kind="stable")
    return [(int(rows[i]), float(scores[i])) for i in order]
