"""The keyword legs: BM25 (bm25s) over ``index.tokenize`` analyzers' tokens, saved without pickle."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from index.cache import EmbeddingCache, text_key
from index.tokenize import ANALYZER_IDS, ANALYZERS

K1, B = 1.5, 0.75
TEXT_MEMO = 50_000  # sentences whose token sets a process keeps (a few MB)


def _bm25s():
    if "bm25s" not in sys.modules and "scipy" not in sys.modules:
        # scipy is optional in bm25s: without it bm25s builds its CSC arrays with numpy, equal to
        # scipy's (tests/test_tokenize.py checks), and importing scipy.sparse cost ~80 ms of every
        # cold `kb ask`. A None entry makes bm25s's `import scipy.sparse` fail at once.
        sys.modules["scipy.sparse"] = None  # type: ignore[assignment]
        try:
            import bm25s
        finally:
            del sys.modules["scipy.sparse"]
    import bm25s

    # bm25s configures its own logger on import; keep the library quiet unless asked.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def _tokens(texts: Sequence[str], analyzer: str, cache: EmbeddingCache | None) -> list[list[str]]:
    tokenize = ANALYZERS[analyzer]
    if cache is None:
        return [tokenize(t) for t in texts]
    name = f"{ANALYZER_IDS[analyzer]}+unidic-lite-{_dictionary_version()}"
    keys = [text_key(t) for t in texts]
    known = cache.get_tokens(name, list(dict.fromkeys(keys)))
    new: dict[str, list[str]] = {}
    out = []
    for key, text in zip(keys, texts):
        tokens = known.get(key, new.get(key))
        if tokens is None:
            tokens = new[key] = tokenize(text)
        out.append(tokens)
    if new:
        cache.put_tokens(name, list(new.items()))
    return out


def _dictionary_version() -> str:
    """The Japanese dictionary decides lemmas: tokens cut with another version are not reused."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("unidic-lite")
    except PackageNotFoundError:
        return "unknown"


def _check(retriever, size: int) -> None:
    """Raise ValueError unless the loaded arrays are a BM25 index of ``size`` rows (bm25s trusts its
    files: a damaged one fails later, inside a search)."""
    scores, vocab = retriever.scores, retriever.vocab_dict
    indptr, indices, data = (np.asarray(scores.get(k)) for k in ("indptr", "indices", "data"))
    if not isinstance(vocab, dict) or scores.get("num_docs") != size:
        raise ValueError(f"BM25 parameters do not describe {size} rows")
    # bm25s keeps one vocabulary entry without postings (the empty token), so indptr may be one short
    if indptr.ndim != 1 or len(indptr) not in (len(vocab), len(vocab) + 1) or indices.shape != data.shape \
            or indices.ndim != 1:
        raise ValueError("BM25 arrays do not match its vocabulary")
    if indptr[0] != 0 or indptr[-1] != len(indices) or (len(indptr) > 1 and np.diff(indptr).min() < 0):
        raise ValueError("BM25 postings are not well formed")
    if len(indices) and (indices.min() < 0 or indices.max() >= size):
        raise ValueError("BM25 postings name rows that do not exist")
    if any(not isinstance(t, int) or not 0 <= t < len(vocab) for t in vocab.values()):
        raise ValueError("BM25 vocabulary ids out of range")


class KeywordIndex:
    """BM25 scores for every indexed row; rows are the positions of the texts given to ``build``."""

    def __init__(self, retriever, size: int, analyzer: str = "lemma") -> None:
        self._retriever = retriever
        self.size = size
        self.analyzer = analyzer
        self._tokenize = ANALYZERS[analyzer]
        # Token sets of texts that are not rows (answer sentences), kept per process: an answer
        # quotes from the same few thousand guidebook sentences again and again, and cutting one
        # sentence costs more than the rest of its scoring. Bounded, so a large index cannot grow it.
        self._text_tokens: dict[str, frozenset[str]] = {}

    @classmethod
    def build(cls, texts: Sequence[str], analyzer: str = "lemma",
              cache: EmbeddingCache | None = None) -> "KeywordIndex":
        """BM25 over ``texts`` cut by the named analyzer (``index.tokenize.ANALYZERS``); with a
        ``cache``, texts tokenised by an earlier build are not tokenised again."""
        bm25s = _bm25s()
        retriever = bm25s.BM25(k1=K1, b=B)
        retriever.index(_tokens(texts, analyzer, cache), show_progress=False)
        return cls(retriever, len(texts), analyzer)

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory), allow_pickle=False, show_progress=False)

    @classmethod
    def load(cls, directory: Path, size: int, analyzer: str = "lemma") -> "KeywordIndex":
        bm25s = _bm25s()
        # Memory-mapped: a query reads only its tokens' postings, and processes serving one
        # version share these pages instead of each holding a copy.
        retriever = bm25s.BM25.load(str(directory), allow_pickle=False, mmap=True,
                                    show_progress=False, verbosity=0)
        _check(retriever, size)
        return cls(retriever, size, analyzer)

    def search(self, query: str, n: int, rows: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` rows with a positive score, best first: (rows, scores); ``rows`` limits to [start, end)."""
        return self.search_tokens(self.query_tokens(query), n, rows)

    def query_tokens(self, query: str) -> list[str]:
        return self._tokenize(query, query=True)

    def idf(self, tokens: list[str]) -> list[float]:
        """BM25 idf of each token; a token absent from the index gets the rarest possible idf, so
        query words the knowledge base never mentions weigh against it (used to judge support)."""
        n = max(self.size, 1)
        indptr = self._retriever.scores["indptr"]
        vocab = self._retriever.vocab_dict
        out = []
        for token in tokens:
            t = vocab.get(token)
            df = int(indptr[t + 1] - indptr[t]) if t is not None else 0
            out.append(float(np.log(1 + (n - df + 0.5) / (df + 0.5))))
        return out

    def text_coverage(self, tokens: Sequence[str], text: str) -> float:
        """The idf-weighted share of ``tokens`` that occur in ``text`` (0..1), cut by this index's
        analyzer: ``coverage`` for a text that is not a row (a sentence of one)."""
        if not tokens:
            return 0.0
        weights = self.idf(list(tokens))
        present = self._text_tokens.get(text)
        if present is None:
            if len(self._text_tokens) >= TEXT_MEMO:
                self._text_tokens.clear()
            present = self._text_tokens[text] = frozenset(self._tokenize(text))
        total = sum(weights)
        return sum(w for t, w in zip(tokens, weights) if t in present) / total if total else 0.0

    def coverage(self, tokens: list[str], rows: Sequence[int], every: np.ndarray | None = None) -> np.ndarray:
        """For each row, the idf-weighted share of ``tokens`` it contains (0..1), read from the
        index's postings; a token the index lacks counts against every row (see ``idf``).
        ``every`` is ``coverage_of_every_row(tokens)`` when the caller has it already."""
        if every is None:
            every = self.coverage_of_every_row(tokens)
        return every[np.asarray(rows, dtype=np.int64)] if len(rows) else np.zeros(0)

    def coverage_of_every_row(self, tokens: Sequence[str]) -> np.ndarray:
        """``coverage`` of all rows at once: one pass over each token's postings."""
        tokens = list(dict.fromkeys(tokens))
        out = np.zeros(self.size, dtype=np.float64)
        if not tokens:
            return out
        weights = self.idf(tokens)
        indptr, indices = self._retriever.scores["indptr"], self._retriever.scores["indices"]
        vocab = self._retriever.vocab_dict
        for token, weight in zip(tokens, weights):
            t = vocab.get(token)
            if t is not None:
                out[indices[indptr[t]:indptr[t + 1]]] += weight  # a row is listed once per token
        return out / sum(weights)

    def scores(self, tokens: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        """BM25 of every row for ``tokens`` (float32; all 0 when none is in the index); with
        ``weights``, each token's scores count that much (a translated query's confidences)."""
        out = np.zeros(self.size, dtype=np.float32)
        if weights is None:
            ids = self._retriever.get_tokens_ids(list(tokens))
            if ids:
                out += self._retriever.get_scores_from_ids(ids)
            return out
        for token, weight in zip(tokens, weights):
            ids = self._retriever.get_tokens_ids([token])
            if ids:
                out += weight * self._retriever.get_scores_from_ids(ids)
        return out

    def search_tokens(self, tokens: list[str], n: int, rows: tuple[int, int] | None = None,
                      scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` rows within ``rows`` with a positive score, best first: (rows, scores);
        ``scores`` are this query's ``scores(tokens)`` when the caller has them already."""
        start, end = rows if rows is not None else (0, self.size)
        if end <= start:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        part = (self.scores(tokens) if scores is None else scores)[start:end]
        n = min(n, len(part))
        top = np.argpartition(-part, n - 1)[:n]
        top = top[np.argsort(-part[top], kind="stable")]
        keep = part[top] > 0
        return (top[keep] + start).astype(np.int64), part[top][keep].astype(np.float32)
