"""Hybrid retrieval: embed the query, search both legs, fuse, fetch the chunks."""
from __future__ import annotations

import time

import numpy as np

from answer.fusion import get_fusion
from index.embedder import Embedder
from index.reader import IndexVersion
from kb.config import Settings
from kb.errors import QueryError
from kb.model import Hit, SearchResult

LEGS = ("dense", "keyword")


def check_query(query: str, k: int, max_chars: int) -> str:
    """The query stripped, or a QueryError that says what to change."""
    if not isinstance(query, str) or not query.strip():
        raise QueryError("The query is empty; type a question, e.g. 在留カードをなくしたらどうすればいいですか")
    if len(query) > max_chars:
        raise QueryError(f"The query is {len(query)} characters; the limit is {max_chars} (setting max_query_chars)")
    if not isinstance(k, int) or k < 1:
        raise QueryError(f"k must be a positive whole number, got {k!r}")
    return query.strip()


class HybridRetriever:
    def __init__(self, version: IndexVersion, embedder: Embedder, settings: Settings) -> None:
        self.version = version
        self.embedder = embedder
        self.settings = settings
        self._fuse = get_fusion(settings.fusion)
        self._weights = {"dense": settings.dense_weight, "keyword": settings.keyword_weight}

    def legs(self, query: str, n: int, timings: dict[str, float],
             vector: np.ndarray | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each leg's top ``n`` (rows, scores) for ``query``; fills ``timings`` in ms."""
        t0 = time.perf_counter()
        if vector is None:
            vector = self.embedder.embed_queries([query])[0]
            timings["embed"] = (time.perf_counter() - t0) * 1e3
        t1 = time.perf_counter()
        dense = self.version.vectors.search(vector, n)
        t2 = time.perf_counter()
        keyword = self.version.keyword.search(query, n)
        t3 = time.perf_counter()
        timings.update(dense=(t2 - t1) * 1e3, keyword=(t3 - t2) * 1e3)
        return {"dense": dense, "keyword": keyword}

    def search(self, query: str, k: int | None = None, *, mode: str = "hybrid") -> SearchResult:
        """Top ``k`` hits; ``mode`` is ``hybrid`` or one leg alone (``dense``/``keyword``)."""
        return self.search_with_vector(query, k, mode=mode)[0]

    def search_with_vector(self, query: str, k: int | None = None, *,
                           mode: str = "hybrid") -> tuple[SearchResult, np.ndarray]:
        """``search`` plus the query's embedding (answer extraction reuses it)."""
        k = self.settings.top_k if k is None else k
        query = check_query(query, k, self.settings.max_query_chars)
        if mode not in ("hybrid", *LEGS):
            raise QueryError(f"Unknown search mode {mode!r}; choose from ['hybrid', 'dense', 'keyword']")
        timings: dict[str, float] = {}
        started = time.perf_counter()
        t0 = time.perf_counter()
        vector = self.embedder.embed_queries([query])[0]
        timings["embed"] = (time.perf_counter() - t0) * 1e3
        legs = self.legs(query, max(self.settings.candidates, k), timings, vector)
        t0 = time.perf_counter()
        if mode == "hybrid":
            fused = self._fuse(legs, self._weights, self.settings.rrf_k)[:k]
        else:
            rows, scores = legs[mode]
            fused = list(zip(rows.tolist()[:k], scores.tolist()[:k]))
        timings["fusion"] = (time.perf_counter() - t0) * 1e3
        leg_scores = {name: dict(zip(rows.tolist(), scores.tolist())) for name, (rows, scores) in legs.items()}
        chunks = self.version.store.chunks([row for row, _ in fused])
        hits = tuple(
            Hit(rank=i, score=float(score), chunk=chunks[row],
                dense_score=leg_scores["dense"].get(row), keyword_score=leg_scores["keyword"].get(row))
            for i, (row, score) in enumerate(fused, 1))
        timings["total"] = (time.perf_counter() - started) * 1e3
        return SearchResult(query=query, hits=hits, timings_ms=timings), vector
