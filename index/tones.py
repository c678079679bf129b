"""Vietnamese typed without tone marks, read in the Vietnamese edition's spelling.

Residents often type Vietnamese on a keyboard without Vietnamese input (toi bi mat the luu tru for
tôi bị mất thẻ lưu trú). Such a question shares no keyword with the edition and e5 places it far
from the toned text: on the 22 in-scope Vietnamese dev questions with their marks stripped, R@5 was
4 of 22 against 18 with them (15 with this module, which restores 80 % of their syllables).

At every sync this module counts, in the Vietnamese edition's numbered sections, each syllable's
toned forms and each pair of adjacent syllables (plus ``CONVERSATION``, the words of questions).
``restore`` then picks, for a toneless question, the likeliest sequence of toned forms under those
counts: Viterbi over the forms each plain syllable has, scoring a form's share among the forms of
its plain spelling and a bonus for every pair the edition writes. A syllable the edition never
writes stays as typed, and text typed with marks is left alone. Like the easy-Japanese reading
(``index.readings``) the restored text only adds to the question (``answer.retrieve``), so a wrong
guess costs little.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Sequence

from index.manifest import read_part
from kb.errors import IndexMismatchError
from kb.model import Chunk, numbered

FILE = "tones.json"
EDITION = "vi"
PAIR_WEIGHT = 4.0  # per log(1 + count) of a pair the edition writes; 1 -> 4: dev syllables right .778 -> .799

# Words every question uses and a guidebook hardly writes (it says "bạn", never "tôi"): without
# them "toi" is read as "tối" (evening) and "the nao" as "thẻ nào". Counted as if the edition wrote
# each phrase CONVERSATION_COUNT times.
CONVERSATION = ("tôi", "em", "anh", "chị", "mình", "chúng tôi", "vợ tôi", "chồng tôi", "con tôi", "ạ", "nhé",
                "vậy", "làm gì", "thế nào", "như thế nào", "làm thế nào", "bao nhiêu", "bao giờ", "khi nào",
                "ở đâu", "tại sao", "vì sao", "được không", "có không", "phải không", "xin hỏi", "giúp tôi")
CONVERSATION_COUNT = 20

_SYLLABLE = re.compile(r"[^\W\d_]+")

Tones = dict[str, dict[str, int]]  # "forms": toned syllable -> count; "pairs": "a b" -> count


def plain(syllable: str) -> str:
    """The syllable with every mark removed and đ as d: what a keyboard without Vietnamese types."""
    bare = "".join(c for c in unicodedata.normalize("NFD", syllable) if not unicodedata.combining(c))
    return bare.replace("đ", "d").replace("Đ", "D")


def _syllables(text: str) -> list[tuple[str, bool, re.Match[str]]]:
    """(lower-cased syllable, follows the previous one across spaces only, its match) in order;
    ``text`` is NFC already (the edition's text is normalised here, a question is plain ASCII)."""
    out: list[tuple[str, bool, re.Match[str]]] = []
    end = None
    for m in _SYLLABLE.finditer(text):
        out.append((m.group().lower(), end is not None and not text[end:m.start()].strip(), m))
        end = m.end()
    return out


def build(chunks: Sequence[Chunk]) -> Tones:
    """Counts of the Vietnamese edition's syllables and adjacent pairs (numbered sections), and of
    ``CONVERSATION``; empty when there is no Vietnamese edition."""
    forms: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    texts = [(c.text, 1) for c in chunks if c.language == EDITION and numbered(c.section_id)]
    if not texts:
        return {"forms": {}, "pairs": {}}  # no Vietnamese edition: nothing to restore
    for text, weight in texts + [(phrase, CONVERSATION_COUNT) for phrase in CONVERSATION]:
        previous = None
        for syllable, joined, _ in _syllables(unicodedata.normalize("NFC", text)):
            forms[syllable] += weight
            if joined and previous is not None:
                pairs[f"{previous} {syllable}"] += weight
            previous = syllable
    return {"forms": dict(sorted(forms.items())), "pairs": dict(sorted(pairs.items()))}


class ToneReader:
    """``restore`` over one version's counts (the plain-spelling table is made once)."""

    def __init__(self, tones: Tones) -> None:
        self._pairs = tones.get("pairs", {})
        by_plain: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for form, count in tones.get("forms", {}).items():
            by_plain[plain(form)].append((form, count))
        self._candidates: dict[str, list[tuple[str, float]]] = {}  # plain spelling -> (form, log share)
        for key, found in by_plain.items():
            total = sum(c for _, c in found)
            self._candidates[key] = [(form, math.log(count / total)) for form, count in found]

    def restore(self, text: str) -> str:
        """``text`` in the edition's spelling when it is plain ASCII and any syllable is known; else
        ``text`` itself. Case and everything between syllables are kept."""
        if not self._candidates or not text.isascii():
            return text
        syllables = _syllables(text)
        if not syllables:
            return text
        out, pos = [], 0
        for (_, _, typed), form in zip(syllables, self._best(syllables)):
            out.append(text[pos:typed.start()])
            out.append(form.capitalize() if typed.group()[:1].isupper() else form)
            pos = typed.end()
        out.append(text[pos:])
        return "".join(out)

    def _best(self, syllables: list[tuple[str, bool, re.Match[str]]]) -> list[str]:
        """Viterbi over each syllable's toned forms (itself when the edition has none)."""
        lattice = [self._candidates.get(s, [(s, 0.0)]) for s, _, _ in syllables]
        score = [share for _, share in lattice[0]]
        back: list[list[int]] = [[0] * len(lattice[0])]
        for i in range(1, len(lattice)):
            joined = syllables[i][1]
            row, links = [], []
            for form, share in lattice[i]:
                best, link = -math.inf, 0
                for k, (before, _) in enumerate(lattice[i - 1]):
                    bonus = PAIR_WEIGHT * math.log1p(self._pairs.get(f"{before} {form}", 0)) if joined else 0.0
                    if score[k] + bonus > best:
                        best, link = score[k] + bonus, k
                row.append(best + share)
                links.append(link)
            score, back = row, back + [links]
        k = max(range(len(score)), key=score.__getitem__)
        chosen = []
        for i in range(len(lattice) - 1, -1, -1):
            chosen.append(lattice[i][k][0])
            k = back[i][k]
        return chosen[::-1]


def save(tones: Tones, folder: Path) -> None:
    (folder / FILE).write_text(json.dumps(tones, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def load(folder: Path) -> Tones:
    data = read_part(folder / FILE, "a tone table")
    parts = (data.get("forms"), data.get("pairs"))
    if not all(isinstance(p, dict) and all(isinstance(v, int) for v in p.values()) for p in parts):
        raise IndexMismatchError(f"{folder / FILE}: not a tone table; rebuild the index with `kb sync`")
    return {"forms": parts[0], "pairs": parts[1]}
