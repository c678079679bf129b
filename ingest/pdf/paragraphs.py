"""Where a paragraph ends and which lines are table rows, from each page's layout measures."""
from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass

from ingest.pdf.headings import KANA_ORDER
from ingest.pdf.lines import Line
from ingest.pdf.text import est_width, is_wide

_ITEM_START = re.compile(
    r"^([・●○◆◇■□▶►▼※＊*•\-–【\[［〔]|[（(]?[0-9０-９]{1,2}[)）．.][^0-9０-９]|[（(][0-9０-９]{1,2}[)）]"
    r"|[①-⑳]|[一二三四五六七八九十]{1,3}[\u3000 ]|[0-9０-９]{1,2}[\u3000 ]"
    rf"|[{KANA_ORDER}][\u3000 ]|[（(][{KANA_ORDER}a-zA-Z][)）])")
_TERMINAL = tuple("。．.!?！？」』")


@dataclass
class Metrics:
    """Per-page layout measures used to find paragraph ends."""

    body_size: float
    body_bold: bool
    right_edge: float
    pitch: float


def page_metrics(lines: list[Line], doc_body: float) -> Metrics:
    chars: Counter[float] = Counter()
    bold_chars = 0
    for ln in lines:
        n = len(ln.text.strip())
        chars[ln.size] += n
        bold_chars += n if ln.bold else 0
    total = sum(chars.values())
    # Headings are measured against the larger of the page's and the document's body size:
    # on a page of small chart labels or footnotes, ordinary body text must not look big.
    body = max(chars.most_common(1)[0][0], doc_body) if total >= 100 else doc_body
    body_lines = [ln for ln in lines if abs(ln.size - body) <= 0.5]
    # The right margin: widths of CJK glyphs are exact (1em), Latin ones only guessed, so
    # measure lines ending in a CJK character; the second-longest resists one overestimate.
    wide_ends = sorted(ln.x + est_width(ln.text.rstrip(), ln.size) for ln in body_lines
                       if ln.text.strip() and is_wide(ln.text.rstrip()[-1]))
    all_ends = sorted(ln.x + est_width(ln.text.rstrip(), ln.size) for ln in body_lines)
    if len(wide_ends) >= 2:
        right = wide_ends[-2]
    else:
        right = all_ends[int(0.9 * (len(all_ends) - 1))] if all_ends else 0.0
    steps = [a.y - b.y for a, b in zip(body_lines, body_lines[1:]) if 0 < a.y - b.y < 3 * body]
    pitch = statistics.median(steps) if steps else body * 1.5
    return Metrics(body, total > 0 and bold_chars * 2 > total, right, pitch)


def breaks_paragraph(prev: Line, line: Line, m: Metrics) -> bool:
    if line.gap_before or abs(prev.size - line.size) > 1.0:
        return True
    drop = prev.y - line.y
    if drop > 1.7 * m.pitch or drop < -line.size:  # blank space, or a jump to another column
        return True
    if _ITEM_START.match(line.text.strip()):
        return True
    prev_text = prev.text.rstrip()
    end = prev.x + est_width(prev_text, prev.size)
    # Latin glyph widths are guessed, so every Latin character widens the tolerance.
    narrow = sum(1 for ch in prev_text if not is_wide(ch))
    short = end < m.right_edge - (2 + 0.12 * narrow) * prev.size
    # Japanese wraps at any character, so a wrapped CJK line runs to the right margin: a
    # short one was ended on purpose (list label, caption, last line of a paragraph).
    # Latin text wraps at words and widths are only estimated, so it also needs a full stop.
    if short and is_wide(prev_text[-1]):
        return True
    if prev_text.endswith(_TERMINAL):
        indented = line.x > prev.x + 0.5 * line.size
        return short or indented
    return False


def table_flags(lines: list[Line]) -> list[bool]:
    """Runs of 3+ lines split into cells by wide gaps look like table rows (best effort)."""
    cellish = [ln.cells >= 3 or len(re.findall(r"\S {3,}(?=\S)", ln.text)) >= 2 for ln in lines]
    flags = [False] * len(lines)
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and cellish[j]:
            j += 1
        if j - i >= 3:
            flags[i:j] = [True] * (j - i)
        i = max(j, i + 1)
    return flags
