"""Load a PDF into a Document: one Block per run of text under one heading path on one page.

Citations must show the page number printed on paper, so the loader reads printed page
numbers off the page (top/bottom bare numbers, checked against neighbouring pages) before
falling back to the PDF's /PageLabels. Running headers/footers are stripped so they neither
pollute the text nor reset the heading stack, headings are recognised conservatively (a
false heading mislabels every passage under it), and pages whose text is unreadable are
reported as PageIssues instead of being indexed.

Modules, in reading order: reader (open, pages), lines (visual lines), text (line text),
pagenumbers and layout (page furniture, labels), headings and sections (heading path),
paragraphs and blocks (Blocks), load (load_pdf).
"""
from ingest.pdf.load import load_pdf

__all__ = ["load_pdf"]
