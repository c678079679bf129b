"""Extractive answers: the few sentences of the top passages that best answer the question.

Each candidate sentence is a verbatim span of a retrieved passage (the chunker's own
sentences), scored by
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
from typing import Callable, NamedTuple, Sequence

import numpy as np

from answer.fusion import minmax
from answer.legs import Query
from index.keyword import KeywordIndex
from ingest.chunker import sentences
from ingest.language import guess_language
from kb.model import AnswerSentence, Chunk, Hit

SentenceVectorsFor = Callable[[Sequence[tuple[Chunk, int, int]]], np.ndarray]

WEIGHTS = {"dense": 0.45, "words": 0.35, "rank": 0.20}
FACT_BONUS = 0.05
_FACT = re.compile(r"\d|[０-９]|[一二三四五六七八九十百]+(?:日|か月|年|歳|円)")
SCORE_LIMIT = 12  # sentences scored per answer: the likeliest by keyword coverage and passage rank


@dataclass(frozen=True)
class Candidate:
    passage: int  # 0-based index into the hits
    start: int  # offsets into the passage text, so the sentence is verbatim
    end: int
    text: str
    score: float = 0.0
    words: float = 0.0


def candidates(hits: Sequence[Hit]) -> list[Candidate]:
    """Sentences of the passages; a sentence two overlapping chunks share is kept once (the first)."""
    out = []
    seen: set[tuple[str, int]] = set()
    for i, hit in enumerate(hits):
        text = hit.chunk.text
        for start, end in sentences(text):
            where = (hit.chunk.source_id, hit.chunk.char_start + start)  # position in the document
            if text[start:end].lstrip().startswith("|") or where in seen:  # a table row is no answer
                continue
            seen.add(where)
            out.append(Candidate(i, start, end, text[start:end]))
    return out


def score(cands: list[Candidate], words: Sequence[float], same_language: Sequence[bool],
          query_vector: np.ndarray, sentence_vectors: np.ndarray) -> list[Candidate]:
    """Score sentences; ``words[i]`` is sentence i's keyword coverage and ``same_language[i]`` says
    whether it is in the question's language (a translation cannot share the question's words, so
    meaning carries that weight)."""
    if not cands:
        return []
    dense_norm = minmax(sentence_vectors @ query_vector)
    passages = _passages(cands)
    scored = []
    for c, w, d, same in zip(cands, words, dense_norm.tolist(), same_language):
        s = (WEIGHTS["dense"] + (0 if same else WEIGHTS["words"])) * d + WEIGHTS["words"] * w
        s += WEIGHTS["rank"] * _rank_prior(c.passage, passages) + (FACT_BONUS if _FACT.search(c.text) else 0.0)
        scored.append(Candidate(c.passage, c.start, c.end, c.text, s, w))
    return scored


def _passages(cands: Sequence[Candidate]) -> int:
    return max(c.passage for c in cands) + 1


def _rank_prior(passage: int, passages: int) -> float:
    """1 for the best-ranked passage, falling linearly with rank."""
    return 1.0 - passage / passages


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


class Extracted(NamedTuple):
    sentences: list[AnswerSentence]  # each cites 1-based numbers into ``sources``
    sources: list[Hit]
    best_words: float  # the best keyword coverage of any candidate sentence (judges support)


def extract(hits: Sequence[Hit], query: Query, sentence_vectors: SentenceVectorsFor,
            keyword: KeywordIndex, **limits: int | float) -> Extracted:
    """The answer sentences of ``hits`` for the prepared ``query``; ``sentence_vectors`` gives the
    vectors of (chunk, start, end) spans (stored at index time)."""
    cands = candidates(hits)
    if not cands:
        return Extracted([], [], 0.0)
    lang = guess_language(query.text)
    q_tokens = list(dict.fromkeys(query.tokens))
    same = [_same_language(lang, hits[c.passage].chunk.language) for c in cands]
    words = [keyword.text_coverage(q_tokens, c.text) if ok else 0.0 for c, ok in zip(cands, same)]
    best_words = max(words)
    if len(cands) > SCORE_LIMIT:  # keep the likeliest (a sentence not stored is embedded now, ~7 ms)
        passages = _passages(cands)
        prior = [WEIGHTS["words"] * w + WEIGHTS["rank"] * _rank_prior(c.passage, passages)
                 for c, w in zip(cands, words)]
        keep = sorted(sorted(range(len(cands)), key=lambda i: -prior[i])[:SCORE_LIMIT])
        cands, words, same = [cands[i] for i in keep], [words[i] for i in keep], [same[i] for i in keep]
    vectors = sentence_vectors([(hits[c.passage].chunk, c.start, c.end) for c in cands])
    scored = score(cands, words, same, query.vector, vectors)
    chosen = select(scored, **limits)
    order = list(dict.fromkeys(c.passage for c in chosen))
    quoted = [AnswerSentence(c.text, (order.index(c.passage) + 1,)) for c in chosen]
    return Extracted(quoted, [hits[i] for i in order], best_words)


def _same_language(query_language: str, edition: str) -> bool:
    return edition.split("-")[0] == query_language.split("-")[0]
