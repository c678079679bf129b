"""Property-based fuzzing of the loaders and the chunker (issue 14): random structure, huge runs of
whitespace, deep nesting, odd encodings and names. Every case must end within its time bound
(the hypothesis deadline) with a Document or an IngestError (one line, naming the file), and every
chunk must be a verbatim span of its document.

The suite runs a few dozen fixed cases per property; `python -m bench.fuzz` (the "fuzz" profile)
runs thousands of random ones.
"""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.chunker import chunk_document, sentences
from ingest.lawhtml import load_law_html
from ingest.loader import collect, load_all
from ingest.markdown import load_markdown, load_text
from kb.config import ChunkSettings
from kb.errors import IngestError
from kb.model import Block, Document

FS = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SPACE = st.sampled_from([" ", "\t", "\u3000", "\u00a0", "\n", "\r\n", "\r", "\x0b", "\x0c", "\u2028"])
WORD = st.sampled_from(["在留カード", "届出", "14日以内", "です。", "Residence card.", "Thẻ cư trú", "!", "?",
                        "。", "」", "（３）", "第1章", "1", "(3)", "|", "---", "#", ">", "<!--", "-->", "page:",
                        "\x1b[2J", "\u202e", "\ufeff", "\x00", "a" * 50])


def runs(piece: st.SearchStrategy[str], most: int = 3000) -> st.SearchStrategy[str]:
    """``piece`` repeated up to ``most`` times: the shape that made regexes backtrack."""
    return st.builds(lambda p, n: p * n, piece, st.integers(0, most))


TEXT = st.lists(st.one_of(WORD, SPACE, runs(SPACE), st.text(max_size=20)), max_size=60).map("".join)
MD_LINE = st.one_of(
    st.builds(lambda h, s, t, tail: h + s + t + tail, st.text("#", min_size=1, max_size=8), runs(SPACE, 5000),
              TEXT, st.sampled_from(["", " #", " ###", "#" * 20, " " * 3000])),
    st.builds(lambda s, p: f"<!--{s}page:{s}{p}{s}-->", runs(SPACE, 500), TEXT),
    st.builds(lambda cells: "|" + "|".join(cells) + "|", st.lists(TEXT, max_size=6)),
    st.builds(lambda t: "> " + t, TEXT), TEXT, runs(st.sampled_from(["|", "-", ":", " "]), 3000))
MARKDOWN = st.builds(lambda front, lines: front + "\n".join(lines),
                     st.sampled_from(["", "+++\ntitle = \"t\"\n+++\n", "+++\nbroken", "+++\ntitle = 1 2\n+++\n"]),
                     st.lists(MD_LINE, max_size=40))


def _load_written(load, data: bytes, suffix: str, name: str = "case") -> None:
    """``data`` written to a file of its own, checked with ``_document_or_one_line``, then removed
    (hypothesis runs hundreds of examples: left behind, they would fill the temporary directory)."""
    with tempfile.TemporaryDirectory(prefix="kbfuzz") as folder:
        path = Path(folder) / f"{name}{suffix}"
        path.write_bytes(data)
        _document_or_one_line(load, path)


def _document_or_one_line(load, path: Path) -> None:
    """``load(path)`` gives a Document whose chunks are verbatim spans, or one IngestError line naming it."""
    try:
        doc = load(path)
    except IngestError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    _check_document(doc)


def _check_document(doc: Document) -> None:
    text = doc.text
    for chunk in chunk_document(doc, 120, 30):
        assert text[chunk.char_start:chunk.char_end] == chunk.text
        assert 0 < len(chunk.text) <= 120
        for start, end in sentences(chunk.text):
            assert 0 <= start < end <= len(chunk.text)


@FS
@given(MARKDOWN, st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp932", "latin-1"]))
def test_markdown_and_text_loaders_end_with_a_document_or_one_line(text, encoding):
    try:
        data = text.encode(encoding, "surrogatepass")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogatepass")
    for suffix, load in ((".md", load_markdown), (".txt", load_text)):
        _load_written(load, data, suffix)


SECTION = st.sampled_from(["MainProvision", "Chapter", "Section", "Article", "Paragraph", "SupplProvision",
                           "AppdxTable", "TOC", "", "Part"])
DIV = st.sampled_from(["_div_ChapterTitle", "_div_SectionTitle", "_div_ArticleTitle", "_div_ArticleCaption",
                       "_div_ParagraphSentence", "_div_ItemSentence", "_div_SupplProvisionLabel", "_shokanBox", ""])


@st.composite
def law_html(draw) -> str:
    def element(depth: int) -> str:
        kind = draw(st.sampled_from(["section", "div", "span", "table", "ruby", "text", "deep"]))
        if kind == "text" or depth > 6:
            return draw(TEXT).replace("<", "&lt;")
        if kind == "deep":
            n = draw(st.integers(1, 3000))
            return "<section>" * n + draw(TEXT) + "</section>" * draw(st.integers(0, n))
        inner = "".join(element(depth + 1) for _ in range(draw(st.integers(0, 4))))
        if kind == "section":
            return f'<section class="active {draw(SECTION)}" id="{draw(SECTION)}">{inner}</section>'
        if kind == "div":
            bold = '<span style="font-weight: bold;">第一条</span>' if draw(st.booleans()) else ""
            return f'<div class="{draw(DIV)} _shokanBoxParent">{bold}{inner}</div>'
        if kind == "table":
            return f"<table><tr><td>{inner}</td><td>{draw(TEXT)}</td></tr></table>"
        return f"<{kind}>{inner}<rt>よみ</rt></{kind}>"

    body = "".join(element(0) for _ in range(draw(st.integers(0, 5))))
    main = f'<section id="MainProvision" class="active MainProvision">{body}</section>' if draw(st.booleans()) else body
    return (f'<html><head><meta charset="utf-8"></head><body><div id="lawTitle" class="_shokanBoxParent">'
            f'{draw(TEXT)}</div>{main}</body></html>')


@FS
@given(law_html(), st.sampled_from(["utf-8", "cp932", "utf-16"]),
       st.sampled_from(["100AC0000000001_20250601_000", "law", "x_1"]))
def test_the_law_html_loader_ends_with_a_document_or_one_line(page, encoding, name):
    _load_written(load_law_html, page.encode(encoding, "replace"), ".html", name)


def _pdf(pages: list[list[tuple[float, float, float, str]]]) -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out)
    for page in pages:
        for x, y, size, text in page:
            c.setFont("Helvetica", size)
            c.drawString(x, y, text)
        c.showPage()
    c.save()
    return out.getvalue()


PDF_TEXT = st.text(st.characters(codec="latin-1", exclude_categories=["Cs"]), max_size=80)
PDF_LINE = st.tuples(st.floats(-50, 700), st.floats(-50, 900), st.sampled_from([1.0, 6.0, 10.5, 14.0, 40.0]),
                     st.one_of(PDF_TEXT, runs(st.sampled_from([".", "・", " ", "1", "*"]), 400)))
PAGES = st.lists(st.lists(PDF_LINE, max_size=25), min_size=1, max_size=6)


@FS
@given(PAGES, st.sampled_from(["keep", "truncate", "flip", "garbage-tail", "no-eof"]), st.integers(0, 10**6))
def test_the_pdf_loader_ends_with_a_document_or_one_line(pages, damage, where):
    from ingest.pdf import load_pdf

    data = bytearray(_pdf(pages))
    at = where % len(data)
    if damage == "truncate":
        data = data[:max(at, 16)]
    elif damage == "flip":
        data[at] ^= 0xFF
    elif damage == "garbage-tail":
        data += os.urandom(64)
    elif damage == "no-eof":
        data = data.replace(b"%%EOF", b"")
    _load_written(load_pdf, bytes(data), ".pdf")


BLOCKS = st.lists(st.builds(Block, TEXT.filter(str.strip), st.lists(TEXT, max_size=3).map(tuple),
                            st.none(), st.none(), st.none(), st.sampled_from(["text", "table"])), max_size=15)


@FS
@given(BLOCKS, st.integers(50, 600), st.integers(0, 49))
def test_chunks_are_verbatim_spans_within_the_size(blocks, size, overlap):
    doc = Document("fuzz", "fuzz.md", "t", "ja", "", tuple(blocks))
    chunks = chunk_document(doc, size, overlap)
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    for chunk in chunks:
        assert doc.text[chunk.char_start:chunk.char_end] == chunk.text and 0 < len(chunk.text) <= size


@FS
@given(st.lists(st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\0" not in b
                                                          and b not in (b".", b"..")), min_size=1, max_size=5))
def test_any_file_name_is_read_or_reported_never_a_crash(names):
    with tempfile.TemporaryDirectory(prefix="kbfuzz") as folder:
        _load_names(Path(folder), names)


def _load_names(folder: Path, names: list[bytes]) -> None:
    for n, raw in enumerate(names):
        with open(os.fsencode(folder) + b"/" + raw + f"{n}.md".encode(), "wb") as f:
            f.write("# 見出し\n本文です。\n".encode())
    try:
        loaded = load_all(collect([folder]), ChunkSettings(400, 80))
    except IngestError as exc:  # two names that read the same, or nothing readable
        assert "\n" not in str(exc)
        return
    for report in loaded.reports:
        report.path.encode("utf-8"), report.source_id.encode("utf-8")  # storable, printable
        assert report.error is None or "\n" not in report.error
