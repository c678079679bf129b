"""Hybrid retrieval: prepare the query, run the legs per edition, fuse, re-rank, fetch the chunks."""
from __future__ import annotations

import time
from typing import NamedTuple, Sequence

import numpy as np

from answer.bridge import bridge_scores, glossary_lemmas, glossary_terms
from answer.editions import editions_for
from ingest.language import guess_language
from answer.fusion import Ranked, get_fusion
from answer.legs import Query, full_scores, legs_of, sentence_cosines
from answer.legs import coverage as keyword_coverage
from answer.rerank import feature_matrix, rerank
from answer.sections import BASE, WEIGHTS, Candidates, EditionSamples, Scored, score_sections
from index.embed import Embedder
from index.readings import looks_easy
from index.sentences import sentence_text
from index.version import IndexVersion
from kb.config import RetrievalSettings
from kb.errors import QueryError
from kb.model import Chunk, Hit, SearchResult

MODES = ("hybrid", "dense", "keyword")
# Sentences an answer quotes whose span no stored vector has (one that a chunk boundary cut, whole in
# the joined section): each is embedded once per process, not on every answer (~50 ms for a long one).
SPAN_MEMO = 4096


def check_query(query: str, k: int, max_chars: int) -> str:
    """The query stripped, or a QueryError that says what to change."""
    if not isinstance(query, str) or not query.strip():
        raise QueryError("The query is empty; type a question, e.g. 在留カードをなくしたらどうすればいいですか")
    if len(query) > max_chars:
        raise QueryError(f"The query is {len(query)} characters; the limit is {max_chars} (setting max_query_chars)")
    if not isinstance(k, int) or k < 1:
        raise QueryError(f"k must be a positive whole number, got {k!r}")
    return query.strip()


class Retrieved(NamedTuple):
    """A search result, the prepared query it came from (answer extraction reuses its vector), and
    in hybrid mode the section ranking behind it (``answer.support`` reads its evidence)."""

    result: SearchResult
    query: Query
    sections: Scored | None = None


class HybridRetriever:
    """Searches one open version; safe to share between threads (it keeps no per-query state)."""

    def __init__(self, version: IndexVersion, embedder: Embedder, settings: RetrievalSettings) -> None:
        self.version = version
        self.embedder = embedder
        self.settings = settings
        self._fuse = get_fusion(settings.fusion)
        self._legs = legs_of(version)
        self._edition_samples: EditionSamples | None = None  # built on the first search over editions
        self._term_vectors: dict[str, np.ndarray] = {}  # glossary term -> its query vector (_pivot_vector)
        self._span_vectors: dict[str, np.ndarray] = {}  # unstored sentence text -> its vector (SPAN_MEMO)

    def prepare(self, text: str, sources: Sequence[str] | None = None) -> Query:
        """The question embedded and tokenised. An easy-Japanese question is also read in the
        guidebook's writing (``index.readings``: ひなんじょ -> 避難所), a Vietnamese one typed without
        tone marks in the Vietnamese edition's spelling (``index.tones``: the luu tru -> thẻ lưu trú):
        that reading's keyword tokens are added to its own and its vector averaged with the
        question's (one batch), so a wrong guess only dilutes. Dev sets, 35 easy-Japanese questions:
        R@1 .69 -> .83, R@5 .94 -> .97."""
        allowed = self.version.rows_from(sources) if sources else None
        language = guess_language(text)
        tokens = self.version.keyword.query_tokens(text)
        reread = self.version.toned.restore(text) if language == "vi" else self.version.kana.to_kanji(text)
        if reread == text:
            vector = self.embedder.embed_queries([text])[0]
        else:
            own = set(tokens)
            tokens = tokens + [t for t in dict.fromkeys(self.version.keyword.query_tokens(reread)) if t not in own]
            both = self.embedder.embed_queries([text, reread]).sum(0)
            vector = (both / (np.linalg.norm(both) or 1.0)).astype(np.float32)
        return Query(text, tokens, vector, language, {}, allowed)

    def search(self, query: str, k: int | None = None, *, mode: str = "hybrid",
               languages: Sequence[str] | None = None, sources: Sequence[str] | None = None) -> Retrieved:
        """Top ``k`` hits; ``mode`` is ``hybrid`` or one leg alone (``dense``/``keyword``);
        ``languages`` limits to those editions (default: every edition). In hybrid mode over
        several editions a hit is a section, scored from all editions (``answer.sections``) and
        shown in the question's edition where that has it, else in Japanese. ``sources`` limits the
        hits to documents whose source id starts with one of them (e.g. ``["laws/"]``)."""
        s = self.settings
        k = s.top_k if k is None else k
        text = check_query(query, k, s.max_query_chars)
        if mode not in MODES:
            raise QueryError(f"Unknown search mode {mode!r}; choose from {list(MODES)}")
        ranges = self.version.manifest.languages
        timings: dict[str, float] = {}
        started = time.perf_counter()
        prepared = self.prepare(text, sources)
        timings["embed"] = (time.perf_counter() - started) * 1e3
        editions = editions_for(text, ranges, languages)
        if prepared.allowed is not None:
            editions = [e for e in editions if prepared.allowed[slice(*ranges[e])].any()]
            if not editions:
                raise QueryError(f"No indexed source id starts with {list(sources or [])}")
            if mode == "hybrid":
                prepared = self._through_the_book(prepared, timings)
        keep = max(s.rerank_depth, k) if mode == "hybrid" else k
        ranked: dict[str | None, list[tuple[int, tuple[float, float | None, float | None]]]] = {}
        leg_scores: dict[str, dict[int, float]] = {name: {} for name in self._legs}
        for edition in editions:
            legs, ranked[edition] = self._rank_edition(prepared, mode, edition, max(s.candidates, k), keep, timings)
            for name, leg in legs.items():
                leg_scores[name].update(zip(leg.rows.tolist(), leg.scores.tolist()))
        scored = None
        if mode == "hybrid":
            t0 = time.perf_counter()
            scored = self._score_sections(prepared, ranked)
            timings["sections"] = (time.perf_counter() - t0) * 1e3
        if scored is not None and len(editions) > 1:
            top = self._by_section(prepared, scored, ranked, k, languages)
        else:  # one edition (its re-ranker decides), or one leg: rows merged by score
            best: dict[int, tuple[float, float | None, float | None]] = {}
            for row, scores in (x for rows in ranked.values() for x in rows[:k]):
                if row not in best or scores[0] > best[row][0]:
                    best[row] = scores
            top = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))[:k]
        chunks = self.version.store.chunks([row for row, _ in top])
        hits = tuple(
            Hit(rank=i, score=float(score), chunk=chunks[row], dense_score=leg_scores["dense"].get(row),
                keyword_score=leg_scores["keyword"].get(row), fused_score=fused, rerank_score=reranked)
            for i, (row, (score, fused, reranked)) in enumerate(top, 1))
        timings["total"] = (time.perf_counter() - started) * 1e3
        return Retrieved(SearchResult(query=text, hits=hits, timings_ms=timings), prepared, scored)

    def _through_the_book(self, query: Query, timings: dict[str, float]) -> Query:
        """A search confined to sources without the guidebook's sections (statutes, notices:
        ``--source laws/``), asked in another language or in easy Japanese: the question's vector is
        averaged with the Japanese sentence, of the best guidebook section for it, nearest to it.
        The parallel editions find that section across languages far better than e5 finds an
        article, and the sentence is in the statutes' language (statutes dev R@1 .206 -> .284,
        R@5 .471 -> .510). Plain Japanese questions already are (with it, R@5 there fell .714 -> .643)."""
        book = self.version.book_rows
        if query.allowed is None or (query.allowed & book).any() or not book.any() or \
                (query.language == "ja" and not looks_easy(query.text)):
            return query
        t0 = time.perf_counter()
        best = self._every_edition(query._replace(allowed=book, memo={}), timings).best_rows
        row = best[0].get(BASE) if best else None
        vectors = self.version.sentences.of(row)[1] if row is not None else np.zeros((0, 0))
        timings["book"] = (time.perf_counter() - t0) * 1e3
        if not len(vectors):
            return query
        pivot = vectors[int(np.argmax(vectors @ query.vector))]
        mixed = query.vector + pivot / (np.linalg.norm(pivot) or 1.0)
        return query._replace(vector=(mixed / (np.linalg.norm(mixed) or 1.0)).astype(query.vector.dtype), memo={})

    @property
    def fallback_edition(self) -> str:
        """The edition a section is shown from when the asked one lacks it (setting
        fallback_edition), Japanese if this index has no such edition."""
        edition = self.settings.fallback_edition
        return edition if edition in self.version.manifest.languages else BASE

    def _by_section(self, query: Query, scored: Scored, ranked: dict, k: int,
                    languages: Sequence[str] | None) -> list[tuple[int, tuple[float, float | None, float | None]]]:
        """The top ``k`` sections, each as (its row in the edition it is shown in, scores)."""
        own = {e: dict(rows) for e, rows in ranked.items()}
        prefer = list(languages) if languages else [query.language, self.fallback_edition, BASE, "en"]
        out = []
        for score, best in zip(scored.scores[:k], scored.best_rows[:k]):
            edition = next((e for e in prefer if e in best), None) or max(best, key=lambda e: e == query.language)
            row = best[edition]
            _, fused, reranked = own[edition].get(row, (0.0, None, None))
            out.append((row, (float(score), fused, reranked)))
        return out

    def _score_sections(self, query: Query, ranked: dict, weights: np.ndarray | None = None) -> Scored:
        candidates = {e: Candidates([r for r, _ in rows], [sc[0] for _, sc in rows]) for e, rows in ranked.items()}
        return score_sections(self.version, self._samples(), query, candidates,
                              full_scores(query, "keyword", self.version.keyword), bridge_scores(self.version, query),
                              glossary_terms(query), WEIGHTS if weights is None else weights)

    def section_evidence(self, text: str, weights: np.ndarray | None = None) -> Scored:
        """The candidate sections of a hybrid search over every edition with their features
        (``bench/fit_sections.py`` fits the weights on these)."""
        return self._every_edition(self.prepare(check_query(text, 1, self.settings.max_query_chars)), {}, weights)

    def _every_edition(self, query: Query, timings: dict[str, float], weights: np.ndarray | None = None) -> Scored:
        """Each edition with rows in ``query.allowed`` ranked on its own, and the sections scored over them."""
        ranges = self.version.manifest.languages
        keep = max(self.settings.rerank_depth, 1)
        ranked = {e: self._rank_edition(query, "hybrid", e, self.settings.candidates, keep, timings)[1]
                  for e in editions_for(query.text, ranges)
                  if query.allowed is None or query.allowed[slice(*ranges[e])].any()}
        return self._score_sections(query, ranked, weights)

    def _rank_edition(self, query: Query, mode: str, edition: str | None, n: int, keep: int,
                      timings: dict[str, float]) -> tuple[dict[str, Ranked], list]:
        """One edition's legs (top ``n`` each) and its ranking (top ``keep``)."""
        own = self._in_edition_words(query, edition)
        rows = tuple(self.version.manifest.languages[edition]) if edition else None
        legs = self._run_legs(own, mode, n, rows, timings)
        return legs, self._rank(own, mode, legs, keep, timings)

    def _in_edition_words(self, query: Query, edition: str | None) -> Query:
        """The query as the Japanese edition's legs and re-ranker see it. A question in another
        language shares no words with Japanese text, so there the glossary terms it names
        (``answer.glossary``) carry it into Japanese: their lemmas stand in for its own keyword
        tokens, and its vector is averaged with the vectors of the Japanese terms themselves (e5
        matches Japanese to Japanese far better than across languages; statutes dev, dense leg
        alone, R@5 .21 -> .38). The induced lexicon's words stay in the bridge leg, where they are
        weighted (too noisy to replace the question's words: Tagalog "po", "na" carry 改正, 法).
        Elsewhere the query as is."""
        if edition != BASE or query.language.startswith("ja"):
            return query
        lemmas = glossary_lemmas(query)
        if not lemmas:
            return query
        return query._replace(tokens=lemmas, vector=self._pivot_vector(query))  # the memo keys by both

    def _pivot_vector(self, query: Query) -> np.ndarray:
        """The question's vector plus the mean of its Japanese glossary terms' vectors, normalised
        (once per query). Each term is embedded once per process: the glossary is a fixed list."""
        memo = query.memo if query.memo is not None else {}
        if "pivot" not in memo:
            terms = glossary_terms(query)
            new = [t for t in terms if t not in self._term_vectors]
            if new:
                self._term_vectors.update(zip(new, self.embedder.embed_queries(new)))
            mean = np.mean([self._term_vectors[t] for t in terms], axis=0)
            mixed = query.vector + mean / (np.linalg.norm(mean) or 1.0)
            memo["pivot"] = (mixed / (np.linalg.norm(mixed) or 1.0)).astype(query.vector.dtype)
        return memo["pivot"]

    def _samples(self) -> EditionSamples:
        if self._edition_samples is None:
            self._edition_samples = EditionSamples(self.version)
        return self._edition_samples

    def _run_legs(self, query: Query, mode: str, n: int, rows: tuple[int, int] | None,
                  timings: dict[str, float]) -> dict[str, Ranked]:
        """Each leg's top ``n``, timed per leg: dense and keyword always (a hit shows both scores),
        in hybrid mode the bigram leg when it is fused or re-ranked and the bridge when it is fused."""
        s = self.settings
        wanted = {"bigram": mode == "hybrid" and (s.weights["bigram"] > 0 or s.rerank_depth > 0),
                  "bridge": mode == "hybrid" and s.weights["bridge"] > 0}
        out = {}
        for name, leg in self._legs.items():
            if not wanted.get(name, True):
                continue
            t0 = time.perf_counter()
            out[name] = leg.search(query, n, rows)
            timings[name] = timings.get(name, 0.0) + (time.perf_counter() - t0) * 1e3
        return out

    def _rank(self, query: Query, mode: str, legs: dict[str, Ranked], k: int,
              timings: dict[str, float]) -> list[tuple[int, tuple[float, float | None, float | None]]]:
        """One edition's top ``k``: (row, (score, fused score, re-ranker score))."""
        if mode != "hybrid":
            ranked = legs[mode]
            return [(r, (s, None, None)) for r, s in zip(ranked.rows.tolist()[:k], ranked.scores.tolist()[:k])]
        s = self.settings
        t0 = time.perf_counter()
        fusing = {name: leg for name, leg in legs.items() if s.weights[name] > 0}
        fused = self._fuse(fusing, s.weights, s.rrf_k)
        timings["fusion"] = timings.get("fusion", 0.0) + (time.perf_counter() - t0) * 1e3
        if s.rerank_depth <= 0:
            return [(row, (score, score, None)) for row, score in fused[:k]]
        t0 = time.perf_counter()
        fused_of = dict(fused)
        reranked = self._rerank([r for r, _ in fused[:max(s.rerank_depth, k)]], legs, query)
        timings["rerank"] = timings.get("rerank", 0.0) + (time.perf_counter() - t0) * 1e3
        return [(row, (score, fused_of[row], score)) for row, score in reranked[:k]]

    def _rerank(self, rows: list[int], legs: dict[str, Ranked], query: Query) -> list[tuple[int, float]]:
        dense = self.version.vectors.vectors(rows) @ query.vector if rows else np.zeros(0)
        sentence = sentence_cosines(query, self.version, np.asarray(rows, dtype=np.int64), dense)
        coverage = keyword_coverage(query, self.version, np.asarray(rows, dtype=np.int64))
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
            texts = [sentence_text(*spans[i]) for i in missing]
            # read once into a local dict: another thread may clear the memo meanwhile
            unique = list(dict.fromkeys(texts))
            known = {t: v for t in unique if (v := self._span_vectors.get(t)) is not None}
            new = [t for t in unique if t not in known]
            if new:
                known.update(zip(new, self.embedder.embed_passages(new)))
                if len(self._span_vectors) + len(new) > SPAN_MEMO:
                    self._span_vectors.clear()
                self._span_vectors.update((t, known[t]) for t in new)
            out[missing] = [known[t] for t in texts]
        return out
