"""Split documents into chunks that end at sentence ends and never cross a heading.

A section (a run of blocks under one heading path) is split into sentences — Japanese ends
。！？ (with closing brackets), Latin .!? followed by a space, and line ends — and sentences are
packed up to ``size`` characters. Consecutive chunks of a section share up to ``overlap``
characters of whole sentences. Tables stay whole when they fit, else split between rows.
Every chunk's text is ``document.text[char_start:char_end]``, so citations are verbatim.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Sequence

from kb.model import Block, Chunk, Document, content_hash

_SENTENCE_END = re.compile(r"[。！？!?][」』）)\]]*|(?<=[a-z0-9)])\.(?=\s)|\n")
MIN_SENTENCE_CHARS = 8  # shorter pieces ("1.", "※") carry no meaning of their own


@dataclass(frozen=True)
class _Span:
    start: int  # offsets into Document.text
    end: int
    block: Block


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``text``, whitespace trimmed; ends include the 。"""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def sentences(text: str) -> list[tuple[int, int]]:
    """The sentences of ``text`` that carry meaning of their own: what is embedded as a sentence
    and what an answer may quote (``sentence_spans`` without the shortest pieces)."""
    return [(s, e) for s, e in sentence_spans(text) if e - s >= MIN_SENTENCE_CHARS]


def stitch(chunks: Sequence[Chunk]) -> list[Chunk]:
    """Chunks of one section in reading order with the overlap between neighbours cut, for reading."""
    out: list[Chunk] = []
    for c in sorted(chunks, key=lambda c: (c.source_id, c.char_start)):
        prev = out[-1] if out else None
        if prev and prev.source_id == c.source_id and c.char_start < prev.char_end:
            if c.char_end <= prev.char_end:
                continue
            cut = prev.char_end - c.char_start
            c = replace(c, text=c.text[cut:], char_start=prev.char_end)
        out.append(c)
    return out


def join_passages(chunks: Sequence[Chunk]) -> tuple[Chunk, list[tuple[int, Chunk]]]:
    """One passage for a whole section: its chunks stitched (overlaps cut) and joined, and each
    stitched chunk with where it starts in the joined text. The gap between two chunks is whitespace in the
    document (blocks end at a sentence); it is kept as that many newlines, so every sentence of the
    joined text is still a verbatim span of one chunk. Pages run from the first chunk to the last."""
    parts = stitch(chunks)
    if not parts:
        raise ValueError("join_passages needs at least one chunk")
    texts, starts, pos = [], [], 0
    for i, c in enumerate(parts):
        gap = "" if i == 0 else "\n" * max(0, c.char_start - parts[i - 1].char_end) \
            if c.source_id == parts[i - 1].source_id else "\n"
        pos += len(gap)
        texts.append(gap + c.text)
        starts.append((pos, c))
        pos += len(c.text)
    first, last = parts[0], parts[-1]
    joined = replace(first, chunk_id=first.chunk_id if len(parts) == 1 else f"{first.chunk_id}+{len(parts) - 1}",
                     text="".join(texts), page_end_index=last.page_end_index, page_end_label=last.page_end_label,
                     char_end=last.char_end if last.source_id == first.source_id else first.char_end)
    return joined, starts


def chunk_document(doc: Document, size: int = 400, overlap: int = 80) -> list[Chunk]:
    """Chunks of ``doc`` in reading order (see module docstring for the rules)."""
    text = doc.text
    units: list[_Span] = []
    offset = 0
    for block in doc.blocks:
        if block.kind == "table":
            units.extend(_Span(offset + s, offset + e, block) for s, e in _line_spans(block.text))
        else:
            units.extend(_Span(offset + s, offset + e, block) for s, e in sentence_spans(block.text))
        offset += len(block.text) + 1
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for _, group in groupby(units, key=lambda u: u.block.section_path):
        for piece in _pack(list(group), size, overlap):
            chunks.append(_make_chunk(doc, text, piece, seen))
    return chunks


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for line in text.split("\n"):
        if line.strip():
            spans.append((start, start + len(line)))
        start += len(line) + 1
    return spans


def _pack(units: list[_Span], size: int, overlap: int) -> list[list[_Span]]:
    """Greedy packing of sentences; an over-long sentence becomes a chunk of its own (hard-split)."""
    pieces: list[list[_Span]] = []
    current: list[_Span] = []
    for unit in _hard_split(units, size):
        if current and unit.end - current[0].start > size:
            pieces.append(current)
            current = _tail(current, overlap)
            if current and unit.end - current[0].start > size:
                current = []
        current.append(unit)
    if current and (not pieces or current[-1] is not pieces[-1][-1]):
        pieces.append(current)
    return pieces


def _tail(units: list[_Span], overlap: int) -> list[_Span]:
    """The last whole sentences of a chunk that fit in ``overlap`` characters."""
    tail: list[_Span] = []
    for unit in reversed(units):
        if units[-1].end - unit.start > overlap:
            break
        tail.insert(0, unit)
    return tail if len(tail) < len(units) else []


def _hard_split(units: list[_Span], size: int) -> list[_Span]:
    out = []
    for u in units:
        if u.end - u.start <= size:
            out.append(u)
        else:
            out.extend(_Span(s, min(s + size, u.end), u.block) for s in range(u.start, u.end, size))
    return out


def _make_chunk(doc: Document, text: str, piece: list[_Span], seen: dict[str, int]) -> Chunk:
    first, last = piece[0], piece[-1]
    body = text[first.start:last.end]
    block = first.block
    key = content_hash(doc.source_id, "|".join(block.section_path), body)[:16]
    seen[key] = seen.get(key, 0) + 1
    chunk_id = key if seen[key] == 1 else f"{key}-{seen[key]}"  # identical text twice in a section
    return Chunk(
        chunk_id=chunk_id, source_id=doc.source_id, title=doc.title, language=doc.language,
        release=doc.release, text=body, section_path=block.section_path,
        section_id=block.section_id, page_index=block.page_index, page_label=block.page_label,
        page_end_index=last.block.page_index, page_end_label=last.block.page_label,
        char_start=first.start, char_end=last.end, path=doc.path, url=doc.url,
    )
