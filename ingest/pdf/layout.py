"""Page furniture: running headers/footers (stripped so they neither pollute the text nor
reset the heading stack) and the page number printed on paper, which citations must show."""
from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict

from pypdf import PdfReader

from ingest.pdf.pagenumbers import parse_page_number
from ingest.pdf.reader import Page

RUNNING_Y_TOLERANCE = 4.0  # pt; the same header drifts a little between pages
NUMBER_NEIGHBOURS = 3      # printed numbers are checked against candidates this many pages away


def _mask_key(text: str, digits: bool = True) -> str:
    norm = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    return re.sub(r"\d+", "#", norm) if digits else norm


def mark_running_lines(pages: list[Page]) -> None:
    """Drop lines printed at the same place, size and text on many pages. Digits are masked only
    in the header/footer bands (page numbers, dates): mid-page lines that differ only in their
    numbers are a table or a form's values, not furniture."""
    n = len(pages)
    if n < 2:
        return
    min_pages = 3 if n >= 6 else 2
    groups: dict[tuple[str, float], list[tuple[float, int, int]]] = defaultdict(list)
    for page in pages:
        for i, line in enumerate(page.lines):
            key = _mask_key(line.text, digits=line.edge)
            if key:
                groups[(key, round(line.size), line.edge)].append((line.y, page.index, i))
    by_index = {p.index: p for p in pages}
    for entries in groups.values():
        if len({e[1] for e in entries}) < min_pages:
            continue
        entries.sort()
        start = 0
        best: list[tuple[float, int, int]] = []
        for end in range(len(entries)):  # widest set of pages within the y tolerance
            while entries[end][0] - entries[start][0] > RUNNING_Y_TOLERANCE:
                start += 1
            window = entries[start:end + 1]
            if len({e[1] for e in window}) > len({e[1] for e in best}):
                best = window
        pages_hit = len({e[1] for e in best})
        first = by_index[best[0][1]]
        edge = first.lines[best[0][2]].edge
        # Mid-page repeats (side tabs) need more evidence than header/footer-band repeats.
        needed = min_pages if edge else max(min_pages, math.ceil(0.25 * n))
        if n < 6 and not edge:
            needed = n
        if pages_hit >= needed:
            for _, page_index, line_index in best:
                by_index[page_index].drop.add(line_index)


def _printed_number(page: Page) -> tuple[tuple[str, int] | None, str | None, int | None]:
    """((series, value), label, line index) of a bare page number at the top or bottom."""
    if not page.lines:
        return None, None, None
    order = sorted(range(len(page.lines)), key=lambda i: page.lines[i].y)
    extremes = {order[0], order[-1]}
    best: tuple[float, tuple[str, int] | None, str, int] | None = None
    for i, line in enumerate(page.lines):
        if i not in extremes and not line.edge:
            continue
        parsed = parse_page_number(line.text)
        if parsed is None:
            continue
        edge_dist = min(page.top - line.y, line.y - page.bottom)
        if best is None or edge_dist < best[0]:  # the number nearest the paper's edge
            best = (edge_dist, parsed[0], parsed[1], i)
    if best is None:
        return None, None, None
    return best[1], best[2], best[3]


def resolve_labels(pages: list[Page], reader: PdfReader) -> list[str]:
    """The label each page is cited by: the printed number when it is consistent with
    neighbouring pages, else /PageLabels, else a number interpolated between printed ones.
    Printed numbers taken as labels are dropped from the page text."""
    n = len(pages)
    try:
        pdf_labels = list(reader.page_labels)
        has_pdf_labels = "/PageLabels" in reader.root_object
    except Exception:
        pdf_labels, has_pdf_labels = [], False
    if len(pdf_labels) != n:
        pdf_labels = [str(i + 1) for i in range(n)]
    found = [_printed_number(p) for p in pages]
    numbered = {i: f[0] for i, f in enumerate(found) if f[0] is not None}
    labels: list[str | None] = [None] * n
    offsets: dict[int, tuple[str, int]] = {}  # page index -> (series, printed - index)
    for i, (key, label, line_index) in enumerate(found):
        if label is None or line_index is None:
            continue
        if key is not None:
            series, value = key
            near = [j for j in numbered if j != i and abs(j - i) <= NUMBER_NEIGHBOURS]
            agrees = any(numbered[j][0] == series and numbered[j][1] - value == j - i
                         for j in near)
            if not agrees and (near or len(numbered) >= 3):
                continue  # a stray number (table cell, figure label), not the page number
            offsets[i] = (series, value - i)
        labels[i] = label
        pages[i].drop.add(line_index)
    for i in range(n):
        if labels[i] is not None:
            continue
        if has_pdf_labels:
            labels[i] = pdf_labels[i]
            continue
        before = [j for j in offsets if j < i]
        after = [j for j in offsets if j > i]
        if before and after and offsets[max(before)] == offsets[min(after)]:
            # An unnumbered page (figure, chapter opener) inside a consistently numbered run.
            series, offset = offsets[max(before)]
            labels[i] = f"{series}-{i + offset}" if series else str(i + offset)
        else:
            labels[i] = pdf_labels[i]
    return [lab or str(i + 1) for i, lab in enumerate(labels)]
