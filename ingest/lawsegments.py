"""The text of one e-Gov provision: an article (or 附則 paragraph run, or 別表) as 項 segments and
tables, packed into blocks of at most ``MAX_BLOCK_CHARS`` at 項 boundaries (then 号, イ ...)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

MAX_BLOCK_CHARS = 1500
_WS = re.compile(r"\s+")  # includes U+3000, the ideographic space e-Gov uses as separator
_CELL_SEP = " | "
# Lines printed above what they label; they are attached to the next paragraph or table.
_LEAD_CLASSES = {
    "_div_ArticleCaption", "_div_ParagraphCaption", "_div_TableStructTitle", "_div_RemarksLabel",
    "_div_AppdxTableTitle", "_div_SupplProvisionAppdxTableTitle", "_div_AppdxNoteTitle",
}
# Outline depth of a line: a block may only start at a 項 (0), or, when one 項 is too long, at a
# 号 (1), イ (2), (1) (3)...; other lines (lists, notes) are never split from what precedes them.
_LINE_LEVELS = {
    "_div_ArticleTitle": 0, "_div_ParagraphSentence": 0, "_div_ItemSentence": 1,
    "_div_Subitem1Sentence": 2, "_div_Subitem2Sentence": 3, "_div_Subitem3Sentence": 4,
}
_MAX_LEVEL = max(_LINE_LEVELS.values())
_NO_SPLIT = 99


def norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


def classes(el: etree._Element) -> set[str]:
    return set((el.get("class") or "").split())


@dataclass
class _TextSeg:
    """One 項 (or a run of loose lines): (outline level, text) per printed line; a line's text
    starts with the captions/labels printed above it."""

    lines: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _TableSeg:
    lead: list[str]
    rows: list[str]


Segment = _TextSeg | _TableSeg


def segments(children: list[etree._Element]) -> list[_TextSeg | _TableSeg]:
    """Group the content divs of a provision into 項 segments and tables, in page order."""
    segs: list[_TextSeg | _TableSeg] = []
    leads: list[str] = []  # captions / table titles waiting for what they label
    current: _TextSeg | None = None
    for el in children:
        if el.tag == "section":  # nested provision markup: flatten it
            nested = segments(list(el))
            if leads and nested:
                _prepend(nested[0], leads)
                leads = []
            segs.extend(nested)
            current = None
            continue
        table = el if el.tag == "table" else el.find(".//table")
        if table is not None:
            segs.append(_TableSeg(lead=leads, rows=_table_rows(table)))
            leads, current = [], None
            continue
        text = norm(el.text_content())
        if not text:
            continue
        cls = classes(el)
        if cls & _LEAD_CLASSES:
            leads.append(text)
            continue
        level = min((_LINE_LEVELS[c] for c in cls if c in _LINE_LEVELS), default=_NO_SPLIT)
        if level == 0 or current is None:
            current = _TextSeg()
            segs.append(current)
        # A lead (caption, 備考) is glued to the line below it so no split falls between them.
        current.lines.append((level, "\n".join(leads + [text])))
        leads = []
    if leads and segs:  # a trailing label (e.g. 備考 with nothing after it) still gets printed
        segs.append(_TextSeg(lines=[(_NO_SPLIT, "\n".join(leads))]))
    return segs


def _prepend(seg: _TextSeg | _TableSeg, leads: list[str]) -> None:
    if isinstance(seg, _TableSeg):
        seg.lead = leads + seg.lead
    else:
        level, first = seg.lines[0]
        seg.lines[0] = (level, "\n".join(leads + [first]))


def _split_outline(lines: list[tuple[int, str]], level: int = 1) -> list[list[str]]:
    """Cut an oversized 項 before each 号, an oversized 号 before each イ, and so on; a single
    oversized sentence stays whole (there is no structural place to cut it)."""
    if sum(len(text) + 1 for _, text in lines) <= MAX_BLOCK_CHARS or level > _MAX_LEVEL:
        return [[text for _, text in lines]]
    groups: list[list[tuple[int, str]]] = [[]]
    for lvl, text in lines:
        if lvl <= level and groups[-1]:
            groups.append([])
        groups[-1].append((lvl, text))
    return [piece for group in groups for piece in _split_outline(group, level + 1)]


def _table_rows(table: etree._Element) -> list[str]:
    rows = []
    for tr in table.iter("tr"):
        cells = (norm(td.text_content()) for td in tr if td.tag in ("td", "th"))
        row = _CELL_SEP.join(c for c in cells if c)  # blank spacer cells add only noise
        if row:
            rows.append(row)
    return rows


def _pack_lines(pieces: list[list[str]], limit: int) -> list[str]:
    """Greedily join pieces (lists of lines) into texts of at most ``limit`` characters;
    a piece is never split, so an oversized piece becomes a text of its own."""
    texts: list[str] = []
    buf: list[str] = []
    size = 0
    for piece in pieces:
        plen = sum(len(line) + 1 for line in piece)
        if buf and size + plen > limit:
            texts.append("\n".join(buf))
            buf, size = [], 0
        buf.extend(piece)
        size += plen
    if buf:
        texts.append("\n".join(buf))
    return texts


def segment_texts(segs: list[_TextSeg | _TableSeg]) -> list[tuple[str, str]]:
    """(kind, text) per block: text runs packed at 項 boundaries, each table on its own."""
    out: list[tuple[str, str]] = []
    pieces: list[list[str]] = []

    def flush() -> None:
        out.extend(("text", t) for t in _pack_lines(pieces, MAX_BLOCK_CHARS))
        pieces.clear()

    for seg in segs:
        if isinstance(seg, _TableSeg):
            flush()
            row_pieces = [[line] for line in seg.rows] or [[]]
            row_pieces[0] = seg.lead + row_pieces[0]
            out.extend(("table", t) for t in _pack_lines(row_pieces, MAX_BLOCK_CHARS) if t)
        else:
            pieces.extend(_split_outline(seg.lines))
    flush()
    return out
