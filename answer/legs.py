"""The retrieval legs behind one protocol: each ranks an edition's rows for a prepared query.

A ``Query`` is prepared once (embedded and tokenised) and handed to every leg: the dense leg reads
its vector, the lemma BM25 leg its keyword tokens, the bigram BM25 leg its text. Adding a leg is a
class with ``name`` and ``search`` and an entry in ``legs_of``.
"""
from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np

from answer.fusion import Ranked
from index.version import IndexVersion

RowRange = tuple[int, int]  # [start, end) rows of one edition


class Query(NamedTuple):
    text: str
    tokens: list[str]  # keyword tokens (index.tokenize, query form)
    vector: np.ndarray  # the embedded question, L2-normalised


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
        return Ranked(*self._index.search_tokens(query.tokens, n, rows))


class BigramLeg:
    name = "bigram"

    def __init__(self, version: IndexVersion) -> None:
        self._index = version.bigram

    def search(self, query: Query, n: int, rows: RowRange | None) -> Ranked:
        return Ranked(*self._index.search(query.text, n, rows))


def legs_of(version: IndexVersion) -> dict[str, Leg]:
    return {leg.name: leg for leg in (DenseLeg(version), KeywordLeg(version), BigramLeg(version))}
