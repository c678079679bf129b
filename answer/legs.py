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
    memo: dict | None = None  # per-query results the legs share between editions (HybridRetriever.prepare);
    # what depends on the tokens or the vector is keyed by them, so a copy with others can share the dict
    allowed: np.ndarray | None = None  # rows the search may return (a source filter), None for all


class Leg(Protocol):
    name: str

    def search(self, query: Query, n: int, rows: RowRange | None) -> Ranked: ...


class DenseLeg:
    name = "dense"

    def __init__(self, version: IndexVersion) -> None:
        self._vectors = version.vectors

    def search(self, query: Query, n: int, rows: RowRange | None) -> Ranked:
        if query.allowed is None:
            return Ranked(*self._vectors.search(query.vector, n, rows))
        start, end = rows if rows is not None else (0, len(query.allowed))
        keep = np.flatnonzero(query.allowed[start:end]) + start  # exact over the allowed rows
        scores = self._vectors.vectors(keep) @ query.vector
        top = np.argsort(-scores, kind="stable")[:n]
        return Ranked(keep[top].astype(np.int64), scores[top].astype(np.float32))


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


class BridgeLeg:
    """BM25 of the question's words carried into Japanese lemmas (``answer.bridge``): what finds a
    Japanese-only statute from an English or Vietnamese question; empty when nothing translates."""

    name = "bridge"

    def __init__(self, version: IndexVersion) -> None:
        self._version = version

    def search(self, query: Query, n: int, rows: RowRange | None) -> Ranked:
        from answer.bridge import bridge_scores

        scores = bridge_scores(self._version, query)
        if scores is None:
            return Ranked(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))
        if query.allowed is not None:
            scores = scores * query.allowed
        return Ranked(*self._version.keyword.search_tokens([], n, rows, scores))


def full_scores(query: Query, name: str, index: KeywordIndex, tokens: list[str] | None = None) -> np.ndarray:
    """BM25 of every row for this query, computed once per query, leg and tokens (each edition slices
    it; the Japanese edition may read a question in translated tokens, ``HybridRetriever``)."""
    tokens = query.tokens if tokens is None else tokens
    memo = query.memo if query.memo is not None else {}
    key = (name, tuple(tokens))
    if key not in memo:
        scores = index.scores(tokens)
        memo[key] = scores if query.allowed is None else scores * query.allowed
    return memo[key]


def sentence_cosines(query: Query, version: IndexVersion, rows: np.ndarray, default: np.ndarray) -> np.ndarray:
    """Each row's best sentence cosine to the question (``default`` where a row has none), each row
    computed once per query however many editions and stages ask for it."""
    rows = np.asarray(rows, dtype=np.int64)
    memo = query.memo
    if memo is None:
        return version.sentences.best_cosine(rows, query.vector, default)
    # keyed by the vector: the Japanese edition may read a question through its glossary terms' vector
    known = memo.setdefault(("sentence", query.vector.tobytes()),
                            np.full(version.manifest.chunks, np.nan, dtype=np.float32))
    todo = np.unique(rows[np.isnan(known[rows])])
    if len(todo):
        known[todo] = version.sentences.best_cosine(todo, query.vector, np.full(len(todo), -np.inf, dtype=np.float32))
    found = known[rows]
    return np.where(np.isneginf(found), np.asarray(default, dtype=np.float32), found)


def coverage(query: Query, version: IndexVersion, rows: np.ndarray) -> np.ndarray:
    """The idf-weighted share of the question's keywords each row contains (computed once per query)."""
    memo = query.memo if query.memo is not None else {}
    key = ("coverage", tuple(query.tokens))
    if key not in memo:
        memo[key] = version.keyword.coverage_of_every_row(query.tokens)
    return version.keyword.coverage(query.tokens, rows, memo[key])


def legs_of(version: IndexVersion) -> dict[str, Leg]:
    return {leg.name: leg for leg in (DenseLeg(version), KeywordLeg(version), BigramLeg(version), BridgeLeg(version))}
