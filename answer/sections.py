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
- a translated-keyword BM25 in Japanese (``answer.bridge``) for a question in another language.

The weights are a conditional logit over each question's candidate sections, fitted by
``bench/fit_sections.py`` on this project's own labelled questions (never on held-out ones). A law
article or other unnumbered text is its own "section" (it has only one edition) and competes in the
same ranking.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from answer.legs import Query
from index.version import IndexVersion

FEATURES = ("rerank_own", "rerank_z", "dense_mean", "dense_max", "sentence_mean", "sentence_max",
            "bm25_max", "bm25_own", "coverage_max", "sentence_base", "top_share", "has_own", "bridge")
# From `python bench/fit_sections.py` (fit on eval/consultations.jsonl dev + eval/guidebook_questions.jsonl,
# 228 questions, 2026-12-02). Negative weights only given the others: they carry the same evidence.
WEIGHTS = np.array([-0.7212, -0.1919, 0.6129, 1.2917, -0.2308, 0.6603, 0.1486, 0.4646, 8.8115, 1.0592,
                    1.4433, -2.0812, 0.1957])
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
        self._passages: dict[str, np.ndarray] = {}
        self._sentences: dict[str, np.ndarray] = {}
        offsets = version.sentences.offsets
        for edition, (start, end) in version.manifest.languages.items():
            rows = np.unique(np.linspace(start, end - 1, min(SAMPLE_ROWS, end - start)).astype(np.int64))
            self._passages[edition] = np.asarray(version.vectors.vectors(rows), dtype=np.float32)
            a, b = int(offsets[start]), int(offsets[end])
            picks = np.unique(np.linspace(a, b - 1, min(SAMPLE_SENTENCES, b - a)).astype(np.int64)) if b > a else []
            self._sentences[edition] = version.sentences.decoded(picks) \
                if len(picks) else self._passages[edition]

    def moments(self, edition: str, vector: np.ndarray) -> tuple[float, float, float, float]:
        """(mean, sd) of the question's passage cosines and of its sentence cosines in ``edition``."""
        d = self._passages[edition] @ vector
        s = self._sentences[edition] @ vector
        return float(d.mean()), float(d.std()) or 1.0, float(s.mean()), float(s.std()) or 1.0


def _z(values: np.ndarray, mean: float, sd: float) -> np.ndarray:
    return (values - mean) / (sd if sd > 1e-9 else 1.0)


def score_sections(version: IndexVersion, samples: EditionSamples, query: Query,
                   ranked: Mapping[str, Candidates], bm25: np.ndarray, bridge: np.ndarray | None,
                   weights: np.ndarray = WEIGHTS) -> Scored:
    """Every section a searched edition put among its candidates, scored from all the searched
    editions that have it. ``bm25`` is the lemma BM25 of every row for this question; ``bridge``
    the translated-keyword BM25 (None when the question needs none)."""
    sections = version.sections
    ranges = version.manifest.languages
    own = query.language if query.language in ranked else None
    stats = {}
    for e in ranked:
        a, b = ranges[e]
        part = bm25[a:b]
        cand = np.asarray(ranked[e].scores, dtype=np.float64)
        stats[e] = (*samples.moments(e, query.vector), float(part.mean()), float(part.std()) or 1.0,
                    float(cand.mean()) if len(cand) else 0.0, float(cand.std()) if len(cand) > 1 else 1.0,
                    float(cand.min()) if len(cand) else 0.0)
    if bridge is not None and BASE in ranges:
        a, b = ranges[BASE]
        bridge_mean, bridge_sd = float(bridge[a:b].mean()), float(bridge[a:b].std()) or 1.0
    score_of = {e: dict(zip(c.rows, c.scores)) for e, c in ranked.items()}
    tops = {e: _top_keys(c.rows, sections.key_of_row) for e, c in ranked.items()}
    keys = list(dict.fromkeys(sections.key_of_row[r] for c in ranked.values() for r in c.rows))
    features = np.zeros((len(keys), len(FEATURES)), dtype=np.float64)
    best_rows: list[dict[str, int]] = []
    for i, key in enumerate(keys):
        per = []  # (edition, z dense, z sentence, z bm25, coverage, rerank, rerank z, bridge z)
        best: dict[str, int] = {}
        for e, rows in sections.rows[key].items():
            if e not in ranked:
                continue
            md, sdd, ms, sds, mb, sdb, mr, sdr, floor = stats[e]
            dense = version.vectors.vectors(rows) @ query.vector
            zd = _z(dense, md, sdd)
            zs = _z(version.sentences.best_cosine(rows, query.vector, dense), ms, sds)
            j = int(np.argmax(zd + zs))
            best[e] = int(rows[j])
            rr = max((score_of[e].get(int(r), floor) for r in rows), default=floor)
            zb = _z(bm25[rows], mb, sdb).max()
            cov = float(version.keyword.coverage(query.tokens, rows).max()) if query.tokens else 0.0
            br = float(_z(bridge[rows], bridge_mean, bridge_sd).max()) if bridge is not None and e == BASE else 0.0
            per.append((e, float(zd.max()), float(zs.max()), float(zb), cov, rr, _z(np.array(rr), mr, sdr), br))
        best_rows.append(best)
        if not per:
            continue
        zd_all = [p[1] for p in per]
        zs_all = [p[2] for p in per]
        mine = next((p for p in per if p[0] == own), None)
        base = next((p for p in per if p[0] == BASE), None)
        features[i] = (
            mine[5] / 100.0 if mine else 0.0,
            max(float(p[6]) for p in per),
            sum(zd_all) / len(per), max(zd_all),
            sum(zs_all) / len(per), max(zs_all),
            max(p[3] for p in per), mine[3] if mine else 0.0,
            max(p[4] for p in per),
            base[2] if base else 0.0,
            sum(1 for p in per if key in tops[p[0]]) / len(per),
            1.0 if mine else 0.0,
            max(p[7] for p in per),
        )
    scores = features @ weights
    order = np.argsort(-scores, kind="stable")
    return Scored([keys[i] for i in order], scores[order], features[order], [best_rows[i] for i in order])


def _top_keys(rows: Sequence[int], key_of_row: Sequence[str]) -> set[str]:
    out: list[str] = []
    for r in rows:
        key = key_of_row[r]
        if key not in out:
            out.append(key)
            if len(out) == TOP:
                break
    return set(out)
