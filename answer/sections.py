"""Sections are the unit: every edition's passages are evidence for the section they belong to.

The guidebook's editions are aligned views of one book (the same section numbers in every
language), so they form a multilingual ensemble: an English question matches the English text of
3.1.2 far better than the Japanese, a Portuguese one about driving finds chapter 9 in Japanese and
English although the Portuguese edition lacks it. Each edition is ranked on its own first (legs,
fusion, re-ranker: ``answer.retrieve``); then every candidate section is scored from its evidence in
all editions that have it, with the signals put on one scale per edition so that a wrong passage in
the question's own language cannot outrank a right one elsewhere:

- dense and best-sentence cosines as z-scores against that edition's cosines for this question
  (estimated on a fixed sample of its passages and sentences): e5 gives text in the question's own
  language a higher cosine whatever it says, and the z-score takes that offset away;
- lemma-BM25 as a z-score over the edition's rows, and the idf-weighted keyword coverage;
- the re-ranker's score in the question's own edition, and its z-score within each edition's
  candidates;
- the share of editions that put the section in their top 5;
- a translated-keyword BM25 in Japanese (``answer.bridge``) for a question in another language;
- whether the section's own headings name a glossary concept the question names (seikatsu hogo ->
  7.5 生活保護, "shussan teate" -> 4.3.2 出産手当金): where the question's edition lacks the section,
  the cosines alone often prefer a neighbour;
- how near the question is to the section's example questions (``index.questions``): e5 matches a
  resident's words to another question about the same situation, in any language, better than to
  the guidebook prose.

The weights are a conditional logit over each question's candidate sections, fitted by
``bench/fit_sections.py`` on this project's own labelled questions (never on held-out ones); the
heading and asked weights were set afterwards on the dev sets (BENCHMARKS.md). A law
article or other unnumbered text is its own "section" (it has only one edition) and competes in the
same ranking.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from answer.legs import Query, coverage, sentence_cosines
from index.version import IndexVersion

FEATURES = ("rerank_own", "rerank_z", "dense_mean", "dense_max", "sentence_mean", "sentence_max",
            "bm25_max", "bm25_own", "coverage_max", "sentence_base", "top_share", "has_own", "bridge", "heading",
            "asked")
# From `python bench/fit_sections.py` (fit on eval/consultations.jsonl dev + eval/guidebook_questions.jsonl,
# 228 questions, 2026-12-02); heading and asked set by hand on the dev sets (a refit with asked cost the
# real desk questions of ../shared/eval/consultations/dev.jsonl R@1 .744 -> .692). Negative weights only
# given the others: they carry the same evidence.
WEIGHTS = np.array([-0.7212, -0.1919, 0.6129, 1.2917, -0.2308, 0.6603, 0.1486, 0.4646, 8.8115, 1.0592,
                    1.4433, -2.0812, 0.1957, 1.0, 1.5])
SAMPLE_ROWS, SAMPLE_SENTENCES = 256, 512  # per edition, for the cosine z-scores
TOP = 5  # an edition "puts a section in its top" when it is among its first TOP sections
BASE = "ja"


class Candidates(NamedTuple):
    """One edition's own ranking: rows best first with their scores (re-ranker or fused)."""

    rows: list[int]
    scores: list[float]


@dataclass(frozen=True)
class Scored:
    """Candidate sections best first, with their scores, features and best row per edition."""

    keys: list[str]
    scores: np.ndarray
    features: np.ndarray  # (len(keys), len(FEATURES))
    best_rows: list[dict[str, int]]  # per key: edition -> the row that best shows it there


class EditionSamples:
    """Fixed, evenly spaced samples of each edition's passage and sentence vectors (built once per
    version): against them a question's cosines to one edition are put on that edition's scale."""

    def __init__(self, version: IndexVersion) -> None:
        passages, sentences = [], []
        offsets = version.sentences.offsets
        for edition, (start, end) in version.manifest.languages.items():
            rows = np.unique(np.linspace(start, end - 1, min(SAMPLE_ROWS, end - start)).astype(np.int64))
            passages.append(np.asarray(version.vectors.vectors(rows), dtype=np.float32))
            a, b = int(offsets[start]), int(offsets[end])
            picks = np.unique(np.linspace(a, b - 1, min(SAMPLE_SENTENCES, b - a)).astype(np.int64)) if b > a else []
            sentences.append(version.sentences.decoded(picks) if len(picks) else passages[-1])
        # All samples in one matrix, passages then sentences per edition: one product per question.
        blocks = [block for pair in zip(passages, sentences) for block in pair]
        self._stacked = np.concatenate(blocks) if blocks else np.zeros((0, 1), dtype=np.float32)
        self._starts = np.cumsum([0] + [len(block) for block in blocks])[:-1]
        self._editions = {e: i for i, e in enumerate(version.manifest.languages)}

    def moments(self, vector: np.ndarray) -> dict[str, tuple[float, float, float, float]]:
        """Per edition: (mean, sd) of the question's passage cosines and of its sentence cosines."""
        if not self._editions:
            return {}
        cos = (self._stacked @ vector).astype(np.float64)
        sizes = np.maximum(np.diff(np.r_[self._starts, len(cos)]), 1)
        mean = np.add.reduceat(cos, self._starts) / sizes
        sd = np.sqrt(np.maximum(np.add.reduceat(cos * cos, self._starts) / sizes - mean * mean, 0.0))
        sd = np.where(sd > 0, sd, 1.0)
        return {e: (float(mean[2 * i]), float(sd[2 * i]), float(mean[2 * i + 1]), float(sd[2 * i + 1]))
                for e, i in self._editions.items()}


def score_sections(version: IndexVersion, samples: EditionSamples, query: Query,
                   ranked: Mapping[str, Candidates], bm25: np.ndarray, bridge: np.ndarray | None,
                   terms: Sequence[str] = (), weights: np.ndarray = WEIGHTS) -> Scored:
    """Every section a searched edition put among its candidates, scored from all the searched
    editions that have it. ``bm25`` is the lemma BM25 of every row for this question; ``bridge``
    the translated-keyword BM25 (None when the question needs none); ``terms`` the Japanese terms
    of the glossary concepts it names. Vectorised over all the (section, edition, row) triples at
    once: a question has a few hundred of them."""
    sections = version.sections
    ranges = version.manifest.languages
    editions = list(ranked)
    own = editions.index(query.language) if query.language in ranked else -1
    base = editions.index(BASE) if BASE in ranked else -1
    keys = list(dict.fromkeys(sections.key_of_row[r] for c in ranked.values() for r in c.rows))
    tops = {e: _top_keys(c.rows, sections.key_of_row) for e, c in ranked.items()}
    # The triples, grouped by section then edition: which pair (section, edition) each row is of.
    rows, pair_edition, pair_key, pair_top, starts = [], [], [], [], []
    for i, key in enumerate(keys):
        for e, found in sections.rows[key].items():
            if e not in ranked:
                continue
            if query.allowed is not None:
                found = found[query.allowed[found]]
            if len(found):
                starts.append(len(rows))
                rows.extend(found.tolist())
                pair_edition.append(editions.index(e))
                pair_key.append(i)
                pair_top.append(key in tops[e])
    rows_a = np.asarray(rows, dtype=np.int64)
    pair_e = np.asarray(pair_edition, dtype=np.int64)
    pair_k = np.asarray(pair_key, dtype=np.int64)
    starts_a = np.asarray(starts, dtype=np.int64)
    row_pair = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts_a, len(rows)]))
    row_e = pair_e[row_pair]
    # Per edition: the question's cosine moments, BM25 moments, re-ranker moments and floor.
    m = np.zeros((len(editions), 9))
    cosine_moments = samples.moments(query.vector)
    for j, e in enumerate(editions):
        a, b = ranges[e]
        cand = np.asarray(ranked[e].scores, dtype=np.float64)
        m[j] = (*cosine_moments[e], float(bm25[a:b].mean()), float(bm25[a:b].std()) or 1.0,
                float(cand.mean()) if len(cand) else 0.0, float(cand.std()) if len(cand) > 1 else 1.0,
                float(cand.min()) if len(cand) else 0.0)
    sd = lambda col: np.where(m[:, col] > 1e-9, m[:, col], 1.0)  # noqa: E731
    dense = version.vectors.vectors(rows_a) @ query.vector
    zd = (dense - m[row_e, 0]) / sd(1)[row_e]
    zs = (sentence_cosines(query, version, rows_a, dense) - m[row_e, 2]) / sd(3)[row_e]
    zb = (bm25[rows_a] - m[row_e, 4]) / sd(5)[row_e]
    cov = coverage(query, version, rows_a) if query.tokens and len(rows_a) else np.zeros(len(rows_a))
    score_of = [dict(zip(ranked[e].rows, ranked[e].scores)) for e in editions]
    rr = np.array([score_of[e].get(r, m[e, 8]) for r, e in zip(rows, row_e.tolist())], dtype=np.float64)
    zbr = np.zeros(len(rows_a))
    if bridge is not None and base >= 0:
        a, b = ranges[BASE]
        on_base = row_e == base
        zbr[on_base] = (bridge[rows_a[on_base]] - float(bridge[a:b].mean())) / (float(bridge[a:b].std()) or 1.0)
    if not len(rows_a):
        return Scored([], np.zeros(0), np.zeros((0, len(FEATURES))), [])
    per = {name: np.maximum.reduceat(values, starts_a) for name, values in
           (("zd", zd), ("zs", zs), ("zb", zb), ("cov", cov), ("rr", rr), ("br", zbr))}
    per["zr"] = (per["rr"] - m[pair_e, 6]) / sd(7)[pair_e]
    # The row that best shows each pair: the first with the pair's highest zd + zs.
    both = zd + zs
    best_of_pair = np.flatnonzero(both == np.maximum.reduceat(both, starts_a)[row_pair])
    _, first = np.unique(row_pair[best_of_pair], return_index=True)
    best_row = rows_a[best_of_pair[first]]
    # Per section, over its pairs (contiguous): means, maxima, its own edition's and the base's.
    key_starts = np.flatnonzero(np.r_[True, pair_k[1:] != pair_k[:-1]])
    counts = np.diff(np.r_[key_starts, len(pair_k)])
    at = lambda values: np.add.reduceat(values, key_starts)  # noqa: E731
    top = lambda values: np.maximum.reduceat(values, key_starts)  # noqa: E731
    is_own = (pair_e == own).astype(np.float64)
    is_base = (pair_e == base).astype(np.float64)
    present = pair_k[key_starts]
    features = np.zeros((len(keys), len(FEATURES)), dtype=np.float64)
    features[present] = np.column_stack([
        at(per["rr"] * is_own) / 100.0, top(per["zr"]), at(per["zd"]) / counts, top(per["zd"]),
        at(per["zs"]) / counts, top(per["zs"]), top(per["zb"]), at(per["zb"] * is_own), top(per["cov"]),
        at(per["zs"] * is_base), at(np.asarray(pair_top, dtype=np.float64)) / counts, at(is_own), top(per["br"]),
        _names(version.headings([keys[i] for i in present]), terms),
        _asked(version.examples.nearness(query.vector), [keys[i] for i in present])])
    best_rows: list[dict[str, int]] = [{} for _ in keys]
    for k, e, r in zip(pair_k.tolist(), pair_e.tolist(), best_row.tolist()):
        best_rows[k][editions[e]] = r
    scores = features @ weights
    order = np.argsort(-scores, kind="stable")
    return Scored([keys[i] for i in order], scores[order], features[order], [best_rows[i] for i in order])


def _names(headings: Sequence[str], terms: Sequence[str]) -> np.ndarray:
    """1 where a heading names one of ``terms``, else 0."""
    return np.array([any(t in h for t in terms) for h in headings], dtype=np.float64)


def _asked(nearness: Mapping[str, float], keys: Sequence[str]) -> np.ndarray:
    """Each section's nearness to the question through its example questions (0, the mean, without any)."""
    return np.array([nearness.get(k, 0.0) for k in keys], dtype=np.float64)


def _top_keys(rows: Sequence[int], key_of_row: Sequence[str]) -> set[str]:
    out: list[str] = []
    for r in rows:
        key = key_of_row[r]
        if key not in out:
            out.append(key)
            if len(out) == TOP:
                break
    return set(out)
