"""Kana readings of the guidebook's Japanese words, so that a question written in kana is also read in kanji.

Easy-Japanese questions are written mostly in kana, a space between phrases (ひなんじょに がいこくじんも
いけますか). e5 matches kana poorly to the kanji of the Japanese edition (避難所, 外国人), and the keyword
leg meets them only through reading trigrams. At every sync this module reads the words of the
Japanese and easy-Japanese guidebook editions: unidic's readings of content morphemes and of runs of
up to ``MAX_MORPHEMES`` of them, and the easy-Japanese edition's own furigana (避難所（ひなんじょ）). For
each reading it keeps the commonest written form. ``to_kanji`` rewrites an easy-Japanese question: each
kana word that starts a phrase becomes the written form of the longest reading it starts with.

Homophones are the risk (わたし -> 渡し, いたく -> 委託, きょう -> 橋), so a reading from unidic must be
``MIN_KANA`` kana or longer, while a furigana reading (the edition itself says how it is read) may be
shorter. unidic reads a compound's parts alone (避難所 = ヒナン + ショ) where speech voices the second
one (ひなんじょ): a reading of ``MIN_VOICELESS`` kana or more also matches with voiced kana after the
first made voiceless (compounding never voices the first: ざんぎょう is not さんぎょう). The rewritten
text only adds to the question (``answer.retrieve``): a wrong guess costs little, a right one carries
the question to the words the guidebook uses.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Sequence

from index.manifest import read_part
from index.tokenize import HAN_RUN, KATAKANA_OF, VOICELESS, reading_runs
from kb.errors import IndexMismatchError
from kb.model import Chunk, numbered

FILE = "readings.json"
EDITIONS = ("ja", "ja-easy")
MAX_MORPHEMES = 3
MIN_KANA = 4
MIN_VOICELESS = 5
EASY_MAX_KANJI = 0.15  # an easy-Japanese question: under 15 % kanji, and phrases spaced apart

_FURIGANA = re.compile(r"([\u4e00-\u9fff\u3005\u3006\u30f5\u30f6\u30a0-\u30ff]+)[（(]([\u3041-\u3096\u30fc]+)[）)]")
_JAPANESE = re.compile(r"[\u3041-\u30ff\u4e00-\u9fff]")
_SPACED = re.compile(r"[\u3041-\u30ff\u4e00-\u9fff][ \u3000]+[\u3041-\u30ff\u4e00-\u9fff]")
# A kana word that starts a phrase: at the start, or after a space or punctuation.
_PHRASE_KANA = re.compile(r"(?:(?<=^)|(?<=[\s\u3000、。「」『』（）？！?!]))[\u3041-\u3096\u30fc]+")

Readings = dict[str, tuple[str, bool]]  # katakana reading -> (written form, read from furigana)


def build(chunks: Sequence[Chunk]) -> Readings:
    """Reading -> its commonest written form in the guidebook's Japanese editions (numbered sections)."""
    counts: Counter[tuple[str, str]] = Counter()
    furigana: dict[str, str] = {}
    for chunk in chunks:
        if chunk.language not in EDITIONS or not numbered(chunk.section_id):
            continue
        for written, kana in _FURIGANA.findall(chunk.text):
            furigana.setdefault(kana.translate(KATAKANA_OF), written)
        for run in reading_runs(chunk.text):
            for i in range(len(run)):
                written = reading = ""
                for surface, kana in run[i:i + MAX_MORPHEMES]:
                    written, reading = written + surface, reading + kana
                    if HAN_RUN.search(written) and len(reading) >= MIN_KANA:
                        counts[(reading, written)] += 1
    out: Readings = {kana: (written, True) for kana, written in furigana.items()}
    for (reading, written), _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        out.setdefault(reading, (written, False))
    return dict(sorted(out.items()))


def looks_easy(text: str) -> bool:
    """Written like easy Japanese: Japanese with phrases spaced apart and under 15 % kanji."""
    japanese = _JAPANESE.findall(text)
    return bool(japanese) and bool(_SPACED.search(text)) and \
        sum(1 for c in japanese if HAN_RUN.match(c)) < EASY_MAX_KANJI * len(japanese)


class KanaReader:
    """``to_kanji`` over one version's readings (the voiceless table is made once)."""

    def __init__(self, readings: Readings) -> None:
        self._exact = readings
        self._voiceless: dict[str, str] = {}
        for reading, (written, _) in readings.items():
            if len(reading) >= MIN_VOICELESS:
                self._voiceless.setdefault(_loose(reading), written)

    def to_kanji(self, text: str) -> str:
        """``text`` with each phrase-initial kana word in the guidebook's writing, if it looks like easy
        Japanese and any word is known; else ``text`` itself."""
        if not self._exact or not looks_easy(text):
            return text
        return _PHRASE_KANA.sub(self._word, text)

    def _word(self, match: re.Match[str]) -> str:
        word = match.group(0)
        kana = word.translate(KATAKANA_OF)
        for n in range(len(word), 1, -1):  # the longest reading the word starts with
            found = self._exact.get(kana[:n])
            if found and (n >= MIN_KANA or found[1]):
                return found[0] + word[n:]
            if n >= MIN_VOICELESS and (written := self._voiceless.get(_loose(kana[:n]))):
                return written + word[n:]
        return word


def _loose(reading: str) -> str:
    """The reading with voiced kana after the first made voiceless (compounding voices no first kana)."""
    return reading[:1] + reading[1:].translate(VOICELESS)


def save(readings: Readings, folder: Path) -> None:
    data = {reading: [written, furigana] for reading, (written, furigana) in readings.items()}
    (folder / FILE).write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def load(folder: Path) -> Readings:
    data = read_part(folder / FILE, "a readings table")
    if not all(isinstance(v, list) and len(v) == 2 for v in data.values()):
        raise IndexMismatchError(f"{folder / FILE}: not a readings table; rebuild the index with `kb sync`")
    return {str(k): (str(v[0]), bool(v[1])) for k, v in data.items()}
