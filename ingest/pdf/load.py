"""load_pdf: read every page, strip page furniture, then walk the pages in order turning
readable text into Blocks and unreadable pages into PageIssues."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from ingest.language import guess_language
from ingest.limits import check_time, guard
from ingest.pdf.blocks import BlockWriter, emit_page, headings_only
from ingest.pdf.layout import mark_running_lines, resolve_labels
from ingest.pdf.paragraphs import page_metrics
from ingest.pdf.reader import Page, meta_title, open_reader, read_page
from ingest.pdf.sections import SectionStack
from ingest.quality import assess_page_text, garbled_line_mask
from kb.model import Document, PageIssue


def _doc_body_size(pages: list[Page]) -> float:
    chars: Counter[float] = Counter()
    for p in pages:
        for i, ln in enumerate(p.lines):
            if i not in p.drop:
                chars[ln.size] += len(ln.text.strip())
    return chars.most_common(1)[0][0] if chars else 10.0


def load_pdf(path: Path, *, source_id: str | None = None, title: str | None = None,
             language: str | None = None, release: str = "",
             url: str | None = None) -> Document:
    """Read a PDF into a Document (raises IngestError if the file cannot be read at all).

    Pages that cannot be indexed (image-only, empty, garbled, broken) are reported in
    ``Document.issues`` and contribute no blocks; partly garbled pages are indexed without
    their unreadable lines and reported too.
    """
    path = Path(path)
    reader = open_reader(path)
    source = source_id or path.name
    limits = guard()
    n_pages = len(reader.pages)
    read = min(n_pages, limits.limits.max_pdf_pages)
    if read < n_pages:
        limits.report(f"pages {read + 1}-{n_pages} were not read: over max_pdf_pages = {read} (KB_MAX_PDF_PAGES)",
                      read, None)
    pages = [read_page(reader, i) for i in range(read)]
    readable = [p for p in pages if p.error is None]
    mark_running_lines(readable)
    labels = resolve_labels(pages, reader)
    doc_body = _doc_body_size(readable)

    sections = SectionStack()
    writer = BlockWriter(sections)
    issues: list[PageIssue] = []
    for page, label in zip(pages, labels):
        check_time()
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
                headings_only(lines, sections, page_metrics(lines, doc_body))
            continue
        if reason:  # partly garbled: index the readable lines only
            mask = garbled_line_mask([ln.text for ln in lines])
            lines = [ln for ln, bad in zip(lines, mask) if not bad]
            issues.append(PageIssue(source, reason, detail, page.index, label))
        writer.start_page(page.index, label)
        emit_page(lines, writer, page_metrics(lines, doc_body))
    writer.flush()

    blocks = tuple(writer.blocks)
    return Document(
        source_id=source, path=str(path), title=title or meta_title(reader) or path.stem,
        language=language or guess_language("\n".join(b.text for b in blocks)),
        release=release, blocks=blocks, url=url, issues=tuple(issues),
        meta={"pages": str(n_pages),
              "pages_indexed": str(len({b.page_index for b in blocks}))})
