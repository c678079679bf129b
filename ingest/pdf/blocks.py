"""Turning a page's kept lines into headings and paragraphs, and paragraphs into Blocks:
one Block per run of text of one kind under one heading path on one page."""
from __future__ import annotations

import re

from ingest.pdf.headings import Heading, classify, heading_label, is_toc
from ingest.pdf.lines import Line
from ingest.pdf.paragraphs import Metrics, breaks_paragraph, table_flags
from ingest.pdf.sections import SectionStack
from ingest.pdf.text import clean_line, join_lines, table_row
from kb.model import Block

_CAPTION = re.compile(r"^[（(][^（）()]{1,30}[）)]$")


class BlockWriter:
    """Collects paragraphs under the current heading path and emits Blocks."""

    def __init__(self, sections: SectionStack) -> None:
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


def emit_page(lines: list[Line], writer: BlockWriter, m: Metrics) -> None:
    """Turn one page's kept lines into headings and paragraphs."""
    toc = is_toc(lines)
    tables = table_flags(lines)
    stack_before = list(writer.sections.stack)
    pushed: list[Heading] = []
    n_paras = len(writer.blocks), len(writer.paras)
    prev: Line | None = None      # previous body line (for paragraph joining)
    last_heading: Line | None = None  # set while only a heading has been seen since
    for line, is_table in zip(lines, tables):
        heading = None if (toc or is_table) else classify(line, m.body_size, m.body_bold)
        if heading is not None and writer.sections.is_quotation(heading):
            heading = None
        if heading is not None and not heading.article and line.edge \
                and heading.label in writer.sections.path():
            continue  # a running header repeating the current chapter/section title
        if heading is not None and not heading.article:
            if (last_heading is not None and heading.style == "size"
                    and abs(line.max_size - last_heading.max_size) < 0.5
                    and writer.sections.stack):
                writer.sections.extend_last(heading_label(line.text))  # heading wrapped to 2 lines
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
                heading = Heading(heading.label + caption.strip(), heading.style,
                                  heading.rank, heading.num, heading.size, heading.value)
            writer.sections.push(heading)
            if caption:
                writer.add_paragraph(caption, "text")
            writer.add_paragraph(clean_line(line.text), "text")
            last_heading, prev = None, line
            continue
        last_heading = None
        if is_table:
            writer.add_paragraph(table_row(line.text), "table")
            prev = None
            continue
        text = clean_line(line.text)
        if not text:
            continue
        if prev is None or writer.kind != "text" or not writer.paras \
                or breaks_paragraph(prev, line, m):
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


def headings_only(lines: list[Line], sections: SectionStack, m: Metrics) -> None:
    """Update the heading stack from a page whose text is not indexed. Only numbered
    headings count: a big unnumbered line beside a picture is as likely a caption."""
    for line in lines:
        heading = classify(line, m.body_size, m.body_bold)
        if heading is not None and heading.num and not heading.article \
                and heading.label not in sections.path():
            sections.push(heading)
