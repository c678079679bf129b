"""A handout for the resident: the answer's sections in the resident's edition beside the Japanese.

``build_handout`` asks the knowledge base (any object with the ``KnowledgeBase`` methods ``ask``,
``section`` and ``status``), pairs each answer section with the same section of the Japanese
edition (the editions share section numbers), and collects what the page must say: citations with
printed pages, the official guidebook page, the date, and the sample notice while the sample is in
use. ``answer.render.handout`` turns it into a printable page.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Sequence

from answer.editions import BASE
from answer.render.layout import paragraph_runs
from ingest.fetchlist import load_fetch_list
from kb.config import SAMPLE_DIR
from kb.errors import KBError, QueryError
from kb.model import Chunk, Citation

MAX_SECTIONS = 3  # a one-page handout: the answer's first sections


@dataclass(frozen=True)
class HandoutPart:
    """One section in one edition: its text (chunks stitched, in reading order) and where it is printed."""

    citation: Citation
    text: str
    pages: str  # "p. 2", "pp. 2-3", or "" when the source has no printed pages


@dataclass(frozen=True)
class HandoutSection:
    section_id: str | None
    resident: HandoutPart | None  # None when the resident's edition lacks this section
    japanese: HandoutPart | None  # None when the resident's edition is Japanese


@dataclass(frozen=True)
class Handout:
    question: str
    language: str  # the edition the resident asked for
    edition: str  # the edition quoted (Japanese when there is none in ``language``)
    sections: tuple[HandoutSection, ...]
    date: str  # ISO date the handout was made
    official_url: str
    notices: tuple[str, ...]  # the sample notices of the editions shown (empty for official sources)
    note: str = ""  # the answer's note (English; see answer.render.i18n)
    verdict: str = "answered"


def build_handout(kb: Any, question: str, lang: str, *, k: int | None = None,
                  today: dt.date | None = None) -> Handout:
    """The handout for ``question`` in ``lang`` (see the module docstring); a QueryError when the
    guidebook has no answer to hand out."""
    answer = kb.ask(question, k, lang=lang)
    if answer.abstained or not answer.blocks:
        raise QueryError("the guidebook has no answer to this question, so there is nothing to hand out; "
                         "`kb ask` lists the nearest sections")
    sections: list[HandoutSection] = []
    seen: set[str | None] = set()
    # Best-supported sections first: the page keeps those when it cannot hold them all.
    for block in sorted(answer.blocks, key=lambda b: -answer.sources[b.source - 1].score):
        hit = answer.sources[block.source - 1]
        key = block.section_id or hit.chunk.chunk_id
        if key in seen:
            continue
        seen.add(key)
        own = _part(kb, hit.chunk)
        if lang == BASE:
            sections.append(HandoutSection(block.section_id, own, None))
        elif hit.chunk.language == BASE:  # the resident's edition lacks the section: Japanese only
            sections.append(HandoutSection(block.section_id, None, own))
        else:
            sections.append(HandoutSection(block.section_id, own, _part(kb, hit.chunk, BASE)))
        if len(sections) == MAX_SECTIONS:
            break
    parts = [p for side in ("resident", "japanese") for s in sections if (p := getattr(s, side)) is not None]
    meta = {s.source_id: s for s in kb.status().sources}
    notices = tuple(dict.fromkeys(
        m.meta["notice"] for p in parts if (m := meta.get(p.citation.source_id)) and m.sample and m.meta.get("notice")))
    return Handout(answer.query, lang, answer.edition or BASE, tuple(sections),
                   (today or dt.date.today()).isoformat(), official_url(sections), notices, answer.note,
                   answer.verdict)


def _part(kb: Any, chunk: Chunk, language: str | None = None) -> HandoutPart | None:
    """``chunk``'s whole section in ``language`` (default: its own edition); None if that edition lacks it."""
    language = language or chunk.language
    if not chunk.section_id:
        return HandoutPart(Citation.of(chunk), chunk.text, _pages([chunk])) if language == chunk.language else None
    chunks = [c for c in kb.section(chunk.section_id, language) if c.section_id == chunk.section_id]
    if not chunks:
        return None
    return HandoutPart(Citation.of(chunks[0]), "\n".join(text for _, text in paragraph_runs(chunks)), _pages(chunks))


def _pages(chunks: Sequence[Chunk]) -> str:
    labels = [x for c in chunks for x in (c.page_label, c.page_end_label) if x]
    if not labels:
        return ""
    first, last = labels[0], labels[-1]
    return f"p. {first}" if first == last else f"pp. {first}-{last}"


def official_url(sections: Sequence[HandoutSection]) -> str:
    """The official guidebook page (the fetch list's index page, which links every edition)."""
    try:
        return load_fetch_list(SAMPLE_DIR / "editions.toml").index_page
    except KBError:  # a broken fetch list must not stop a handout: use the sources' own URL
        urls = [p.citation.url for s in sections for p in (s.resident, s.japanese) if p and p.citation.url]
        return urls[0] if urls else ""
