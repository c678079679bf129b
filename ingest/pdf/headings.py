"""Which printed lines are headings. Recognition is conservative: a false heading mislabels
every passage under it, so numbered headings need emphasis and unnumbered ones need to stand
out by size; law-style units (第N章, 第N条, 附則) count as printed."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.headings import NUMERAL, chapter_word, kanji_to_int
from ingest.pdf.lines import Line
from ingest.pdf.text import tidy
from ingest.quality import count_letters

HEADING_SIZE_RATIO = 1.1   # numbered headings: at least 10% and 1pt larger than body text...
HEADING_SIZE_MIN_DELTA = 1.0
BIG_HEADING_RATIO = 1.3    # ...unnumbered headings must stand out much more (30% and 2pt)
BIG_HEADING_MIN_DELTA = 2.0
MAX_HEADING_CHARS = 60

RANK_MARKS = {"編": 0, "部": 0, "章": 1, "節": 2, "款": 3}
_LAW_HEADING = re.compile(rf"^第\s?({NUMERAL}|[ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ]+)\s?(編|部|章|節|款)((?:の{NUMERAL})*)"
                          r"(?:[\s\u3000]+(\S.*))?$")
_ARTICLE = re.compile(rf"^第({NUMERAL})条((?:の{NUMERAL})*)(?=[\s\u3000]|$)")
_SUPPL = re.compile(rf"^(附\s?則|別表(?:第{NUMERAL})?)(?:[\s\u3000]*[（(][^）)]*[）)])?"
                    r"(?:[\s\u3000]*抄)?$")
_LEADER_CHARS = "…‥・.．･"
_FOOTNOTE_MARKS = re.compile(r"^(?:[0-9０-９]{1,3}[＊*※]\s*)+")  # matched on the reversed text: linear
_TOC_TITLE = re.compile(r"^(目\s*次|もくじ|contents|table of contents)$", re.I)
KANA_ORDER = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
# Numbered headings that only count when printed larger or bolder than the body text.
_EMPH_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("num", re.compile(r"^([0-9０-９]{1,2})(?:[\s\u3000]+|[．.](?![0-9０-９])[\s\u3000]*)(\S.*)$")),
    ("paren", re.compile(r"^[（(]([0-9０-９]{1,2})[）)][\s\u3000]*(\S.*)$")),
    ("kana", re.compile(rf"^([{KANA_ORDER}])(?:[\s\u3000]+|[．.][\s\u3000]*)(\S.*)$")),
    ("kana-paren", re.compile(rf"^[（(]([{KANA_ORDER}])[）)][\s\u3000]*(\S.*)$")),
    ("circled", re.compile(r"^([①-⑳])[\s\u3000]*(\S.*)$")),
    ("alpha", re.compile(r"^([A-Z])[.．][\s\u3000]+([A-Z][^a-z]*)$")),
    ("roman", re.compile(r"^([IVX]{1,4})[.．][\s\u3000]+([A-Z][^a-z]*)$")),
)


@dataclass
class Heading:
    label: str          # as printed (whitespace tidied)
    style: str          # "章", "num", "paren", "size", "article", ...
    rank: int | None    # fixed rank for law-style units; None = nests by first appearance
    num: str | None     # dotted-id component ("1", "3-2") or the article text ("第十九条の九")
    size: float = 0.0
    value: int | None = None  # an article's number, to tell quotations from new articles

    @property
    def article(self) -> bool:
        return self.style == "article"


def _ordinal(token: str) -> int | None:
    """A heading's number: a numeral (arabic, kanji, roman, circled), else the place of a
    kana or Latin capital in its list order (ア=1, B=2)."""
    value = kanji_to_int(token)
    if value is None and len(token) == 1:
        if token in KANA_ORDER:
            return KANA_ORDER.index(token) + 1
        if "A" <= token <= "Z":
            return ord(token) - ord("A") + 1
    return value


def _branch_id(base: str, branches: str) -> str | None:
    """"三" + "の二" -> "3-2" (law branch numbering)."""
    value = kanji_to_int(base)
    if value is None:
        return None
    parts = [str(value)] + [str(kanji_to_int(b)) for b in re.findall(NUMERAL, branches or "")]
    return "-".join(parts)


def heading_label(text: str) -> str:
    """A heading as printed, without a trailing footnote mark ("…の開発＊5")."""
    text = tidy(text)
    marks = _FOOTNOTE_MARKS.match(text[::-1])
    return text[:len(text) - marks.end()].rstrip() if marks else text


def _leader(text: str) -> bool:
    """Ends in a dot leader, maybe with a page number ("在留カード……12"): a table-of-contents line.
    Read from the end: a search for the leader from every position was quadratic in dots."""
    rest = text.rstrip().rstrip("0123456789０１２３４５６７８９").rstrip()
    return len(rest) >= 3 and all(ch in _LEADER_CHARS for ch in rest[-3:])


def _plausible_title(title: str) -> bool:
    t = title.strip()
    return (0 < len(t) <= MAX_HEADING_CHARS and not t.endswith(("。", "、", "，", ",", "．"))
            and count_letters(t) >= 1 and not _leader(t))


def is_toc(lines: list[Line]) -> bool:
    """Table-of-contents pages list headings; they must not drive the heading stack."""
    if any(_TOC_TITLE.match(re.sub(r"\s+", " ", ln.text).strip()) for ln in lines):
        return True
    return sum(1 for ln in lines if _leader(ln.text)) >= 3


def classify(line: Line, body_size: float, body_bold: bool) -> Heading | None:
    """A heading recognised from numbering pattern and emphasis, or None (body text)."""
    text = heading_label(line.text)
    if not text or _leader(text):  # table-of-contents entry
        return None
    m = _ARTICLE.match(text)
    if m:  # an article line carries the article's first sentence, so any length
        label = re.sub(r"\s", "", m.group(0))
        return Heading(label, "article", None, label, line.max_size, kanji_to_int(m.group(1)))
    if len(text) > MAX_HEADING_CHARS:
        return None
    m = _LAW_HEADING.match(text)
    # Chapter titles are short; "第３章 の規定により…" wrapped into a line start is not one.
    if m and (m.group(4) is None or (_plausible_title(m.group(4)) and len(m.group(4)) <= 30)):
        return Heading(text, m.group(2), RANK_MARKS[m.group(2)],
                       _branch_id(m.group(1), m.group(3)), line.max_size)
    if _SUPPL.match(text):
        return Heading(text, "suppl", 1, None, line.max_size)
    bigger = (line.max_size >= body_size * HEADING_SIZE_RATIO
              and line.max_size - body_size >= HEADING_SIZE_MIN_DELTA)
    emphasized = bigger or (line.bold and not body_bold)
    if not emphasized:
        return None
    chapter = chapter_word(text)
    if chapter and (chapter[1] is None or _plausible_title(chapter[1])):
        return Heading(text, "章", RANK_MARKS["章"], str(chapter[0]), line.max_size)
    for style, pattern in _EMPH_PATTERNS:
        m = pattern.match(text)
        if m and _plausible_title(m.group(2)):
            value = _ordinal(m.group(1))
            return Heading(text, style, None, str(value) if value else None, line.max_size)
    big = (line.max_size >= body_size * BIG_HEADING_RATIO
           and line.max_size - body_size >= BIG_HEADING_MIN_DELTA)
    if big and _plausible_title(text) and count_letters(text) >= 2:
        return Heading(text, "size", None, None, line.max_size)
    return None
