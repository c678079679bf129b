"""Extractive answers: the few sentences of the top passages that best answer the question.

Each candidate sentence is a verbatim span of a retrieved passage (found with the chunker's own
sentence splitter), scored by
  - meaning: cosine between the question and the sentence (the same embedding model),
  - words: the idf-weighted share of the question's keyword tokens the sentence contains,
  - the passage's rank in the hybrid retrieval,
  - a small bonus for the facts desk staff look for (numbers: deadlines, fees, ages, phone numbers).
The best sentences are kept (a few, from a few passages) and put back in reading order per passage,
each citing its passage's number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from index.keyword import KeywordIndex
from index.tokenize import tokenize
from ingest.chunker import sentence_spans
from ingest.language import guess_language
from kb.model import AnswerSentence, Hit

WEIGHTS = {"dense": 0.45, "words": 0.35, "rank": 0.20}
FACT_BONUS = 0.05
_FACT = re.compile(r"\d|[０-９]|[一二三四五六七八九十百]+(?:日|か月|年|歳|円)")
MIN_SENTENCE_CHARS = 8


@dataclass(frozen=True)
class Candidate:
    passage: int  # 0-based index into the hits
    start: int  # offsets into the passage text, so the sentence is verbatim
    end: int
    text: str
    score: float = 0.0
    words: float = 0.0


def coverage(query_tokens: Sequence[str], text: str, keyword: KeywordIndex) -> float:
    """idf-weighted share of the query's tokens that occur in ``text`` (0..1)."""
    if not query_tokens:
        return 0.0
    weights = keyword.idf(list(query_tokens))
    present = set(tokenize(text))
    total = sum(weights)
    return sum(w for t, w in zip(query_tokens, weights) if t in present) / total if total else 0.0


def candidates(hits: Sequence[Hit]) -> list[Candidate]:
    """Sentences of the passages; a sentence two overlapping chunks share is kept once (the first)."""
    out = []
    seen: set[tuple[str, int]] = set()
    for i, hit in enumerate(hits):
        text = hit.chunk.text
        for start, end in sentence_spans(text):
            where = (hit.chunk.source_id, hit.chunk.char_start + start)  # position in the document
            if end - start < MIN_SENTENCE_CHARS or text[start:end].lstrip().startswith("|") or where in seen:
                continue
            seen.add(where)
            out.append(Candidate(i, start, end, text[start:end]))
    return out


def score(cands: list[Candidate], query: str, query_vector: np.ndarray, sentence_vectors: np.ndarray,
          keyword: KeywordIndex, same_language: Sequence[bool] | None = None) -> list[Candidate]:
    """Score sentences; ``same_language[i]`` says whether sentence i is in the question's language."""
    if not cands:
        return []
    same_language = same_language if same_language is not None else [True] * len(cands)
    dense = sentence_vectors @ query_vector
    lo, hi = float(dense.min()), float(dense.max())
    dense_norm = (dense - lo) / (hi - lo) if hi - lo > 1e-9 else np.ones_like(dense)
    q_tokens = list(dict.fromkeys(tokenize(query, query=True)))
    passages = max(c.passage for c in cands) + 1
    scored = []
    for c, d, same in zip(cands, dense_norm.tolist(), same_language):
        words = coverage(q_tokens, c.text, keyword) if same else 0.0
        rank = 1.0 - c.passage / passages
        # A translated passage cannot share the question's words: meaning carries that weight.
        s = (WEIGHTS["dense"] + (0 if same else WEIGHTS["words"])) * d + WEIGHTS["words"] * words
        s += WEIGHTS["rank"] * rank
        s += FACT_BONUS if _FACT.search(c.text) else 0.0
        scored.append(Candidate(c.passage, c.start, c.end, c.text, s, words))
    return scored


def select(scored: list[Candidate], *, max_sentences: int = 4, max_passages: int = 3,
           relative: float = 0.8) -> list[Candidate]:
    """The best sentences within ``relative`` of the top score, in passage order then text order."""
    if not scored:
        return []
    ranked = sorted(scored, key=lambda c: -c.score)
    floor = ranked[0].score * relative
    chosen: list[Candidate] = []
    passages: list[int] = []
    for c in ranked:
        if c.score < floor or len(chosen) == max_sentences:
            break
        if c.passage not in passages:
            if len(passages) == max_passages:
                continue
            passages.append(c.passage)
        chosen.append(c)
    return sorted(chosen, key=lambda c: (passages.index(c.passage), c.start))


def extract(hits: Sequence[Hit], query: str, query_vector: np.ndarray, embed_sentences,
            keyword: KeywordIndex, **limits: int | float) -> tuple[list[AnswerSentence], list[Hit], float]:
    """(sentences citing 1-based numbers into the returned sources, sources, best word coverage)."""
    cands = candidates(hits)
    if not cands:
        return [], [], 0.0
    lang = guess_language(query)
    same = [_same_language(lang, hits[c.passage].chunk.language) for c in cands]
    scored = score(cands, query, query_vector, embed_sentences([c.text for c in cands]), keyword, same)
    chosen = select(scored, **limits)
    order = list(dict.fromkeys(c.passage for c in chosen))
    sources = [hits[i] for i in order]
    sentences = [AnswerSentence(c.text, (order.index(c.passage) + 1,)) for c in chosen]
    return sentences, sources, max(c.words for c in scored)


def _same_language(query_language: str, edition: str) -> bool:
    return edition.split("-")[0] == query_language.split("-")[0]
