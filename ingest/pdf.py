"""Load a PDF into a Document: one Block per run of text under one heading path on one page.

Citations must show the page number printed on paper, so the loader reads printed page
numbers off the page (top/bottom bare numbers, checked against neighbouring pages) before
falling back to the PDF's /PageLabels. Running headers/footers are stripped so they neither
pollute the text nor reset the heading stack, headings are recognised conservatively (a
false heading mislabels every passage under it), and pages whose text is unreadable are
reported as PageIssues instead of being indexed.
"""
from __future__ import annotations

import logging
import math
import re
import statistics
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

from kb.errors import IngestError
from kb.model import Block, Document, PageIssue
from ingest.quality import (assess_page_text, char_script, count_letters,
                            garbled_line_mask, guess_language)

# pypdf logs recoverable damage ("EOF marker not found", missing fontTools) as warnings; with
# no logging configured Python prints them raw to stderr in the middle of CLI output. A
# NullHandler silences that fallback; an application that configures logging still sees them.
logging.getLogger("pypdf").addHandler(logging.NullHandler())

# --- layout thresholds -------------------------------------------------------------------
EDGE_BAND = 0.10          # top/bottom share of the page where headers, footers, numbers sit
RUNNING_Y_TOLERANCE = 4.0  # pt; the same header drifts a little between pages
NUMBER_NEIGHBOURS = 3      # printed numbers are checked against candidates this many pages away
HEADING_SIZE_RATIO = 1.1   # numbered headings: at least 10% and 1pt larger than body text...
HEADING_SIZE_MIN_DELTA = 1.0
BIG_HEADING_RATIO = 1.3    # ...unnumbered headings must stand out much more (30% and 2pt)
BIG_HEADING_MIN_DELTA = 2.0
MAX_HEADING_CHARS = 60
_BOLD_FONT = re.compile(r"bold|black|heavy|[-,_+]bd\b|demi|[-_]w[6-9]\b", re.I)


# --- extraction ----------------------------------------------------------------------------

@dataclass
class _Line:
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


@dataclass
class _Page:
    index: int
    lines: list[_Line]
    top: float
    bottom: float
    has_images: bool
    error: str | None = None
    drop: set[int] = field(default_factory=set)  # line indexes stripped as running/page no.


def _mult(m: list[float], n: list[float]) -> list[float]:
    return [m[0] * n[0] + m[1] * n[2], m[0] * n[1] + m[1] * n[3],
            m[2] * n[0] + m[3] * n[2], m[2] * n[1] + m[3] * n[3],
            m[4] * n[0] + m[5] * n[2] + n[4], m[4] * n[1] + m[5] * n[3] + n[5]]


def _is_wide(ch: str) -> bool:
    """CJK letters and fullwidth punctuation: no space is written next to them (Korean, though
    wide, separates words with spaces)."""
    script = char_script(ch)
    return script == "cjk" or (unicodedata.east_asian_width(ch) in ("W", "F")
                               and script != "hangul")


def _est_width(text: str, size: float) -> float:
    """Rough printed width (pypdf's visitor gives no glyph widths): CJK 1em, others ~0.55em."""
    return sum(size if _is_wide(ch) else 0.55 * size for ch in text)


def _raw_lines(page: Any) -> list[tuple[str, list[tuple[str, float, float, float, bool]]]]:
    """Split pypdf's plain-mode output into lines, keeping per-fragment size/position/bold."""
    lines: list[tuple[str, list[tuple[str, float, float, float, bool]]]] = []
    text_parts: list[str] = []
    frags: list[tuple[str, float, float, float, bool]] = []

    def visitor(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
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


def _build_lines(page: Any) -> list[_Line]:
    """Visible lines of a page, with superscripts and same-baseline pieces re-joined."""
    box = page.cropbox
    left, bottom, right, top = (float(v) for v in (box.left, box.bottom, box.right, box.top))
    out: list[_Line] = []
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
        line = _Line(text=text, size=by_size.most_common(1)[0][0],
                     max_size=max(by_size), x=x, y=y, bold=bold_chars * 2 > total,
                     gap_before=pending_gap)
        pending_gap = False
        prev = out[-1] if out else None
        if prev is not None and _same_baseline(prev, line):
            _merge_into(prev, line)
        else:
            out.append(line)
    return out


def _same_baseline(prev: _Line, line: _Line) -> bool:
    """pypdf breaks the line at a superscript (footnote mark) and again after it; a piece
    that continues to the right within half a line height belongs to the same line. A bare
    number exactly on the baseline is kept apart: it is a page number beside a footer."""
    size = max(prev.size, line.size)
    if abs(line.y - prev.y) > 0.6 * size or line.x <= prev.x or line.gap_before:
        return False
    on_baseline = abs(line.y - prev.y) < 0.15 * size
    bare_number = _PAGE_NO.match(prev.text.strip()) or _PAGE_NO.match(line.text.strip())
    return not (on_baseline and bare_number)


def _merge_into(prev: _Line, line: _Line) -> None:
    gap = line.x - (prev.x + _est_width(prev.text.rstrip(), prev.size))
    a, b = prev.text.rstrip(), line.text.lstrip()
    if gap > 2 * prev.size:
        sep = "  "  # a wide gap: separate cells of a table row
        prev.cells += 1
    elif (a and _is_wide(a[-1])) or (b and _is_wide(b[0])):
        sep = ""
    else:
        sep = " "
    # The baseline text decides the size: a footnote mark must not make a line a heading.
    if line.size > prev.size and len(b) > len(a):
        prev.size = line.size
    if len(b) > 3:
        prev.max_size = max(prev.max_size, line.max_size)
    prev.text = a + sep + b


def _has_images(page: Any, depth: int = 0) -> bool:
    """Any image XObject in the page (or its forms' resources): cheap, nothing is decoded."""
    try:
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else None
        xobjects = resources.get("/XObject") if resources else None
        if not xobjects:
            return False
        for ref in xobjects.get_object().values():
            obj = ref.get_object()
            subtype = obj.get("/Subtype")
            if subtype == "/Image":
                return True
            if subtype == "/Form" and depth < 3 and _has_images(obj, depth + 1):
                return True
    except Exception:  # broken resources: treat as no images, text decides
        return False
    return False


# --- opening -------------------------------------------------------------------------------

def _open_reader(path: Path) -> PdfReader:
    """A decrypted PdfReader, or IngestError with a one-line reason naming the file."""
    if not path.exists():
        raise IngestError(f"{path}: file not found")
    if path.is_dir():
        raise IngestError(f"{path}: is a directory, not a PDF file")
    try:
        with path.open("rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise IngestError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not head:
        raise IngestError(f"{path}: file is empty (0 bytes)")
    if b"%PDF-" not in head:
        raise IngestError(f"{path}: not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except DependencyError as exc:
                raise IngestError(f"{path}: is encrypted and decrypting it needs the "
                                  "'cryptography' package (pip install cryptography)") from exc
            if not ok:
                raise IngestError(f"{path}: is encrypted with a password; decrypt it first "
                                  "(qpdf --decrypt)")
        n_pages = len(reader.pages)
    except IngestError:
        raise
    except FileNotDecryptedError as exc:
        raise IngestError(f"{path}: is encrypted with a password; decrypt it first "
                          "(qpdf --decrypt)") from exc
    except PyPdfError as exc:
        raise IngestError(f"{path}: corrupt or truncated PDF, cannot be read "
                          f"({_short(exc)})") from exc
    except Exception as exc:  # pypdf also fails with bare ValueError/KeyError/zlib.error...
        raise IngestError(f"{path}: corrupt or truncated PDF, cannot be read "
                          f"({type(exc).__name__}: {_short(exc)})") from exc
    if n_pages == 0:
        raise IngestError(f"{path}: corrupt or truncated PDF, no pages found")
    return reader


def _short(exc: BaseException) -> str:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return msg if len(msg) <= 120 else msg[:117] + "..."


def _read_page(reader: PdfReader, index: int) -> _Page:
    try:
        page = reader.pages[index]
        box = page.cropbox
        top, bottom = float(box.top), float(box.bottom)
    except Exception as exc:  # one broken page must not lose the whole document
        return _Page(index, [], 0.0, 0.0, False, error=_short(exc))
    try:
        lines = _build_lines(page)
    except Exception as exc:
        return _Page(index, [], top, bottom, _has_images(page), error=_short(exc))
    result = _Page(index, lines, top, bottom, _has_images(page))
    for line in lines:
        line.edge = _in_band(result, line)
    return result


# --- running headers/footers and printed page numbers --------------------------------------

_PAGE_NO = re.compile(r"^[\s\-‐‑–—―ー－~〜(（\[［<＜]*(?:p\.?\s*|page\s+)?(\d{1,4})"
                      r"(?:\s*/\s*\d{1,4})?[\s\-‐‑–—―ー－~〜)）\]］>＞]*$", re.I)
_ROMAN_PAGE_NO = re.compile(r"^[\s\-‐‑–—―(（]*([ivxlc]{1,7})[\s\-‐‑–—―)）]*$")


def _in_band(page: _Page, line: _Line) -> bool:
    height = max(page.top - page.bottom, 1.0)
    return line.y >= page.top - EDGE_BAND * height or line.y <= page.bottom + EDGE_BAND * height


def _mask_key(text: str) -> str:
    norm = unicodedata.normalize("NFKC", text)
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", norm))


def _mark_running_lines(pages: list[_Page]) -> None:
    """Drop lines printed at the same place, size and text (digits masked) on many pages."""
    n = len(pages)
    if n < 2:
        return
    min_pages = 3 if n >= 6 else 2
    groups: dict[tuple[str, float], list[tuple[float, int, int]]] = defaultdict(list)
    for page in pages:
        for i, line in enumerate(page.lines):
            key = _mask_key(line.text)
            if key:
                groups[(key, round(line.size))].append((line.y, page.index, i))
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


_CHAPTER_PAGE_NO = re.compile(r"^[\s(（]*(\d{1,2})\s*[-‐‑–—―－]\s*(\d{1,3})[\s)）]*$")


def _parse_page_number(text: str) -> tuple[tuple[str, int] | None, str] | None:
    """A bare printed page number: ((series, value), label), or (None, label) for roman
    front-matter numbers. "- 12 -" -> (("", 12), "12"); "3-7" (chapter 3, page 7) ->
    (("3", 7), "3-7"); "iv" -> (None, "iv")."""
    text = unicodedata.normalize("NFKC", text).strip()
    m = _PAGE_NO.match(text)
    if m:
        return ("", int(m.group(1))), str(int(m.group(1)))
    m = _CHAPTER_PAGE_NO.match(text)
    if m:
        return (m.group(1), int(m.group(2))), f"{m.group(1)}-{int(m.group(2))}"
    m = _ROMAN_PAGE_NO.match(text)
    return (None, m.group(1)) if m else None


def _printed_number(page: _Page) -> tuple[tuple[str, int] | None, str | None, int | None]:
    """((series, value), label, line index) of a bare page number at the top or bottom."""
    if not page.lines:
        return None, None, None
    order = sorted(range(len(page.lines)), key=lambda i: page.lines[i].y)
    extremes = {order[0], order[-1]}
    best: tuple[float, tuple[str, int] | None, str, int] | None = None
    for i, line in enumerate(page.lines):
        if i not in extremes and not line.edge:
            continue
        parsed = _parse_page_number(line.text)
        if parsed is None:
            continue
        edge_dist = min(page.top - line.y, line.y - page.bottom)
        if best is None or edge_dist < best[0]:  # the number nearest the paper's edge
            best = (edge_dist, parsed[0], parsed[1], i)
    if best is None:
        return None, None, None
    return best[1], best[2], best[3]


def _resolve_labels(pages: list[_Page], reader: PdfReader) -> list[str]:
    """The label each page is cited by: the printed number when it is consistent with
    neighbouring pages, else /PageLabels, else a number interpolated between printed ones."""
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


# --- headings ------------------------------------------------------------------------------

_NUM = r"[0-9０-９一二三四五六七八九十百千〇零]+"
_RANK_MARKS = {"編": 0, "部": 0, "章": 1, "節": 2, "款": 3}
_LAW_HEADING = re.compile(rf"^第\s?({_NUM}|[ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ]+)\s?(編|部|章|節|款)((?:の{_NUM})*)"
                          r"(?:[\s\u3000]+(\S.*))?$")
_ARTICLE = re.compile(rf"^第({_NUM})条((?:の{_NUM})*)(?=[\s\u3000]|$)")
_SUPPL = re.compile(r"^(附\s?則|別表(?:第" + _NUM + r")?)(?:[\s\u3000]*[（(][^）)]*[）)])?"
                    r"(?:[\s\u3000]*抄)?$")
# Chapter headings of the translated guidebook editions; unlike 第N章 they need emphasis,
# since "Chapter 3 explains ..." can open a body line.
_CHAPTER_WORD = re.compile(r"^(?:chapter|chương|capítulo|kabanata|bab|chapitre|глава|бүлэг"
                           r"|अध्याय|บทที่)\s*(\d{1,2})\b[\s.:：]*(\S.*)?$|^제\s?(\d{1,2})\s?장\s*(\S.*)?$",
                           re.IGNORECASE)
_CAPTION = re.compile(r"^[（(][^（）()]{1,30}[）)]$")
_LEADER = re.compile(r"[…‥・.．･]{3,}\s*[0-9０-９]*\s*$")
_KANA_ORDER = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
# Numbered headings that only count when printed larger or bolder than the body text.
_EMPH_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("num", re.compile(r"^([0-9０-９]{1,2})(?:[\s\u3000]+|[．.](?![0-9０-９])[\s\u3000]*)(\S.*)$")),
    ("paren", re.compile(r"^[（(]([0-9０-９]{1,2})[）)][\s\u3000]*(\S.*)$")),
    ("kana", re.compile(rf"^([{_KANA_ORDER}])(?:[\s\u3000]+|[．.][\s\u3000]*)(\S.*)$")),
    ("kana-paren", re.compile(rf"^[（(]([{_KANA_ORDER}])[）)][\s\u3000]*(\S.*)$")),
    ("circled", re.compile(r"^([①-⑳])[\s\u3000]*(\S.*)$")),
    ("alpha", re.compile(r"^([A-Z])[.．][\s\u3000]+([A-Z][^a-z]*)$")),
    ("roman", re.compile(r"^([IVX]{1,4})[.．][\s\u3000]+([A-Z][^a-z]*)$")),
)
_TOC_TITLE = re.compile(r"^(目\s*次|もくじ|contents|table of contents)$", re.I)


@dataclass
class _Heading:
    label: str          # as printed (whitespace tidied)
    style: str          # "章", "num", "paren", "size", "article", ...
    rank: int | None    # fixed rank for law-style units; None = nests by first appearance
    num: str | None     # dotted-id component ("1", "3-2") or the article text ("第十九条の九")
    size: float = 0.0
    value: int | None = None  # an article's number, to tell quotations from new articles

    @property
    def article(self) -> bool:
        return self.style == "article"


def _to_int(token: str) -> int | None:
    """Arabic/fullwidth/kanji/roman numeral, circled digit or iroha-free kana order -> int."""
    s = unicodedata.normalize("NFKC", token).strip()
    if s.isdigit():
        return int(s)
    if s in _KANA_ORDER:
        return _KANA_ORDER.index(s) + 1
    if re.fullmatch(r"[IVX]+", s):
        vals = {"I": 1, "V": 5, "X": 10}
        total = 0
        for a, b in zip(s, s[1:] + " "):
            total += -vals[a] if b != " " and vals.get(b, 0) > vals[a] else vals[a]
        return total
    if re.fullmatch(r"[A-Z]", s):
        return ord(s) - ord("A") + 1
    digits = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
    units = {"十": 10, "百": 100, "千": 1000}
    if not s or any(ch not in digits and ch not in units for ch in s):
        return None
    total = current = 0
    for ch in s:
        if ch in digits:
            current = current * 10 + digits[ch]
        else:
            total += (current or 1) * units[ch]
            current = 0
    return total + current


def _branch_id(base: str, branches: str) -> str | None:
    """"三" + "の二" -> "3-2" (law branch numbering)."""
    value = _to_int(base)
    if value is None:
        return None
    parts = [str(value)] + [str(_to_int(b)) for b in re.findall(_NUM, branches or "")]
    return "-".join(parts)


def _tidy(text: str) -> str:
    """Collapse ASCII whitespace runs; keep ideographic spaces as printed."""
    return re.sub(r"[ \t\u00a0]+", " ", _CONTROL.sub("", text)).strip(" \t\u00a0\u3000")


def _heading_label(text: str) -> str:
    """A heading as printed, without a trailing footnote mark ("…の開発＊5")."""
    return re.sub(r"(\s*[＊*※][0-9０-９]{1,3})+$", "", _tidy(text))


def _plausible_title(title: str) -> bool:
    t = title.strip()
    return (0 < len(t) <= MAX_HEADING_CHARS and not t.endswith(("。", "、", "，", ",", "．"))
            and count_letters(t) >= 1 and not _LEADER.search(t))


def _classify(line: _Line, body_size: float, body_bold: bool) -> _Heading | None:
    """A heading recognised from numbering pattern and emphasis, or None (body text)."""
    text = _heading_label(line.text)
    if not text or _LEADER.search(text):  # table-of-contents entry
        return None
    m = _ARTICLE.match(text)
    if m:  # an article line carries the article's first sentence, so any length
        label = re.sub(r"\s", "", m.group(0))
        return _Heading(label, "article", None, label, line.max_size, _to_int(m.group(1)))
    if len(text) > MAX_HEADING_CHARS:
        return None
    m = _LAW_HEADING.match(text)
    # Chapter titles are short; "第３章 の規定により…" wrapped into a line start is not one.
    if m and (m.group(4) is None or (_plausible_title(m.group(4)) and len(m.group(4)) <= 30)):
        return _Heading(text, m.group(2), _RANK_MARKS[m.group(2)],
                        _branch_id(m.group(1), m.group(3)), line.max_size)
    if _SUPPL.match(text):
        return _Heading(text, "suppl", 1, None, line.max_size)
    bigger = (line.max_size >= body_size * HEADING_SIZE_RATIO
              and line.max_size - body_size >= HEADING_SIZE_MIN_DELTA)
    emphasized = bigger or (line.bold and not body_bold)
    if not emphasized:
        return None
    m = _CHAPTER_WORD.match(text)
    if m:
        number, title = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        if title is None or _plausible_title(title):
            return _Heading(text, "章", _RANK_MARKS["章"], str(int(number)), line.max_size)
    for style, pattern in _EMPH_PATTERNS:
        m = pattern.match(text)
        if m and _plausible_title(m.group(2)):
            value = (ord(m.group(1)) - ord("①") + 1 if style == "circled"
                     else _to_int(m.group(1)))
            return _Heading(text, style, None, str(value) if value else None, line.max_size)
    big = (line.max_size >= body_size * BIG_HEADING_RATIO
           and line.max_size - body_size >= BIG_HEADING_MIN_DELTA)
    if big and _plausible_title(text) and count_letters(text) >= 2:
        return _Heading(text, "size", None, None, line.max_size)
    return None


class _SectionStack:
    """The headings above the current line, outermost first."""

    def __init__(self) -> None:
        self.stack: list[_Heading] = []

    def push(self, h: _Heading) -> None:
        s = self.stack
        if h.rank is not None:
            # Keep only the outer fixed-rank units (a chapter closes sections, numbered and
            # unnumbered headings, articles below it).
            keep = 0
            for i, e in enumerate(s):
                if e.rank is not None and e.rank < h.rank:
                    keep = i + 1
            del s[keep:]
        else:
            # A heading closes the open heading of its own style (a sibling) and any open
            # heading printed smaller than itself (it is more prominent, so not nested in it);
            # an unnumbered heading also closes unnumbered ones of equal size.
            for i, e in enumerate(s):
                if e.rank is not None:
                    continue
                sibling = e.style == h.style and (h.style != "size" or e.size <= h.size + 0.25)
                smaller = not h.article and e.size < h.size - 0.5
                if sibling or smaller:
                    del s[i:]
                    break
        s.append(h)

    def extend_last(self, text: str) -> None:
        """A heading wrapped onto a second line."""
        last = self.stack[-1]
        sep = "" if _is_wide(last.label[-1]) or _is_wide(text[0]) else " "
        self.stack[-1] = _Heading(last.label + sep + text, last.style, last.rank, last.num,
                                  last.size)

    def is_quotation(self, h: _Heading) -> bool:
        """Articles advance through a law; one that jumps back more than one article from
        the open one is a quoted provision in commentary (a rule book alternative may
        restate the previous article, hence the tolerance of one)."""
        current = next((e for e in reversed(self.stack) if e.article), None)
        return (h.article and current is not None and h.value is not None
                and current.value is not None and h.value < current.value - 1)

    def path(self) -> tuple[str, ...]:
        return tuple(h.label for h in self.stack)

    def section_id(self) -> str | None:
        numbered = [h for h in self.stack if h.num]
        if not numbered:
            return None
        if numbered[-1].article:
            return numbered[-1].num
        return ".".join(h.num or "" for h in numbered if not h.article)


# --- paragraphs and blocks -----------------------------------------------------------------

_ITEM_START = re.compile(
    r"^([・●○◆◇■□▶►▼※＊*•\-–【\[［〔]|[（(]?[0-9０-９]{1,2}[)）．.][^0-9０-９]|[（(][0-9０-９]{1,2}[)）]"
    r"|[①-⑳]|[一二三四五六七八九十]{1,3}[\u3000 ]|[0-9０-９]{1,2}[\u3000 ]"
    rf"|[{_KANA_ORDER}][\u3000 ]|[（(][{_KANA_ORDER}a-zA-Z][)）])")
_TERMINAL = tuple("。．.!?！？」』")
_CJK_CHAR = r"[\u3005\u3006\u3041-\u309f\u30a1-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff、。]"
_CJK_SPACE = re.compile(rf"(?<={_CJK_CHAR}) (?={_CJK_CHAR})")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\ufffd]")


def clean_line(text: str, *, join_cjk: bool = True) -> str:
    """Whitespace repair of one printed line: control characters out, a lone space between
    CJK characters (an extraction artefact) removed, other space runs collapsed to one."""
    text = _CONTROL.sub("", text).replace("\t", "  ").replace("\u00a0", " ")
    if join_cjk and _letter_spaced(text):
        text = _CJK_SPACE.sub("", text)  # before collapsing: deliberate wide gaps survive
    return re.sub(r" {2,}", " ", text).strip()


def _letter_spaced(text: str) -> bool:
    """A line extracted as "在 留 カ ー ド": spaces between most CJK characters. A single
    space in ordinary text ("第２０条 休日は") is printed spacing and is kept."""
    cjk = len(re.findall(_CJK_CHAR, text))
    return cjk >= 2 and len(_CJK_SPACE.findall(text)) >= 0.5 * (cjk - 1)


def _table_row(text: str) -> str:
    """A table row keeps its cell boundaries as tabs."""
    text = _CONTROL.sub("", text).replace("\u00a0", " ")
    return "\t".join(clean_line(cell, join_cjk=False) for cell in re.split(r"\t| {2,}", text)
                     if cell.strip())


def join_lines(a: str, b: str) -> str:
    """Join a wrapped line: no space next to CJK (or inside Thai/Lao/Burmese/Khmer text),
    one space between Latin words, a hyphen at a Latin line end kept and joined."""
    a, b = a.rstrip(), b.lstrip()
    if not a or not b:
        return a or b
    last, first = a[-1], b[0]
    if _is_wide(last) or _is_wide(first):
        return a + b
    sa, sb = char_script(last), char_script(first)
    if sa == sb and sa in ("thai", "lao", "myanmar", "khmer", "tibetan"):
        return a + b
    if last == "-" and len(a) > 1 and a[-2].isalpha():
        return a + b
    return a + " " + b


@dataclass
class _Metrics:
    """Per-page layout measures used to find paragraph ends."""

    body_size: float
    body_bold: bool
    right_edge: float
    pitch: float


def _page_metrics(lines: list[_Line], doc_body: float) -> _Metrics:
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
    wide_ends = sorted(ln.x + _est_width(ln.text.rstrip(), ln.size) for ln in body_lines
                       if ln.text.strip() and _is_wide(ln.text.rstrip()[-1]))
    all_ends = sorted(ln.x + _est_width(ln.text.rstrip(), ln.size) for ln in body_lines)
    if len(wide_ends) >= 2:
        right = wide_ends[-2]
    else:
        right = all_ends[int(0.9 * (len(all_ends) - 1))] if all_ends else 0.0
    steps = [a.y - b.y for a, b in zip(body_lines, body_lines[1:]) if 0 < a.y - b.y < 3 * body]
    pitch = statistics.median(steps) if steps else body * 1.5
    return _Metrics(body, total > 0 and bold_chars * 2 > total, right, pitch)


def _breaks_paragraph(prev: _Line, line: _Line, m: _Metrics) -> bool:
    if line.gap_before or abs(prev.size - line.size) > 1.0:
        return True
    drop = prev.y - line.y
    if drop > 1.7 * m.pitch or drop < -line.size:  # blank space, or a jump to another column
        return True
    if _ITEM_START.match(line.text.strip()):
        return True
    prev_text = prev.text.rstrip()
    end = prev.x + _est_width(prev_text, prev.size)
    # Latin glyph widths are guessed, so every Latin character widens the tolerance.
    narrow = sum(1 for ch in prev_text if not _is_wide(ch))
    short = end < m.right_edge - (2 + 0.12 * narrow) * prev.size
    # Japanese wraps at any character, so a wrapped CJK line runs to the right margin: a
    # short one was ended on purpose (list label, caption, last line of a paragraph).
    # Latin text wraps at words and widths are only estimated, so it also needs a full stop.
    if short and _is_wide(prev_text[-1]):
        return True
    if prev_text.endswith(_TERMINAL):
        indented = line.x > prev.x + 0.5 * line.size
        return short or indented
    return False


def _table_flags(lines: list[_Line]) -> list[bool]:
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


class _BlockWriter:
    """Collects paragraphs under the current heading path and emits Blocks."""

    def __init__(self, sections: _SectionStack) -> None:
        self.sections = sections
        self.blocks: list[Block] = []
        self.paras: list[str] = []
        self.kind = "text"
        self.page_index = 0
        self.page_label = ""

    def start_page(self, index: int, label: str) -> None:
        self.flush()
        self.page_index, self.page_label = index, label

    def add_paragraph(self, text: str, kind: str) -> None:
        if kind != self.kind:
            self.flush()
            self.kind = kind
        if text.strip():
            self.paras.append(text)

    def extend_paragraph(self, text: str) -> None:
        self.paras[-1] = join_lines(self.paras[-1], text)

    def pop_caption(self) -> str | None:
        if self.paras and _CAPTION.match(self.paras[-1].strip()):
            return self.paras.pop()
        return None

    def flush(self) -> None:
        text = "\n".join(p for p in self.paras if p.strip())
        if text.strip():
            self.blocks.append(Block(text=text, section_path=self.sections.path(),
                                     section_id=self.sections.section_id(),
                                     page_index=self.page_index, page_label=self.page_label,
                                     kind=self.kind))
        self.paras = []


def _is_toc(lines: list[_Line]) -> bool:
    """Table-of-contents pages list headings; they must not drive the heading stack."""
    if any(_TOC_TITLE.match(re.sub(r"\s+", " ", ln.text).strip()) for ln in lines):
        return True
    return sum(1 for ln in lines if _LEADER.search(ln.text.rstrip())) >= 3


def _emit_page(lines: list[_Line], writer: _BlockWriter, m: _Metrics) -> None:
    """Turn one page's kept lines into headings and paragraphs."""
    toc = _is_toc(lines)
    tables = _table_flags(lines)
    stack_before = list(writer.sections.stack)
    pushed: list[_Heading] = []
    n_paras = len(writer.blocks), len(writer.paras)
    prev: _Line | None = None      # previous body line (for paragraph joining)
    last_heading: _Line | None = None  # set while only a heading has been seen since
    for line, is_table in zip(lines, tables):
        heading = None if (toc or is_table) else _classify(line, m.body_size, m.body_bold)
        if heading is not None and writer.sections.is_quotation(heading):
            heading = None
        if heading is not None and not heading.article and line.edge \
                and heading.label in writer.sections.path():
            continue  # a running header repeating the current chapter/section title
        if heading is not None and not heading.article:
            if (last_heading is not None and heading.style == "size"
                    and abs(line.max_size - last_heading.max_size) < 0.5
                    and writer.sections.stack):
                writer.sections.extend_last(_heading_label(line.text))  # heading wrapped to 2 lines
                pushed[-1:] = [writer.sections.stack[-1]] if pushed else []
            else:
                writer.flush()
                writer.sections.push(heading)
                pushed.append(heading)
            last_heading, prev = line, None
            continue
        if heading is not None:  # law article: new section, but its text is the body
            caption = writer.pop_caption()
            writer.flush()
            if caption:
                heading = _Heading(heading.label + caption.strip(), heading.style,
                                   heading.rank, heading.num, heading.size, heading.value)
            writer.sections.push(heading)
            if caption:
                writer.add_paragraph(caption, "text")
            writer.add_paragraph(clean_line(line.text), "text")
            last_heading, prev = None, line
            continue
        last_heading = None
        if is_table:
            writer.add_paragraph(_table_row(line.text), "table")
            prev = None
            continue
        text = clean_line(line.text)
        if not text:
            continue
        if prev is None or writer.kind != "text" or not writer.paras \
                or _breaks_paragraph(prev, line, m):
            writer.add_paragraph(text, "text")
        else:
            writer.extend_paragraph(text)
        prev = line
    # A page of big unnumbered lines and no body text is a cover or title page: its lines
    # are not section headings of what follows, but they are still text worth finding.
    if pushed and {h.style for h in pushed} == {"size"} \
            and n_paras == (len(writer.blocks), len(writer.paras)):
        writer.sections.stack[:] = stack_before
        writer.add_paragraph("\n".join(h.label for h in pushed), "text")


def _headings_only(lines: list[_Line], sections: _SectionStack, m: _Metrics) -> None:
    """Update the heading stack from a page whose text is not indexed. Only numbered
    headings count: a big unnumbered line beside a picture is as likely a caption."""
    for line in lines:
        heading = _classify(line, m.body_size, m.body_bold)
        if heading is not None and heading.num and not heading.article \
                and heading.label not in sections.path():
            sections.push(heading)


# --- document ------------------------------------------------------------------------------

def _doc_body_size(pages: list[_Page]) -> float:
    chars: Counter[float] = Counter()
    for p in pages:
        for i, ln in enumerate(p.lines):
            if i not in p.drop:
                chars[ln.size] += len(ln.text.strip())
    return chars.most_common(1)[0][0] if chars else 10.0


def _meta_title(reader: PdfReader) -> str | None:
    """The PDF's /Title when it names the document (not a file name or a placeholder)."""
    try:
        raw = reader.metadata.title if reader.metadata else None
    except Exception:
        return None
    title = " ".join(str(raw or "").split())
    if not title or count_letters(title) < 2:
        return None
    lowered = title.lower()
    if re.search(r"\.(docx?|xlsx?|pptx?|pdf|indd|txt|rtf|odt)$", lowered) or \
            lowered.startswith(("microsoft word", "untitled", "無題")):
        return None
    return title


def load_pdf(path: Path, *, source_id: str | None = None, title: str | None = None,
             language: str | None = None, edition: str = "",
             url: str | None = None) -> Document:
    """Read a PDF into a Document (raises IngestError if the file cannot be read at all).

    Pages that cannot be indexed (image-only, empty, garbled, broken) are reported in
    ``Document.issues`` and contribute no blocks; partly garbled pages are indexed without
    their unreadable lines and reported too.
    """
    path = Path(path)
    reader = _open_reader(path)
    source = source_id or path.name
    pages = [_read_page(reader, i) for i in range(len(reader.pages))]
    readable = [p for p in pages if p.error is None]
    _mark_running_lines(readable)
    labels = _resolve_labels(pages, reader)
    doc_body = _doc_body_size(readable)

    sections = _SectionStack()
    writer = _BlockWriter(sections)
    issues: list[PageIssue] = []
    for page, label in zip(pages, labels):
        writer.flush()  # blocks never span pages; flush before any heading update below
        if page.error is not None:
            issues.append(PageIssue(source, "corrupt", f"text extraction failed: {page.error}",
                                    page.index, label))
            continue
        lines = [ln for i, ln in enumerate(page.lines) if i not in page.drop]
        ok, reason, detail = assess_page_text("\n".join(ln.text for ln in lines),
                                              has_images=page.has_images)
        if not ok:
            issues.append(PageIssue(source, reason, detail, page.index, label))
            if reason == "image-only":  # e.g. an illustrated chapter opener: keep its heading
                _headings_only(lines, sections, _page_metrics(lines, doc_body))
            continue
        if reason:  # partly garbled: index the readable lines only
            mask = garbled_line_mask([ln.text for ln in lines])
            lines = [ln for ln, bad in zip(lines, mask) if not bad]
            issues.append(PageIssue(source, reason, detail, page.index, label))
        writer.start_page(page.index, label)
        _emit_page(lines, writer, _page_metrics(lines, doc_body))
    writer.flush()

    blocks = tuple(writer.blocks)
    sample = "\n".join(b.text for b in blocks)[:20000]
    return Document(
        source_id=source, path=str(path), title=title or _meta_title(reader) or path.stem,
        language=language or guess_language(sample), edition=edition, blocks=blocks, url=url,
        issues=tuple(issues),
        meta={"pages": str(len(pages)),
              "pages_indexed": str(len({b.page_index for b in blocks}))})
