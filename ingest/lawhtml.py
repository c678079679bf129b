"""Loader for e-Gov law-view HTML pages (法令本文, laws.e-gov.go.jp).

The page is flat: ``section#MainProvision`` holds heading sections (Chapter, Section, ...) that
contain only their title, followed by sibling ``section.Article`` elements, so the heading path is
tracked as a running stack rather than read from nesting. 附則 are ``section.SupplProvision``
siblings (one per amending law), 別表 are ``section.AppdxTable``. The table of contents
(``section#TOC``) and the enactment statement are never visited.

One Block per article; an article longer than ``MAX_BLOCK_CHARS`` is split at 項 boundaries (at
号, then イ, boundaries only when a single 項 is itself too long). Tables become their own
``kind="table"`` blocks with one row per line and cells joined by `` | ``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html
from lxml import etree

from kb.errors import IngestError
from kb.model import Block, Document, PageIssue

MAX_BLOCK_CHARS = 1500
SNIFF_BYTES = 64 * 1024
EGOV_LAW_URL = "https://laws.e-gov.go.jp/law/{law_id}"

# <law id>_<revision date>_<amending law id>.html, as e-Gov names its downloads.
_FILE_NAME = re.compile(r"^(?P<law_id>[0-9A-Za-z]+)_(?P<date>\d{8})(?:_(?P<amend>[0-9A-Za-z]+))?$")
_WS = re.compile(r"\s+")  # includes U+3000, the ideographic space e-Gov uses as separator
_SHORT_TITLE = re.compile(r"^[^（(\s]+")
_FIGURE = "［図］"  # stands in for inline images so quoted figures do not read as 「」
_CELL_SEP = " | "

# Title-div class -> depth; Part(編) > Chapter(章) > Section(節) > Subsection(款) > Division(目).
_HEADING_LEVELS = {
    "_div_PartTitle": 0,
    "_div_ChapterTitle": 1,
    "_div_SectionTitle": 2,
    "_div_SubsectionTitle": 3,
    "_div_DivisionTitle": 4,
}
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
_SKIPPED_SECTIONS = {"TOC", "EnactStatement"}


# ---------------------------------------------------------------------------------------------
# Public API


def is_law_html(path: Path) -> bool:
    """Cheap sniff: does this file look like an e-Gov law-view page? Never raises."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return False
    # lawTitle is e-Gov's title element; _shokanBoxParent wraps every provision on the page.
    return b'id="lawTitle"' in head and b"_shokanBoxParent" in head


def load_law_html(
    path: Path,
    *,
    source_id: str | None = None,
    title: str | None = None,
    language: str | None = None,
    edition: str | None = None,
    url: str | None = None,
) -> Document:
    """Load one e-Gov law page into a Document with one Block per article (or 項 run, or table).

    Defaults come from the e-Gov file name ``<law id>_<YYYYMMDD>_<amending law id>.html``:
    source_id = law id, edition = "YYYY-MM-DD revision", url = the e-Gov page of the law.
    Raises IngestError when the file is missing, empty, or not an e-Gov law page.
    """
    path = Path(path)
    root = _parse(_read(path), path)
    main = _find_section(root, "MainProvision")
    if main is None:
        raise IngestError(f"{path}: not an e-Gov law page (no law body found)")
    _clean(root)

    names = _FILE_NAME.match(path.stem)
    law_id = names["law_id"] if names else None
    revision = _iso_date(names["date"]) if names else None

    walker = _Walker()
    walker.walk_provisions(main.getparent())
    if not walker.blocks:
        raise IngestError(f"{path}: e-Gov law page has no provisions to index")

    issues: list[PageIssue] = []
    if walker.skipped_appendices:
        issues.append(PageIssue(
            source=str(path), reason="unsupported",
            detail=f"{len(walker.skipped_appendices)} appended forms/figures without text "
                   f"(e.g. {walker.skipped_appendices[0]}) were not indexed"))

    meta = {"format": "e-gov-law-html"}
    for key, value in (("law_id", law_id), ("law_number", _law_number(root)),
                       ("revision_date", revision),
                       ("amending_law_id", names["amend"] if names else None)):
        if value:
            meta[key] = value

    return Document(
        source_id=source_id or law_id or path.stem,
        path=str(path),
        title=title or _law_title(root) or path.stem,
        language=language or "ja",
        edition=edition or (f"{revision} revision" if revision else "undated"),
        blocks=tuple(walker.blocks),
        url=url or (EGOV_LAW_URL.format(law_id=law_id) if law_id else None),
        issues=tuple(issues),
        meta=meta,
    )


# ---------------------------------------------------------------------------------------------
# Reading and cleaning


def _read(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise IngestError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise IngestError(f"{path}: is a directory, not a law HTML file") from None
    except OSError as exc:
        raise IngestError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if not data.strip():
        raise IngestError(f"{path}: file is empty")
    return data


def _parse(data: bytes, path: Path) -> lxml.html.HtmlElement:
    try:
        data.decode("utf-8")
        parser = lxml.html.HTMLParser(encoding="utf-8")
    except UnicodeDecodeError:
        parser = None  # let libxml2 follow the page's own charset declaration
    try:
        return lxml.html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise IngestError(f"{path}: not a readable HTML page ({exc})") from None


def _clean(root: lxml.html.HtmlElement) -> None:
    """Make text_content() read like the printed page: no ruby readings, no UI boxes."""
    for el in list(root.iter("rt", "rp", "script", "style")):
        el.drop_tree()  # 庇<rt>ひ</rt>護 would otherwise read 庇ひ護
    for box in root.xpath('//div[@class="_shokanBox" or @class="_inyoBox"]'):
        box.drop_tree()  # per-provision button/popup containers of the e-Gov viewer
    for img in list(root.iter("img")):
        img.tail = _FIGURE + (img.tail or "")
        img.drop_tree()
    for br in root.iter("br"):
        br.tail = " " + (br.tail or "")  # lines inside a table cell


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _classes(el: etree._Element) -> set[str]:
    return set((el.get("class") or "").split())


def _find_section(root: lxml.html.HtmlElement, name: str) -> etree._Element | None:
    el = root.get_element_by_id(name, None)
    if el is not None:
        return el
    return next((s for s in root.iter("section") if name in _classes(s)), None)


def _law_title(root: lxml.html.HtmlElement) -> str | None:
    el = root.get_element_by_id("lawTitle", None)
    text = _norm(el.text_content()) if el is not None else ""
    return text or _norm(root.findtext(".//title") or "") or None


def _law_number(root: lxml.html.HtmlElement) -> str | None:
    el = root.get_element_by_id("lawTitleNo", None)
    return (_norm(el.text_content()) or None) if el is not None else None


def _iso_date(yyyymmdd: str) -> str:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}"


# ---------------------------------------------------------------------------------------------
# Content model: an article (or 附則 paragraph run, or 別表) is a list of segments


@dataclass
class _TextSeg:
    """One 項 (or a run of loose lines): (outline level, text) per printed line; a line's text
    starts with the captions/labels printed above it."""

    lines: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _TableSeg:
    lead: list[str]
    rows: list[str]


def _segments(children: list[etree._Element]) -> list[_TextSeg | _TableSeg]:
    """Group the content divs of a provision into 項 segments and tables, in page order."""
    segs: list[_TextSeg | _TableSeg] = []
    leads: list[str] = []  # captions / table titles waiting for what they label
    current: _TextSeg | None = None
    for el in children:
        if el.tag == "section":  # nested provision markup: flatten it
            nested = _segments(list(el))
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
        text = _norm(el.text_content())
        if not text:
            continue
        cls = _classes(el)
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
        cells = (_norm(td.text_content()) for td in tr if td.tag in ("td", "th"))
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


def _segment_texts(segs: list[_TextSeg | _TableSeg]) -> list[tuple[str, str]]:
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


# ---------------------------------------------------------------------------------------------
# Walking the page


class _Walker:
    """Turns the provision sections of a page into Blocks, tracking the heading path."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.skipped_appendices: list[str] = []

    def walk_provisions(self, body: etree._Element) -> None:
        """Visit the top-level provision sections (本則, each 附則, each 別表) in page order."""
        for sec in body:
            if sec.tag != "section":
                continue
            cls = _classes(sec)
            if "MainProvision" in cls:
                self._container(sec, base=(), id_prefix="")
            elif "SupplProvision" in cls:
                self._suppl(sec)
            elif any(c.startswith("Appdx") for c in cls):
                self._appendix(sec, base=(), id_prefix="")

    def _emit(self, segs: list[_TextSeg | _TableSeg], path: tuple[str, ...],
              section_id: str) -> bool:
        texts = _segment_texts(segs)
        for kind, text in texts:
            self.blocks.append(Block(text=text, section_path=path, section_id=section_id,
                                     kind=kind))
        return bool(texts)

    def _container(self, sec: etree._Element, base: tuple[str, ...], id_prefix: str) -> None:
        """本則 or one 附則: headings, articles, bare paragraphs, appended tables."""
        headings: list[tuple[int, str]] = []
        paragraphs: list[etree._Element] = []

        def flush_paragraphs() -> None:
            if paragraphs:
                path = base + tuple(h for _, h in headings)
                self._emit(_segments(paragraphs), path, id_prefix or "本則")
                paragraphs.clear()

        for child in sec:
            if child.tag != "section":
                continue  # the 附則 label div is read by the caller
            cls = _classes(child)
            if cls & _SKIPPED_SECTIONS:
                continue
            if "Paragraph" in cls:  # a 附則 (or short law) made of bare 項: packed together
                paragraphs.append(child)
                continue
            flush_paragraphs()
            heading = _heading(child)
            if heading is not None:
                level, text = heading
                headings = [h for h in headings if h[0] < level] + [(level, text)]
            elif "Article" in cls:
                self._article(child, base + tuple(h for _, h in headings), id_prefix)
            elif any(c.startswith(("Appdx", "SupplProvisionAppdx")) for c in cls):
                self._appendix(child, base, id_prefix)
        flush_paragraphs()

    def _article(self, sec: etree._Element, path: tuple[str, ...], id_prefix: str) -> None:
        number = _article_number(sec)
        caption = next((_norm(d.text_content()) for d in sec.find_class("_div_ArticleCaption")),
                       "")
        if number is None:  # no 第…条 label: still index it under its container
            self._emit(_segments(list(sec)), path, id_prefix or "本則")
            return
        # The caption makes the citation line self-explanatory: 第十九条の九（住居地の変更届出）
        self._emit(_segments(list(sec)), path + (number + caption,), id_prefix + number)

    def _suppl(self, sec: etree._Element) -> None:
        label_div = next((d for d in sec if "_div_SupplProvisionLabel" in _classes(d)), None)
        label = _suppl_label(label_div) if label_div is not None else "附則"
        self._container(sec, base=(label,), id_prefix="附則")

    def _appendix(self, sec: etree._Element, base: tuple[str, ...], id_prefix: str) -> None:
        title_div = next((d for d in sec if any(c.endswith("Title") for c in _classes(d))), None)
        title = _norm(title_div.text_content()) if title_div is not None else ""
        match = _SHORT_TITLE.match(title)
        short = match.group(0) if match else (title or "別表")
        section_id = short if short.startswith(id_prefix) else id_prefix + short
        # A form/figure published only as an image/PDF leaves nothing but its title, and
        # _segments drops a trailing label when nothing else was found.
        if not self._emit(_segments(list(sec)), base + (short,), section_id):
            self.skipped_appendices.append(title or short)


def _heading(sec: etree._Element) -> tuple[int, str] | None:
    for div in sec:
        for cls in _classes(div):
            if cls in _HEADING_LEVELS:
                return _HEADING_LEVELS[cls], _norm(div.text_content())
    return None


def _article_number(sec: etree._Element) -> str | None:
    """The bold 第…条 label that opens an article's first paragraph."""
    for div in sec.find_class("_div_ArticleTitle"):
        for span in div.iter("span"):
            if "bold" in (span.get("style") or ""):
                return _norm(span.text_content()) or None
    return None


def _suppl_label(div: etree._Element) -> str:
    # "附　則　（平成二一年七月一五日法律第七九号）　抄" -> "附則 （平成二一年…） 抄"
    return re.sub(r"^附 則", "附則", _norm(div.text_content()))
