"""A page's visual lines, read off pypdf's content-stream walk with their font size,
position and weight; superscripts and same-baseline pieces (table cells) re-joined."""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ingest.limits import check_time
from ingest.pdf.pagenumbers import PAGE_NO
from ingest.pdf.text import est_width, is_wide

_BOLD_FONT = re.compile(r"bold|black|heavy|[-,_+]bd\b|demi|[-_]w[6-9]\b", re.I)

_Fragment = tuple[str, float, float, float, bool]  # text, effective size, x, y, bold


@dataclass
class Line:
    """One visual line: its text and where/how it was printed."""

    text: str
    size: float       # dominant font size (by characters)
    max_size: float
    x: float
    y: float
    bold: bool        # most characters in a bold face
    gap_before: bool = False  # a blank line preceded it in the content stream
    cells: int = 1    # same-baseline pieces joined across a wide gap (table cells)
    edge: bool = False  # in the top/bottom band where running headers/footers sit


def _mult(m: list[float], n: list[float]) -> list[float]:
    return [m[0] * n[0] + m[1] * n[2], m[0] * n[1] + m[1] * n[3],
            m[2] * n[0] + m[3] * n[2], m[2] * n[1] + m[3] * n[3],
            m[4] * n[0] + m[5] * n[2] + n[4], m[4] * n[1] + m[5] * n[3] + n[5]]


def _raw_lines(page: Any) -> list[tuple[str, list[_Fragment]]]:
    """Split pypdf's plain-mode output into lines, keeping per-fragment size/position/bold."""
    lines: list[tuple[str, list[_Fragment]]] = []
    text_parts: list[str] = []
    frags: list[_Fragment] = []

    def visitor(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        check_time()  # called for every piece of text: a page with millions of them stops here
        m = _mult(list(tm), list(cm))
        eff = abs(size) * math.sqrt(abs(m[0] * m[3] - m[1] * m[2]))
        name = str(font.get("/BaseFont", "")) if font else ""
        bold = bool(_BOLD_FONT.search(name))
        pieces = text.split("\n")
        for k, piece in enumerate(pieces):
            if k:
                lines.append(("".join(text_parts), frags.copy()))
                text_parts.clear()
                frags.clear()
            if piece:
                text_parts.append(piece)
                if piece.strip():
                    frags.append((piece, eff, m[4], m[5], bold))

    page.extract_text(extraction_mode="plain", visitor_text=visitor)
    lines.append(("".join(text_parts), frags.copy()))
    return lines


def build_lines(page: Any) -> list[Line]:
    """Visible lines of a page, with superscripts and same-baseline pieces re-joined."""
    box = page.cropbox
    left, bottom, right, top = (float(v) for v in (box.left, box.bottom, box.right, box.top))
    out: list[Line] = []
    pending_gap = False
    for text, frags in _raw_lines(page):
        if not text.strip() or not frags:
            pending_gap = pending_gap or not text.strip()
            continue
        x, y = frags[0][2], frags[0][3]
        # Text outside the crop box (printer's slug, bleed) is not on the page a reader sees.
        if not (left - 2 <= x <= right + 2 and bottom - 2 <= y <= top + 2):
            continue
        by_size: Counter[float] = Counter()
        bold_chars = 0
        for piece, size, _, _, bold in frags:
            n = len(piece.strip())
            by_size[round(size, 1)] += n
            bold_chars += n if bold else 0
        total = sum(by_size.values())
        line = Line(text=text, size=by_size.most_common(1)[0][0],
                    max_size=max(by_size), x=x, y=y, bold=bold_chars * 2 > total,
                    gap_before=pending_gap)
        pending_gap = False
        prev = out[-1] if out else None
        if prev is not None and _same_baseline(prev, line):
            _merge_into(prev, line)
        else:
            out.append(line)
    return out


def _same_baseline(prev: Line, line: Line) -> bool:
    """pypdf breaks the line at a superscript (footnote mark) and again after it; a piece
    that continues to the right within half a line height belongs to the same line. A bare
    number exactly on the baseline is kept apart: it is a page number beside a footer."""
    size = max(prev.size, line.size)
    if abs(line.y - prev.y) > 0.6 * size or line.x <= prev.x or line.gap_before:
        return False
    on_baseline = abs(line.y - prev.y) < 0.15 * size
    bare_number = PAGE_NO.match(prev.text.strip()) or PAGE_NO.match(line.text.strip())
    return not (on_baseline and bare_number)


def _merge_into(prev: Line, line: Line) -> None:
    gap = line.x - (prev.x + est_width(prev.text.rstrip(), prev.size))
    a, b = prev.text.rstrip(), line.text.lstrip()
    if gap > 2 * prev.size:
        sep = "  "  # a wide gap: separate cells of a table row
        prev.cells += 1
    elif (a and is_wide(a[-1])) or (b and is_wide(b[0])):
        sep = ""
    else:
        sep = " "
    # The baseline text decides the size: a footnote mark must not make a line a heading.
    if line.size > prev.size and len(b) > len(a):
        prev.size = line.size
    if len(b) > 3:
        prev.max_size = max(prev.max_size, line.max_size)
    prev.text = a + sep + b
