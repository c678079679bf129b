"""The bridge into Japanese: a question's words carried to Japanese lemmas through the index's own
lexicon (``index.lexicon``), searched with BM25 in every Japanese row, statutes and other
Japanese-only material included.

A question in an edition's language is translated with that edition's lexicon; a Japanese question
with the easy-Japanese one (plain words -> standard terms: 逃げる -> 避難). Each Japanese lemma
weighs as much as its best Dice coefficient. The hand-written glossary (``answer.glossary``) adds
the key terms a question names in any interpreting language, a language with no edition included.
"""
from __future__ import annotations

import numpy as np

from answer import glossary
from answer.legs import Query
from index.lexicon import words_of
from index.version import IndexVersion

EASY = "ja-easy"
GLOSSARY_WEIGHT = 1.0  # a hand-written translation is as sure as the lexicon's best (Dice 1)


def glossary_terms(query: Query) -> list[str]:
    """The Japanese terms of the glossary concepts the question names (matched once per query)."""
    memo = query.memo if query.memo is not None else {}
    if "terms" not in memo:
        memo["terms"] = glossary.default().japanese_terms(query.text, query.language)
    return memo["terms"]


def glossary_lemmas(query: Query) -> list[str]:
    """The Japanese lemmas of the glossary terms the question names (matched once per query)."""
    memo = query.memo if query.memo is not None else {}
    if "glossary" not in memo:
        memo["glossary"] = glossary.default().lemmas(query.text, query.language)
    return memo["glossary"]


def translate(version: IndexVersion, query: Query) -> dict[str, float]:
    """Japanese lemma -> weight for the question's words ({} when nothing translates): the
    glossary's terms at full weight, the induced lexicon's words at their Dice coefficient."""
    out = dict.fromkeys(glossary_lemmas(query), GLOSSARY_WEIGHT)
    edition = EASY if query.language == "ja" else query.language
    words = version.lexicon.get(edition)
    if not words:
        return out
    for token in dict.fromkeys(words_of(query.text, edition)):
        for lemma, weight in words.get(token, ()):
            out[lemma] = max(out.get(lemma, 0.0), weight)
    return out


def bridge_scores(version: IndexVersion, query: Query) -> np.ndarray | None:
    """BM25 of every row for the translated question, or None when nothing translates."""
    if query.memo is not None and "bridge" in query.memo:
        return query.memo["bridge"]
    lemmas = translate(version, query)
    scores = version.keyword.scores(list(lemmas), list(lemmas.values())) if lemmas else None
    if query.memo is not None:
        query.memo["bridge"] = scores
    return scores
