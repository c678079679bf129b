"""Printed text of one line: estimated widths, whitespace repair and joining wrapped lines."""
from __future__ import annotations

import re
import unicodedata

from ingest.quality import char_script

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\ufffd]")
_CJK_CHAR = r"[\u3005\u3006\u3041-\u309f\u30a1-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff、。]"
_CJK_SPACE = re.compile(rf"(?<={_CJK_CHAR}) (?={_CJK_CHAR})")


def is_wide(ch: str) -> bool:
    """CJK letters and fullwidth punctuation: no space is written next to them (Korean, though
    wide, separates words with spaces)."""
    script = char_script(ch)
    return script == "cjk" or (unicodedata.east_asian_width(ch) in ("W", "F")
                               and script != "hangul")


def est_width(text: str, size: float) -> float:
    """Rough printed width (pypdf's visitor gives no glyph widths): CJK 1em, others ~0.55em."""
    return sum(size if is_wide(ch) else 0.55 * size for ch in text)


def clean_line(text: str, *, join_cjk: bool = True) -> str:
    """Whitespace repair of one printed line: control characters out, a lone space between
    CJK characters (an extraction artefact) removed, other space runs collapsed to one."""
    text = CONTROL.sub("", text).replace("\t", "  ").replace("\u00a0", " ")
    if join_cjk and _letter_spaced(text):
        text = _CJK_SPACE.sub("", text)  # before collapsing: deliberate wide gaps survive
    return re.sub(r" {2,}", " ", text).strip()


def _letter_spaced(text: str) -> bool:
    """A line extracted as "在 留 カ ー ド": spaces between most CJK characters. A single
    space in ordinary text ("第２０条 休日は") is printed spacing and is kept."""
    cjk = len(re.findall(_CJK_CHAR, text))
    return cjk >= 2 and len(_CJK_SPACE.findall(text)) >= 0.5 * (cjk - 1)


def table_row(text: str) -> str:
    """A table row keeps its cell boundaries as tabs."""
    text = CONTROL.sub("", text).replace("\u00a0", " ")
    return "\t".join(clean_line(cell, join_cjk=False) for cell in re.split(r"\t| {2,}", text)
                     if cell.strip())


def tidy(text: str) -> str:
    """Collapse ASCII whitespace runs; keep ideographic spaces as printed."""
    return re.sub(r"[ \t\u00a0]+", " ", CONTROL.sub("", text)).strip(" \t\u00a0\u3000")


def join_lines(a: str, b: str) -> str:
    """Join a wrapped line: no space next to CJK (or inside Thai/Lao/Burmese/Khmer text),
    one space between Latin words, a hyphen at a Latin line end kept and joined."""
    a, b = a.rstrip(), b.lstrip()
    if not a or not b:
        return a or b
    last, first = a[-1], b[0]
    if is_wide(last) or is_wide(first):
        return a + b
    sa, sb = char_script(last), char_script(first)
    if sa == sb and sa in ("thai", "lao", "myanmar", "khmer", "tibetan"):
        return a + b
    if last == "-" and len(a) > 1 and a[-2].isalpha():
        return a + b
    return a + " " + b
