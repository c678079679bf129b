"""Heading numbers as printed in Japanese government documents, and dotted section ids.

``第1章`` / ``第一章`` / ``第Ⅱ章`` / ``Chapter 1`` / ``제1장`` -> the chapter number, ``1 在留カード`` /
``１．`` -> 1, ``(3) 紛失`` / ``（３）`` -> 3. A section id joins the numbers of the numbered
headings on a path: ``"1.1.3"``.
"""
from __future__ import annotations

import re
import unicodedata

_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_ROMAN = {"I": 1, "V": 5, "X": 10}

# Arabic (half- or fullwidth) or kanji numerals, as printed in 第N章 / 第N条.
NUMERAL = r"[0-9０-９〇零一二三四五六七八九十百千]+"
_CHAPTER = re.compile(rf"^第\s*({NUMERAL}|[IVX]+)\s*[章編部節款]")  # Ⅱ is "II" after NFKC
# Chapter headings of the translated editions ("Chapter 1", "Chương 1", "अध्याय 1", "บทที่ 1",
# "제1장"): the number, then the title if one follows.
_CHAPTER_WORD = re.compile(r"^(?:(?:chapter|chương|capítulo|kabanata|bab|chapitre|глава|бүлэг"
                           r"|अध्याय|บทที่)\s*(\d{1,2})\b[\s.:：]*|제\s?(\d{1,2})\s?장\s*)(\S.*)?",
                           re.IGNORECASE)
_NUMBERED = re.compile(r"^([0-9]{1,2})(?:[.．、]|\s)\s*\S")
_PAREN = re.compile(r"^[(（]\s*([0-9]{1,2})\s*[)）]\s*\S")


def kanji_to_int(text: str) -> int | None:
    """``"十九"`` -> 19, ``"百二"`` -> 102, ``"一〇〇"`` -> 100, ``"１２"`` -> 12, ``"①"`` -> 1,
    ``"Ⅳ"`` / ``"IV"`` -> 4; None if not a number."""
    text = unicodedata.normalize("NFKC", text)
    if text.isdigit():
        return int(text)
    if text and all(ch in _KANJI_DIGITS for ch in text):  # positional: 一〇〇 -> 100
        return int("".join(str(_KANJI_DIGITS[ch]) for ch in text))
    if text and all(ch in _ROMAN for ch in text):
        values = [_ROMAN[ch] for ch in text]
        return sum(-v if v < after else v for v, after in zip(values, values[1:] + [0]))
    total, digit = 0, None
    for ch in text:
        if ch in _KANJI_DIGITS:
            digit = _KANJI_DIGITS[ch]
        elif ch in _KANJI_UNITS:
            total += (digit if digit is not None else 1) * _KANJI_UNITS[ch]
            digit = None
        else:
            return None
    return total + (digit or 0)


def chapter_word(text: str) -> tuple[int, str | None] | None:
    """``"Chapter 3: Housing"`` -> ``(3, "Housing")``, ``"제2장"`` -> ``(2, None)``; None if the
    text does not open with a chapter word and number."""
    m = _CHAPTER_WORD.match(text)
    return (int(m.group(1) or m.group(2)), m.group(3)) if m else None


def heading_number(heading: str) -> int | None:
    """The number a heading carries in guidebook style, or None for an unnumbered heading."""
    text = unicodedata.normalize("NFKC", heading).strip()
    chapter = chapter_word(text)
    if chapter:
        return chapter[0]
    for pattern in (_CHAPTER, _PAREN, _NUMBERED):
        m = pattern.match(text)
        if m:
            return kanji_to_int(m.group(1))
    return None


def section_id(path: tuple[str, ...]) -> str | None:
    """Dotted id of the numbered headings on ``path`` (``"1.1.3"``); None if none is numbered."""
    numbers = [n for n in (heading_number(h) for h in path) if n is not None]
    return ".".join(str(n) for n in numbers) or None
