"""The retrieval legs behind one protocol: each ranks an edition's rows for a prepared query.

A ``Query`` is prepared once (embedded and tokenised) and handed to every leg: the dense leg reads
its vector, the lemma BM25 leg its keyword tokens, the bigram BM25 leg its text. Adding a leg is a
class with ``name`` and ``search`` and an entry in ``legs_of``.
"""
from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np

from answer.fusion import Ranked
from index.keyword import KeywordIndex
from index.version import IndexVersion

RowRange = tuple[int, int]  # [start, end) rows of one edition


class Query(NamedTuple):
    text: str
    tokens: list[str]  # keyword tokens (index.tokenize, query form)
    vector: np.ndarray  # the embedded question, L2-normalised
    language: str = ""  # the question's language (ingest.language)
    memo: dict | None = None  # per-query results the legs share between editions (HybridRetriever.prepare)


class Leg(Protocol):
    name: str

    def search(self, query: Query, n: int, rows: RowRange | None) -> Ranked: ...


class DenseLeg:
    name = "dense"

    def __init__(self, version: IndexVersion) -> None:
        self._vectors = version.vectors

    def search(self, query: Query, n: int, rows: RowRange | None) -> Ranked:
        return Ranked(*self._vectors.search(query.vector, n, rows))


class KeywordLeg:
    name = "keyword"

    def __init__(self, version: IndexVersion) -> None:
        self._index = version.keyword

    def search(self, query: Query, n: int, rows: RowRange | None) -> Ranked:
        return Ranked(*self._index.search_tokens(query.tokens, n, rows, full_scores(query, self.name, self._index)))


class BigramLeg:
    name = "bigram"

    def __init__(self, version: IndexVersion) -> None:
        self._index = version.bigram

    def search(self, query: Query, n: int, rows: RowRange | None) -> Ranked:
        scores = full_scores(query, self.name, self._index, self._index.query_tokens(query.text))
        return Ranked(*self._index.search_tokens([], n, rows, scores))


def full_scores(query: Query, name: str, index: KeywordIndex, tokens: list[str] | None = None) -> np.ndarray:
    """BM25 of every row for this query, computed once per query and leg (each edition slices it)."""
    memo = query.memo if query.memo is not None else {}
    if name not in memo:
        memo[name] = index.scores(query.tokens if tokens is None else tokens)
    return memo[name]


def legs_of(version: IndexVersion) -> dict[str, Leg]:
    return {leg.name: leg for leg in (DenseLeg(version), KeywordLeg(version), BigramLeg(version))}
