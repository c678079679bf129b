"""The syntax of a printed page number: "- 12 -", "p. 3", "3-14" (chapter 3, page 14), "iv"."""
from __future__ import annotations

import re
import unicodedata

PAGE_NO = re.compile(r"^[\s\-‐‑–—―ー－~〜(（\[［<＜]*(?:p\.?\s*|page\s+)?(\d{1,4})"
                     r"(?:\s*/\s*\d{1,4})?[\s\-‐‑–—―ー－~〜)）\]］>＞]*$", re.I)
_ROMAN_PAGE_NO = re.compile(r"^[\s\-‐‑–—―(（]*([ivxlc]{1,7})[\s\-‐‑–—―)）]*$")
_CHAPTER_PAGE_NO = re.compile(r"^[\s(（]*(\d{1,2})\s*[-‐‑–—―－]\s*(\d{1,3})[\s)）]*$")


def parse_page_number(text: str) -> tuple[tuple[str, int] | None, str] | None:
    """A bare printed page number: ((series, value), label), or (None, label) for roman
    front-matter numbers. "- 12 -" -> (("", 12), "12"); "3-7" (chapter 3, page 7) ->
    (("3", 7), "3-7"); "iv" -> (None, "iv")."""
    text = unicodedata.normalize("NFKC", text).strip()
    m = PAGE_NO.match(text)
    if m:
        return ("", int(m.group(1))), str(int(m.group(1)))
    m = _CHAPTER_PAGE_NO.match(text)
    if m:
        return (m.group(1), int(m.group(2))), f"{m.group(1)}-{int(m.group(2))}"
    m = _ROMAN_PAGE_NO.match(text)
    return (None, m.group(1)) if m else None
