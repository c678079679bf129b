"""The shared data model: what loaders produce, what the index stores, what search returns.

Every stage (ingest, index, answer) speaks these types; none of them imports another stage's
internals, and this module imports only the standard library. Results are frozen dataclasses whose
``to_dict()`` is the documented ``--json`` schema.

Words: an *edition* is one language version of the guidebook, named by its language code (``ja``,
``ja-easy``, ``vi``); a *release* is which printing of it (``8th (2026-02)``, ``sample-2026``).
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

Progress = Callable[[str, int, int], None]
"""A progress callback: (stage, advance, total), e.g. ("load", 1, 12) per file, ("embed", 32, 2033)."""


def content_hash(*parts: str) -> str:
    """A stable hex digest of some strings (content-derived ids keep citations stable)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


@dataclass(frozen=True)
class Block:
    """A run of text a loader found under one heading path on one page.

    ``section_path`` holds the headings above the text, outermost first, exactly as printed
    (``("第1章 入国・在留手続", "1 在留カード", "(3) 紛失")``); ``section_id`` is the dotted
    number of the deepest numbered heading (``"1.1.3"``) or a law article (``"第十九条の九"``).
    ``kind`` is ``"text"`` or ``"table"`` (tables are kept whole by the chunker when they fit).
    """

    text: str
    section_path: tuple[str, ...] = ()
    section_id: str | None = None
    page_index: int | None = None  # 0-based page of the PDF; None for non-paginated sources
    page_label: str | None = None  # the printed page number/label, as the reader sees it
    kind: str = "text"


@dataclass(frozen=True)
class PageIssue:
    """A page (or whole file) that was not indexed, and why."""

    source: str
    reason: str  # "image-only" | "garbled" | "empty" | "encrypted" | "corrupt" | "unsupported"
    detail: str = ""
    page_index: int | None = None
    page_label: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Document:
    """One loaded source file. Its text is ``"\\n".join(b.text for b in blocks)``;
    chunk character offsets index into that string."""

    source_id: str
    path: str
    title: str
    language: str  # the edition: "ja", "ja-easy", "en", "vi", "zh-Hans", ...
    release: str  # which printing, e.g. "8th (2026-02)" or "sample-2026"
    blocks: tuple[Block, ...]
    url: str | None = None
    issues: tuple[PageIssue, ...] = ()
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.language, self.release, *(
            f"{b.section_path}|{b.page_label}|{b.text}" for b in self.blocks))


@dataclass(frozen=True)
class Chunk:
    """The unit that is embedded, keyword-indexed and cited."""

    chunk_id: str
    source_id: str
    title: str
    language: str
    release: str
    text: str
    section_path: tuple[str, ...] = ()
    section_id: str | None = None
    page_index: int | None = None
    page_label: str | None = None
    page_end_index: int | None = None
    page_end_label: str | None = None
    char_start: int = 0
    char_end: int = 0
    path: str = ""
    url: str | None = None

    def heading(self) -> str:
        """Title > chapter > section: indexed with the text in both legs."""
        return " > ".join((self.title, *self.section_path))

    @property
    def section_key(self) -> str:
        """The section this chunk is evidence for (see ``section_key``)."""
        return section_key(self.source_id, self.section_id, self.chunk_id)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["section_path"] = list(self.section_path)
        return d


def numbered(section_id: str | None) -> bool:
    """A section of the guidebook, by its dotted number ("1.1.3"), not a law article (第四条) or none."""
    return bool(section_id) and section_id[0].isdigit()


def section_key(source_id: str, section_id: str | None, fallback: str) -> str:
    """What aligns a section across editions: the guidebook's dotted number ("1.1.3"), the same in
    every language; a law article or other unnumbered text belongs to its own document only."""
    if numbered(section_id):
        return section_id
    return f"{source_id}#{section_id or fallback}"


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from, precisely enough to check it on paper."""

    chunk_id: str
    source_id: str
    title: str
    language: str
    release: str
    section_path: tuple[str, ...]
    section_id: str | None
    page_label: str | None
    page_index: int | None  # 0-based PDF page; shown to people as "PDF p. index+1"
    path: str
    url: str | None

    @classmethod
    def of(cls, chunk: Chunk) -> "Citation":
        return cls(chunk.chunk_id, chunk.source_id, chunk.title, chunk.language, chunk.release,
                   chunk.section_path, chunk.section_id, chunk.page_label, chunk.page_index,
                   chunk.path, chunk.url)

    def section(self) -> str:
        """``1.1.3 第1章 … > (3) 紛失``; a law article's path alone (its id is the last heading)."""
        path = " > ".join(self.section_path)
        numbered = self.section_id and not self.section_id.startswith("第")
        return f"{self.section_id} {path}".strip() if numbered else path

    def location(self) -> str:
        """``p. 3 (PDF p. 16)``: the printed page and the PDF page, whichever are known."""
        where = f"p. {self.page_label}" if self.page_label else ""
        if self.page_index is not None:
            pdf = f"PDF p. {self.page_index + 1}"
            where = f"{where} ({pdf})" if where else pdf
        return where

    def label(self) -> str:
        """One line: ``Title [ja, sample-2026] § 1.1.3 第1章 … > (3) 紛失, p. 3 (PDF p. 16)``."""
        parts = [self.title, f"[{', '.join(x for x in (self.language, self.release) if x)}]"]
        if self.section_path:
            parts.append(f"§ {self.section()}" if self.section_id and not self.section_id.startswith("第")
                         else self.section())
        where = self.location()
        return " ".join(parts) + (f", {where}" if where else "")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["section_path"] = list(self.section_path)
        d["edition"] = self.release  # the field's former name, kept in the JSON for one release
        d["label"] = self.label()
        return d


@dataclass(frozen=True)
class Hit:
    """One ranked passage.

    ``score`` orders the hits of one result (higher is better; not comparable between results):
    it is ``rerank_score`` when the learned re-ranker ran, else ``fused_score``, else the one leg's
    score (``mode="dense"``/``"keyword"``). Leg scores are None where a leg missed the passage.
    """

    rank: int
    score: float
    chunk: Chunk
    dense_score: float | None = None
    keyword_score: float | None = None
    fused_score: float | None = None
    rerank_score: float | None = None
    # Deprecated with ``in_edition`` (one release): what answers ``hit.in_edition(lang)``.
    origin: Any = field(default=None, compare=False, repr=False)

    @property
    def citation(self) -> Citation:
        return Citation.of(self.chunk)

    def in_edition(self, language: str) -> list[Chunk]:
        """Deprecated: use ``KnowledgeBase.in_edition(hit, language)``."""
        warnings.warn("Hit.in_edition is deprecated; use KnowledgeBase.in_edition(hit, language)",
                      DeprecationWarning, stacklevel=2)
        if self.chunk.language == language:
            return [self.chunk]
        return self.origin.in_edition(self, language) if self.origin is not None else []

    def to_dict(self) -> dict[str, Any]:
        def rounded(x: float | None) -> float | None:
            return None if x is None else round(x, 6)

        return {"rank": self.rank, "score": round(self.score, 6), "dense_score": rounded(self.dense_score),
                "keyword_score": rounded(self.keyword_score), "fused_score": rounded(self.fused_score),
                "rerank_score": rounded(self.rerank_score), "text": self.chunk.text,
                "citation": self.citation.to_dict()}


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: tuple[Hit, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def reranked(self) -> bool:
        """Whether the hits were ordered by the learned re-ranker (``answer/rerank.py``)."""
        return any(h.rerank_score is not None for h in self.hits)

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "hits": [h.to_dict() for h in self.hits],
                "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()}}


@dataclass(frozen=True)
class AnswerSentence:
    """A span of a cited passage, quoted verbatim, with the numbers of the sources it comes from."""

    text: str
    citations: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "citations": list(self.citations)}


@dataclass(frozen=True)
class AnswerBlock:
    """One section of an answer: the part of the question it answers, the section's heading in the
    answer edition, and the key sentences quoted from it (all citing source ``source``)."""

    source: int  # 1-based into Answer.sources
    section_id: str | None
    title: str  # the section's own heading, e.g. "(3) 紛失"
    sentences: tuple[AnswerSentence, ...]
    aspect: str = ""  # the part of a several-part question this block answers; "" when it has one part
    also_in: tuple[str, ...] = ()  # other editions that have this section, e.g. ("en", "vi")

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "section_id": self.section_id, "title": self.title,
                "aspect": self.aspect, "sentences": [s.to_dict() for s in self.sentences],
                "also_in": list(self.also_in)}


VERDICTS = ("answered", "unsure", "not_found")


@dataclass(frozen=True)
class Answer:
    """An answer to a consultation question: quoted sentences citing numbered sources.

    ``sources[n - 1]`` is source ``[n]``. ``blocks`` groups the sentences by section, one block per
    section (and per part of a several-part question); ``sentences`` is all of them in answer order.
    ``verdict`` is "answered", "unsure" (shown, but the knowledge base may not cover the question)
    or "not_found"; ``abstained`` is True for "not_found", and ``sources`` then lists the nearest
    sections instead. ``language`` is the question's language, ``edition`` the one quoted from.
    """

    query: str
    sentences: tuple[AnswerSentence, ...]
    sources: tuple[Hit, ...]
    abstained: bool = False
    note: str = ""
    support: float = 0.0  # how strongly the knowledge base supports an answer (see answer.compose)
    method: str = "extractive"  # "extractive": sentences quoted verbatim; "generated": by an LLM, checked
    timings_ms: dict[str, float] = field(default_factory=dict)
    blocks: tuple[AnswerBlock, ...] = ()
    verdict: str = "answered"
    language: str = ""
    edition: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "abstained": self.abstained, "verdict": self.verdict, "note": self.note,
                "support": round(self.support, 4), "method": self.method, "language": self.language,
                "edition": self.edition, "sentences": [s.to_dict() for s in self.sentences],
                "blocks": [b.to_dict() for b in self.blocks],
                "sources": [{"number": i, **h.to_dict()} for i, h in enumerate(self.sources, 1)],
                "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()}}
