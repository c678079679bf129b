"""A bilingual lexicon into Japanese, induced from the index's own parallel editions at every sync.

Japanese-only material (statutes, ISA notices, municipal pages) can be reached from a question in
another language by the dense leg alone, and e5-small crosses languages poorly. The translated
editions are parallel text, so they teach which Japanese words a foreign word stands for:

1. Mine sentence pairs: within each section both editions have (same section id), a sentence and
   a Japanese sentence that are each other's most similar (stored sentence vectors, cosine at
   least ``PAIR_COSINE``) are taken as translations.
2. Count, over those pairs, how often a word of the edition (or two adjacent words, ``words_of``)
   and a Japanese lemma occur together,
   and keep for each word the Japanese lemmas with the highest Dice coefficient
   (2·both / (word + lemma)), seen together at least ``MIN_PAIRS`` times.

The easy-Japanese edition is treated the same way, so plain words (にげる ところ, びょういん の
おかね) point to the standard terms (避難所, 医療費). The lexicon is rebuilt from whatever editions
are indexed (the official ones when a maintainer has them) and saved in the version as
``lexicon.json``; ``answer.bridge`` uses it at question time.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from index.tokenize import tokenize
from index.manifest import read_part
from kb.model import Chunk, numbered

FILE = "lexicon.json"
BASE = "ja"
PAIR_COSINE = 0.78
MIN_PAIRS = 2
MIN_DICE = 0.3
PER_WORD = 3
COMMON = 0.15  # a Japanese lemma in more than this share of the pairs is a function word here
# Editions whose tokens are already character bigrams (index.tokenize): a pair of them means nothing.
NO_PHRASES = {"zh-Hans", "zh-Hant", "th", "km", "my", "lo", "ko"}

Lexicon = dict[str, dict[str, list[tuple[str, float]]]]  # edition -> word -> [(Japanese lemma, Dice)]


def sentence_pairs(chunks: Sequence[Chunk], spans: np.ndarray, offsets: np.ndarray,
                   vectors: np.ndarray) -> dict[str, list[tuple[str, str]]]:
    """Per edition: (sentence, Japanese sentence) pairs, mutual best matches within a section."""
    by_section: dict[tuple[str, str], dict[tuple[str, int], int]] = {}
    texts: dict[int, str] = {}
    for row, chunk in enumerate(chunks):
        if not numbered(chunk.section_id):
            continue
        for k in range(int(offsets[row]), int(offsets[row + 1])):
            a, b = (int(x) for x in spans[k])
            where = (chunk.source_id, chunk.char_start + a)  # overlapping chunks repeat a sentence
            by_section.setdefault((chunk.language, chunk.section_id), {}).setdefault(where, k)
            texts[k] = chunk.text[a:b]
    out: dict[str, list[tuple[str, str]]] = {}
    for (edition, section), own in by_section.items():
        base = by_section.get((BASE, section))
        if edition == BASE or not base:
            continue
        mine, theirs = list(own.values()), list(base.values())
        sim = np.asarray(vectors[mine]) @ np.asarray(vectors[theirs]).T
        best_for_mine, best_for_theirs = sim.argmax(1), sim.argmax(0)
        for i, j in enumerate(best_for_mine):
            if best_for_theirs[j] == i and sim[i, j] >= PAIR_COSINE:
                out.setdefault(edition, []).append((texts[mine[i]], texts[theirs[j]]))
    return out


def words_of(text: str, language: str) -> list[str]:
    """The words of an edition's text the lexicon translates: its lemma tokens and, outside
    ``NO_PHRASES``, each two adjacent ones as "a b". A Vietnamese word is often two syllables (trợ
    cấp, thành phố) and a term two words (residence card, にげる ところ): the pair is far surer of its
    Japanese than either half."""
    tokens = tokenize(text, readings=False)
    if language in NO_PHRASES:
        return tokens
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


def induce(pairs: Sequence[tuple[str, str]], language: str = "") -> dict[str, list[tuple[str, float]]]:
    """Word -> its likeliest Japanese lemmas with their Dice coefficients, best first."""
    words, lemmas, both = Counter(), Counter(), Counter()
    for text, japanese in pairs:
        w = set(words_of(text, language))
        j = set(tokenize(japanese, readings=False))
        words.update(w)
        lemmas.update(j)
        both.update((x, y) for x in w for y in j)
    # With few pairs a share says nothing about a word; with many, the commonest lemmas are 為る, 有る
    common = {y for y, n in lemmas.items() if n > COMMON * len(pairs)} if len(pairs) >= 50 else set()
    found: dict[str, list[tuple[str, float]]] = {}
    for (x, y), n in both.items():
        if n < MIN_PAIRS or y in common or x == y:
            continue
        dice = 2 * n / (words[x] + lemmas[y])
        if dice >= MIN_DICE:
            found.setdefault(x, []).append((y, round(dice, 4)))
    return {x: sorted(c, key=lambda t: -t[1])[:PER_WORD] for x, c in sorted(found.items())}


def build(chunks: Sequence[Chunk], spans: np.ndarray, offsets: np.ndarray, vectors: np.ndarray) -> Lexicon:
    return {edition: induce(pairs, edition) for edition, pairs in sorted(sentence_pairs(chunks, spans, offsets, vectors).items())}


def save(lexicon: Lexicon, folder: Path) -> None:
    (folder / FILE).write_text(json.dumps(lexicon, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def load(folder: Path) -> Lexicon:
    data = read_part(folder / FILE, "a lexicon")
    return {e: {w: [(str(j), float(d)) for j, d in c] for w, c in words.items()} for e, words in data.items()}
