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
from pathlib import Path

import lxml.html
from lxml import etree

from ingest.lawsegments import MAX_BLOCK_CHARS, Segment, classes, norm, segment_texts, segments
from ingest.limits import check_time, guard
from kb.errors import IngestError
from kb.model import Block, Document, PageIssue

__all__ = ["MAX_BLOCK_CHARS", "is_law_html", "load_law_html"]

SNIFF_BYTES = 64 * 1024
EGOV_LAW_URL = "https://laws.e-gov.go.jp/law/{law_id}"

# <law id>_<revision date>_<amending law id>.html, as e-Gov names its downloads.
_FILE_NAME = re.compile(r"^(?P<law_id>[0-9A-Za-z]+)_(?P<date>\d{8})(?:_(?P<amend>[0-9A-Za-z]+))?$")
_SHORT_TITLE = re.compile(r"^[^（(\s]+")
_FIGURE = "［図］"  # stands in for inline images so quoted figures do not read as 「」
# Characters libxml2 parses into text but lxml refuses to write back (XML 1.0 forbids them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# Title-div class -> depth; Part(編) > Chapter(章) > Section(節) > Subsection(款) > Division(目).
_HEADING_LEVELS = {
    "_div_PartTitle": 0,
    "_div_ChapterTitle": 1,
    "_div_SectionTitle": 2,
    "_div_SubsectionTitle": 3,
    "_div_DivisionTitle": 4,
}
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
    release: str | None = None,
    url: str | None = None,
) -> Document:
    """Load one e-Gov law page into a Document with one Block per article (or 項 run, or table).

    Defaults come from the e-Gov file name ``<law id>_<YYYYMMDD>_<amending law id>.html``:
    source_id = law id, release = "YYYY-MM-DD revision", url = the e-Gov page of the law.
    Raises IngestError when the file is missing, empty, or not an e-Gov law page.
    """
    path = Path(path)
    root, parser_stopped = _parse(_read(path), path)
    issues: list[PageIssue] = []
    if parser_stopped:
        issues.append(PageIssue(str(path), "limit", f"the parser stopped reading: {parser_stopped}; "
                                "text after that point may be missing"))
    main = _find_section(root, "MainProvision")
    if main is None:
        raise IngestError(f"{path}: not an e-Gov law page (no law body found)")
    _clean(root)
    _limit_depth(root)

    names = _FILE_NAME.match(path.stem)
    law_id = names["law_id"] if names else None
    revision = _iso_date(names["date"]) if names else None

    walker = _Walker()
    walker.walk_provisions(main.getparent())
    if not walker.blocks:
        raise IngestError(f"{path}: e-Gov law page has no provisions to index")

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
        release=release or (f"{revision} revision" if revision else "undated"),
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


def _parse(data: bytes, path: Path) -> tuple[lxml.html.HtmlElement, str]:
    """The page's tree, and why libxml2 stopped early ("" when it read everything): past 255
    levels of nesting it silently drops the rest of the page."""
    try:
        data.decode("utf-8")
        parser = lxml.html.HTMLParser(encoding="utf-8")
    except UnicodeDecodeError:
        parser = lxml.html.HTMLParser()  # let libxml2 follow the page's own charset declaration
    try:
        root = lxml.html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise IngestError(f"{path}: not a readable HTML page ({exc})") from None
    fatal = next((e for e in parser.error_log if e.level_name == "FATAL"), None)
    return root, (fatal.message.split(",")[0] if fatal is not None else "")


def _limit_depth(root: lxml.html.HtmlElement) -> None:
    """Drop what is nested deeper than ``max_nesting`` (reported): e-Gov pages nest 12 levels."""
    limits = guard()
    limit = limits.limits.max_nesting
    deepest, dropped, stack = 0, 0, [(root, 0)]
    while stack:
        el, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth >= limit:
            dropped += 1
            el.drop_tree()  # its text goes too; the text after it stays
            continue
        stack.extend((child, depth + 1) for child in el)
    if dropped:
        limits.report(f"{dropped} element(s) nested deeper than max_nesting = {limit} levels were not read "
                      "(KB_MAX_NESTING)")


def _clean(root: lxml.html.HtmlElement) -> None:
    """Make text_content() read like the printed page: no ruby readings, no UI boxes."""
    _scrub(root)  # before any edit below: dropping an element rewrites its neighbour's text
    for el in list(root.iter("rt", "rp", "script", "style")):
        el.drop_tree()  # 庇<rt>ひ</rt>護 would otherwise read 庇ひ護
    for box in root.xpath('//div[@class="_shokanBox" or @class="_inyoBox"]'):
        box.drop_tree()  # per-provision button/popup containers of the e-Gov viewer
    for img in list(root.iter("img")):
        img.tail = _FIGURE + (img.tail or "")
        img.drop_tree()
    for br in root.iter("br"):
        br.tail = " " + (br.tail or "")  # lines inside a table cell


def _scrub(root: lxml.html.HtmlElement) -> None:
    """Control characters in text become spaces: lxml raises on writing them back."""
    for el in root.iter():
        if el.text and _NOT_XML.search(el.text):
            el.text = _NOT_XML.sub(" ", el.text)
        if el.tail and _NOT_XML.search(el.tail):
            el.tail = _NOT_XML.sub(" ", el.tail)


def _find_section(root: lxml.html.HtmlElement, name: str) -> etree._Element | None:
    el = root.get_element_by_id(name, None)
    if el is not None:
        return el
    return next((s for s in root.iter("section") if name in classes(s)), None)


def _law_title(root: lxml.html.HtmlElement) -> str | None:
    el = root.get_element_by_id("lawTitle", None)
    text = norm(el.text_content()) if el is not None else ""
    return text or norm(root.findtext(".//title") or "") or None


def _law_number(root: lxml.html.HtmlElement) -> str | None:
    el = root.get_element_by_id("lawTitleNo", None)
    return (norm(el.text_content()) or None) if el is not None else None


def _iso_date(yyyymmdd: str) -> str:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}"


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
            check_time()
            if sec.tag != "section":
                continue
            cls = classes(sec)
            if "MainProvision" in cls:
                self._container(sec, base=(), id_prefix="")
            elif "SupplProvision" in cls:
                self._suppl(sec)
            elif any(c.startswith("Appdx") for c in cls):
                self._appendix(sec, base=(), id_prefix="")

    def _emit(self, segs: list[Segment], path: tuple[str, ...],
              section_id: str) -> bool:
        texts = segment_texts(segs)
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
                self._emit(segments(paragraphs), path, id_prefix or "本則")
                paragraphs.clear()

        for child in sec:
            check_time()
            if child.tag != "section":
                continue  # the 附則 label div is read by the caller
            cls = classes(child)
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
        caption = next((norm(d.text_content()) for d in sec.find_class("_div_ArticleCaption")),
                       "")
        if number is None:  # no 第…条 label: still index it under its container
            self._emit(segments(list(sec)), path, id_prefix or "本則")
            return
        # The caption makes the citation line self-explanatory: 第十九条の九（住居地の変更届出）
        self._emit(segments(list(sec)), path + (number + caption,), id_prefix + number)

    def _suppl(self, sec: etree._Element) -> None:
        label_div = next((d for d in sec if "_div_SupplProvisionLabel" in classes(d)), None)
        label = _suppl_label(label_div) if label_div is not None else "附則"
        self._container(sec, base=(label,), id_prefix="附則")

    def _appendix(self, sec: etree._Element, base: tuple[str, ...], id_prefix: str) -> None:
        title_div = next((d for d in sec if any(c.endswith("Title") for c in classes(d))), None)
        title = norm(title_div.text_content()) if title_div is not None else ""
        match = _SHORT_TITLE.match(title)
        short = match.group(0) if match else (title or "別表")
        section_id = short if short.startswith(id_prefix) else id_prefix + short
        # A form/figure published only as an image/PDF leaves nothing but its title, and
        # _segments drops a trailing label when nothing else was found.
        if not self._emit(segments(list(sec)), base + (short,), section_id):
            self.skipped_appendices.append(title or short)


def _heading(sec: etree._Element) -> tuple[int, str] | None:
    for div in sec:
        for cls in classes(div):
            if cls in _HEADING_LEVELS:
                return _HEADING_LEVELS[cls], guard().heading(norm(div.text_content()))
    return None


def _article_number(sec: etree._Element) -> str | None:
    """The bold 第…条 label that opens an article's first paragraph."""
    for div in sec.find_class("_div_ArticleTitle"):
        for span in div.iter("span"):
            if "bold" in (span.get("style") or ""):
                return norm(span.text_content()) or None
    return None


def _suppl_label(div: etree._Element) -> str:
    # "附　則　（平成二一年七月一五日法律第七九号）　抄" -> "附則 （平成二一年…） 抄"
    return re.sub(r"^附 則", "附則", norm(div.text_content()))
