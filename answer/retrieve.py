"""Hybrid retrieval: embed the query, search both legs, fuse, fetch the chunks."""
from __future__ import annotations

import time
from functools import partial
from typing import Sequence

import numpy as np

from answer.editions import aligned, editions_for
from answer.fusion import get_fusion
from answer.rerank import feature_matrix, rerank
from index.embedder import Embedder
from index.reader import IndexVersion
from index.sentences import sentence_text
from kb.config import Settings
from kb.errors import QueryError
from kb.model import Chunk, Hit, SearchResult

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
        self._weights = {"dense": settings.dense_weight, "keyword": settings.keyword_weight,
                         "bigram": settings.bigram_weight}

    def legs(self, query: str, tokens: list[str], vector: np.ndarray, n: int, rows: tuple[int, int] | None,
             timings: dict[str, float], bigram: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each leg's top ``n`` (rows, scores) within ``rows``; adds the time taken to ``timings``.
        ``tokens`` are the query's keyword tokens; the bigram leg runs if ``bigram`` and it is
        fused or re-ranked."""
        t1 = time.perf_counter()
        dense = self.version.vectors.search(vector, n, rows)
        t2 = time.perf_counter()
        keyword = self.version.keyword.search_tokens(tokens, n, rows)
        legs = {"dense": dense, "keyword": keyword}
        if bigram and (self.settings.bigram_weight > 0 or self.settings.rerank_depth > 0):
            legs["bigram"] = self.version.bigram.search(query, n, rows)
        t3 = time.perf_counter()
        timings["dense"] = timings.get("dense", 0.0) + (t2 - t1) * 1e3
        timings["keyword"] = timings.get("keyword", 0.0) + (t3 - t2) * 1e3
        return legs

    def search(self, query: str, k: int | None = None, *, mode: str = "hybrid",
               languages: Sequence[str] | None = None) -> SearchResult:
        """Top ``k`` hits; ``mode`` is ``hybrid`` or one leg alone (``dense``/``keyword``);
        ``languages`` limits to those editions (default: the query's language and Japanese)."""
        return self.search_with_vector(query, k, mode=mode, languages=languages)[0]

    def search_with_vector(self, query: str, k: int | None = None, *, mode: str = "hybrid",
                           languages: Sequence[str] | None = None) -> tuple[SearchResult, np.ndarray]:
        """``search`` plus the query's embedding (answer extraction reuses it)."""
        k = self.settings.top_k if k is None else k
        query = check_query(query, k, self.settings.max_query_chars)
        if mode not in ("hybrid", *LEGS):
            raise QueryError(f"Unknown search mode {mode!r}; choose from ['hybrid', 'dense', 'keyword']")
        ranges = self.version.manifest.languages
        timings: dict[str, float] = {}
        started = time.perf_counter()
        vector = self.embedder.embed_queries([query])[0]
        timings["embed"] = (time.perf_counter() - started) * 1e3
        fused: dict[int, float] = {}
        leg_scores: dict[str, dict[int, float]] = {name: {} for name in ("dense", "keyword", "bigram")}
        tokens = self.version.keyword.query_tokens(query)
        for edition in editions_for(query, ranges, languages):
            rows = tuple(ranges[edition]) if edition else None
            legs = self.legs(query, tokens, vector, max(self.settings.candidates, k), rows, timings,
                             bigram=mode == "hybrid")
            t0 = time.perf_counter()
            if mode == "hybrid":
                fusing = {name: leg for name, leg in legs.items() if self._weights[name] > 0}
                ranked = self._fuse(fusing, self._weights, self.settings.rrf_k)
                timings["fusion"] = timings.get("fusion", 0.0) + (time.perf_counter() - t0) * 1e3
                if self.settings.rerank_depth > 0:
                    t0 = time.perf_counter()
                    ranked = self._rerank([r for r, _ in ranked[:max(self.settings.rerank_depth, k)]],
                                          legs, vector, tokens)
                    timings["rerank"] = timings.get("rerank", 0.0) + (time.perf_counter() - t0) * 1e3
                ranked = ranked[:k]
            else:
                ranked = list(zip(legs[mode][0].tolist()[:k], legs[mode][1].tolist()[:k]))
            for row, score in ranked:  # editions are searched separately and merged by score
                fused[row] = max(score, fused.get(row, float("-inf")))
            for name, (leg_rows, scores) in legs.items():
                leg_scores[name].update(zip(leg_rows.tolist(), scores.tolist()))
        top = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        chunks = self.version.store.chunks([row for row, _ in top])
        align = partial(self._align, query_vector=vector)
        hits = tuple(
            Hit(rank=i, score=float(score), chunk=chunks[row], dense_score=leg_scores["dense"].get(row),
                keyword_score=leg_scores["keyword"].get(row), aligner=align)
            for i, (row, score) in enumerate(top, 1))
        timings["total"] = (time.perf_counter() - started) * 1e3
        reranked = mode == "hybrid" and self.settings.rerank_depth > 0
        return SearchResult(query=query, hits=hits, timings_ms=timings, reranked=reranked), vector

    def _rerank(self, rows: list[int], legs: dict[str, tuple[np.ndarray, np.ndarray]], vector: np.ndarray,
                tokens: list[str]) -> list[tuple[int, float]]:
        dense = self.version.vectors.vectors(rows) @ vector if rows else np.zeros(0)
        sentence = self.version.sentences.best_cosine(rows, vector, default=dense)
        coverage = self.version.keyword.coverage(tokens, rows)
        return rerank(rows, feature_matrix(rows, legs, dense, sentence, coverage))

    def sentence_vectors(self, spans: Sequence[tuple[Chunk, int, int]]) -> np.ndarray:
        """Vectors of sentences given as (chunk, start, end): the ones stored at index time
        (``index.sentences``), embedded now only if a span is not stored (same text form)."""
        rows = self.version.store.rows(list(dict.fromkeys(c.chunk_id for c, _, _ in spans)))
        out = np.zeros((len(spans), self.embedder.dim), dtype=np.float32)
        missing = []
        for i, (chunk, start, end) in enumerate(spans):
            row = rows.get(chunk.chunk_id)
            if row is not None:
                stored_spans, vectors = self.version.sentences.of(row)
                match = np.flatnonzero((stored_spans[:, 0] == start) & (stored_spans[:, 1] == end))
                if len(match):
                    out[i] = vectors[match[0]]
                    continue
            missing.append(i)
        if missing:
            out[missing] = self.embedder.embed_passages([sentence_text(*spans[i]) for i in missing])
        return out

    def _align(self, chunk: Chunk, language: str, query_vector: np.ndarray | None = None) -> list[Chunk]:
        return aligned(self.version, chunk, language, query_vector)
