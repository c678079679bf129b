"""Line breaking for terminals: display width by East Asian Width and combining marks (``wcwidth``),
Japanese line-breaking rules (禁則処理), and easy-Japanese phrases kept whole.

rich measures Devanagari vowel signs as zero-width and breaks Japanese before 。 or after 「, so
the terminal views wrap text here and hand rich lines that already fit (``answer.render.layout``).

Where a line may break: at a space; between two characters when either is wide (kanji, kana,
fullwidth forms: Japanese and Chinese need no spaces); never inside a grapheme cluster (a Thai or
Devanagari syllable, a Vietnamese letter with its tone mark), never between a digit and a wide
character (14|日). Easy Japanese (やさしい日本語) separates phrases with spaces: there a line breaks
at those spaces (and after 、。) only, unless one phrase alone is wider than the line; so does text
in a narrow script, so that a Japanese term inside a Thai or Nepali sentence (交番) stays whole. Words longer than the line
are cut at a grapheme boundary. No line starts with a character of ``NO_START`` or ends with one
of ``NO_END``; the character before is moved to the next line instead (追い出し), so no line is ever
wider than asked.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from wcwidth import iter_graphemes, width as _wcwidth

from answer.render.safe import printable

# 行頭禁則: closing brackets and quotes, punctuation, iteration marks, the long-vowel mark, small kana.
NO_START = frozenset(
    "、。，．,.:;：；?!？！‼⁇⁈⁉)）]］}｝〕〉》」』】〙〗〟’”｠»・…‥ー々ゝゞヽヾ〻〜～゠–‐%％"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ")
# 行末禁則: opening brackets and quotes.
NO_END = frozenset("(（[［{｛〔〈《「『【〘〖〝‘“｟«")
SPACES = frozenset(" \u3000")  # where a line may break (a no-break space, U+00A0, is not one)
NBSP = "\u00a0"  # glues a citation marker to its sentence; printed as a plain space
ELLIPSIS = "…"
PHRASE_END = frozenset("、。，．！？")  # a phrase ends after these too (easy Japanese puts no space there)


def display_width(text: str) -> int:
    """Terminal cells ``text`` occupies (wide characters 2, combining marks 0, spacing vowel signs 1)."""
    return max(_wcwidth(text, control_codes="ignore"), 0)


def ljust(text: str, cells: int) -> str:
    """``text`` padded with spaces to ``cells`` display cells."""
    return text + " " * max(cells - display_width(text), 0)


def _wide(grapheme: str) -> bool:
    return unicodedata.east_asian_width(grapheme[0]) in "WF"


def spaced(text: str) -> bool:
    """Whether ``text`` puts spaces between its words or phrases, so lines should break there: text
    mostly in narrow scripts (Latin, Thai, Devanagari; a Japanese term inside stays whole), and easy
    Japanese (``在留カードを なくした ときは``); not ordinary Japanese or Chinese."""
    chars = [c for c in text if not c.isspace()]
    wide = sum(1 for c in chars if unicodedata.east_asian_width(c) in "WF")
    if wide * 2 < len(chars):
        return True
    gaps = len(re.findall(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])", text))
    return gaps >= 2 and gaps * 25 >= wide


def wrap(text: str, width: int, *, phrases: bool | None = None) -> list[str]:
    """``text`` broken into lines of at most ``width`` cells (each ``\\n`` starts a new line).

    ``phrases``: break only at spaces where possible (default: ``spaced(text)``)."""
    width = max(width, 2)  # a wide character must fit
    lines: list[str] = []
    for paragraph in printable(text.replace("\t", " ")).split("\n"):  # no terminal controls (safe)
        keep = spaced(paragraph) if phrases is None else phrases
        lines += _wrap_paragraph(paragraph, width, keep)
    return lines


def _wrap_paragraph(text: str, width: int, phrases: bool) -> list[str]:
    g = list(iter_graphemes(text))
    w = [display_width(x) for x in g]
    lines: list[str] = []
    start = 0
    while start < len(g):
        while start < len(g) and g[start] in SPACES:
            start += 1
        if start == len(g):
            break
        end, used = start, 0
        while end < len(g) and used + w[end] <= width:
            used += w[end]
            end += 1
        if end == len(g):
            lines.append("".join(g[start:]).rstrip())
            break
        cut = _break(g, start, max(end, start + 1), phrases)
        lines.append("".join(g[start:cut]).rstrip())
        start = cut
    return [line.replace(NBSP, " ") for line in lines] or [""]  # a no-break space glues, then reads as a space


def _break(g: Sequence[str], start: int, end: int, phrases: bool) -> int:
    """Where the next line starts: the last allowed break at or before ``end`` (where the text
    stopped fitting), preferring spaces when ``phrases``; else a grapheme boundary that keeps 禁則."""
    space = cjk = None
    for p in range(end, start, -1):
        kind = _opportunity(g, start, p)
        if kind == "space" and space is None:
            space = p
        elif kind == "cjk" and cjk is None:
            cjk = p
        if space is not None and (cjk is not None or phrases):
            break
    if phrases and space is not None:
        return space
    if space is not None or cjk is not None:
        return max(p for p in (space, cjk) if p is not None)
    for p in range(end, start, -1):  # one word wider than the line: cut it, still never before 。 etc.
        if g[p][0] not in NO_START and g[p - 1][-1] not in NO_END:
            return p
    return end


def _opportunity(g: Sequence[str], start: int, p: int) -> str | None:
    """"space", "cjk" or None: whether a line may end before ``g[p]`` (the line began at ``start``)."""
    before, after = g[p - 1], g[p] if p < len(g) else " "
    if NBSP in (before, after):
        return None
    if before in SPACES or after in SPACES or before[-1] in PHRASE_END:
        kind = "space"
    elif (_wide(before) or _wide(after)) and not (before.isdigit() and before.isascii()):
        kind = "cjk"
    else:
        return None
    i, j = p - 1, p
    while i >= start and g[i] in SPACES:
        i -= 1
    while j < len(g) and g[j] in SPACES:
        j += 1
    if i < start or j == len(g) or g[j][0] in NO_START or g[i][-1] in NO_END:
        return None
    return kind


def clip_lines(lines: list[str], max_lines: int, width: int) -> list[str]:
    """At most ``max_lines`` lines; when some were cut, the last one ends with an ellipsis."""
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    last = list(iter_graphemes(kept[-1]))
    while last and display_width("".join(last)) + display_width(ELLIPSIS) > width:
        last.pop()
    kept[-1] = "".join(last).rstrip() + ELLIPSIS
    return kept
