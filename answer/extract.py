"""Extractive answers: the key sentences of each answer section, quoted verbatim.

A section is quoted from one edition as one passage (``Passage``: its chunks joined). Each of its
sentences (the chunker's own sentences, table rows left out) gets the probability that it states
something a desk worker must tell the resident, from a logistic model over
  - meaning: its stored vector's cosine to the question (raw, and min-max scaled in the section),
  - words: the idf-weighted share of the question's keyword tokens it contains (same language only),
  - key facts: whether it states a deadline, an obligation or prohibition, where to go, what to
    bring, what it costs, who is eligible (``answer.keyfacts``), and whether it has a number,
  - where it stands in the section, and its length.
The weights are fitted by ``bench/fit_keyfacts.py`` on the labelled key facts of
``eval/key_facts.jsonl`` (dev lines). The likeliest few are quoted, in reading order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from answer.fusion import minmax
from answer.keyfacts import KINDS
from answer.legs import Query
from index.keyword import KeywordIndex
from ingest.chunker import sentences
from kb.model import Chunk, Hit

SentenceVectorsFor = Callable[[Sequence[tuple[Chunk, int, int]]], np.ndarray]

FEATURES = ("dense", "cosine", "words", *(f"fact_{kind}" for kind in KINDS), "first", "position", "length", "digit")
# From `python bench/fit_keyfacts.py` (fit on the dev lines of eval/key_facts.jsonl); the bias last.
WEIGHTS = np.array([1.0716, 11.9436, 1.4039, 0.3358, 0.1063, 0.8213, 0.3298, 0.4314, -0.1817, -0.2363, -0.4872,
                    0.2871, 0.5154, -11.7074])
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Passage:
    """A section in its answer edition as one passage: ``hit.chunk`` is its chunks joined
    (``ingest.chunker.join_passages``); ``parts`` say where each stored chunk's text starts in it
    (offset in the joined text, the stored chunk, how much of its start the join cut)."""

    hit: Hit
    parts: tuple[tuple[int, Chunk, int], ...]

    def stored_span(self, start: int, end: int) -> tuple[Chunk, int, int]:
        """The stored chunk and its own offsets for a span of the joined text (sentence vectors
        are stored per chunk)."""
        offset, chunk, cut = next(p for p in reversed(self.parts) if p[0] <= start)
        return chunk, start - offset + cut, end - offset + cut


@dataclass(frozen=True)
class Quote:
    start: int  # offsets into the passage text: the sentence is verbatim
    end: int
    text: str
    score: float


def candidates(passage: Passage) -> list[tuple[int, int]]:
    """The sentences an answer may quote: not table rows, which read as nothing on their own."""
    text = passage.hit.chunk.text
    return [(a, b) for a, b in sentences(text) if not text[a:b].lstrip().startswith("|")]


def sentence_features(passage: Passage, query: Query, sentence_vectors: SentenceVectorsFor,
                      keyword: KeywordIndex) -> tuple[list[tuple[int, int]], np.ndarray]:
    """The quotable sentences of ``passage`` and their ``FEATURES``."""
    spans = candidates(passage)
    x = np.zeros((len(spans), len(FEATURES)))
    if not spans:
        return spans, x
    text = passage.hit.chunk.text
    cosine = sentence_vectors([passage.stored_span(a, b) for a, b in spans]) @ query.vector
    same = passage.hit.chunk.language.split("-")[0] == query.language.split("-")[0]
    tokens = list(dict.fromkeys(query.tokens))
    last = max(1, len(spans) - 1)
    for i, ((a, b), scaled) in enumerate(zip(spans, minmax(cosine).tolist())):
        sentence = text[a:b]
        words = keyword.text_coverage(tokens, sentence) if same else 0.0  # a translation shares no words
        kinds = [1.0 if pattern.search(sentence) else 0.0 for pattern in KINDS.values()]
        x[i] = (scaled, float(cosine[i]), words, *kinds, float(i == 0), i / last, min(len(sentence), 200) / 200,
                float(bool(_DIGIT.search(sentence))))
    return spans, x


def key_sentences(passage: Passage, query: Query, sentence_vectors: SentenceVectorsFor,
                  keyword: KeywordIndex, limit: int) -> list[Quote]:
    """The section's likeliest key sentences for the question (at most ``limit``), in reading order."""
    spans, x = sentence_features(passage, query, sentence_vectors, keyword)
    if not spans:
        return []
    scores = x @ WEIGHTS[:-1] + WEIGHTS[-1]
    text = passage.hit.chunk.text
    best = np.argsort(-scores, kind="stable")[:limit]
    return [Quote(a, b, text[a:b], float(scores[i])) for i, (a, b) in enumerate(spans) if i in set(best.tolist())]
