"""The shared data model: what loaders produce, what the index stores, what search returns.

Every stage (ingest, index, answer) speaks these types; none of them imports another stage's
internals. Results are frozen dataclasses whose ``to_dict()`` is the documented ``--json`` schema.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Callable


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
    language: str  # edition language code: "ja", "ja-easy", "en", "vi", "zh-Hans", ...
    edition: str  # publication version, e.g. "8th (2026-02)" or "sample-2026"
    blocks: tuple[Block, ...]
    url: str | None = None
    issues: tuple[PageIssue, ...] = ()
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.language, self.edition, *(
            f"{b.section_path}|{b.page_label}|{b.text}" for b in self.blocks))


@dataclass(frozen=True)
class Chunk:
    """The unit that is embedded, keyword-indexed and cited."""

    chunk_id: str
    source_id: str
    title: str
    language: str
    edition: str
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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["section_path"] = list(self.section_path)
        return d


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from, precisely enough to check it on paper."""

    chunk_id: str
    source_id: str
    title: str
    language: str
    edition: str
    section_path: tuple[str, ...]
    section_id: str | None
    page_label: str | None
    page_index: int | None  # 0-based PDF page; shown to people as "PDF p. index+1"
    path: str
    url: str | None

    @classmethod
    def of(cls, chunk: Chunk) -> "Citation":
        return cls(chunk.chunk_id, chunk.source_id, chunk.title, chunk.language, chunk.edition,
                   chunk.section_path, chunk.section_id, chunk.page_label, chunk.page_index,
                   chunk.path, chunk.url)

    def label(self) -> str:
        """One line: ``Title [ja, sample-2026] § 1.1.3 第1章 … > (3) 紛失, p. 3 (PDF p. 16)``."""
        parts = [self.title, f"[{', '.join(x for x in (self.language, self.edition) if x)}]"]
        if self.section_path:
            sid = f"§ {self.section_id} " if self.section_id and not self.section_id.startswith("第") else ""
            parts.append(sid + " > ".join(self.section_path))
        where = f"p. {self.page_label}" if self.page_label else ""
        if self.page_index is not None:
            pdf = f"PDF p. {self.page_index + 1}"
            where = f"{where} ({pdf})" if where else pdf
        return " ".join(parts) + (f", {where}" if where else "")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["section_path"] = list(self.section_path)
        d["label"] = self.label()
        return d


@dataclass(frozen=True)
class Hit:
    """One ranked passage. ``score`` is the re-ranker's score (the fused score when it is off); leg scores are None where a leg missed it."""

    rank: int
    score: float
    chunk: Chunk
    dense_score: float | None = None
    keyword_score: float | None = None
    # Set by the retriever: finds the same section in another edition (see ``in_edition``).
    aligner: Callable[[Chunk, str], list[Chunk]] | None = field(default=None, compare=False, repr=False)

    @property
    def citation(self) -> Citation:
        return Citation.of(self.chunk)

    def in_edition(self, language: str) -> list[Chunk]:
        """This hit's section in another language edition (best match first); [] if that edition
        lacks it. ``hit.in_edition("vi")`` gives the resident the official translation to read."""
        if self.chunk.language == language:
            return [self.chunk]
        return self.aligner(self.chunk, language) if self.aligner else []

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "score": round(self.score, 6),
                "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
                "keyword_score": None if self.keyword_score is None else round(self.keyword_score, 6),
                "text": self.chunk.text, "citation": self.citation.to_dict()}


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: tuple[Hit, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    reranked: bool = False  # hit scores are the learned re-ranker's (answer/rerank.py)

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
class Answer:
    """An answer to a consultation question: quoted sentences citing numbered sources.

    ``sources[n - 1]`` is source ``[n]``. ``abstained`` is True when nothing in the knowledge base
    supports an answer; ``sources`` then lists the nearest sections instead.
    """

    query: str
    sentences: tuple[AnswerSentence, ...]
    sources: tuple[Hit, ...]
    abstained: bool = False
    note: str = ""
    support: float = 0.0  # how strongly the knowledge base supports an answer (see answer.compose)
    method: str = "extractive"  # "extractive": sentences quoted verbatim; "generated": by an LLM, checked
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "abstained": self.abstained, "note": self.note,
                "support": round(self.support, 4), "method": self.method,
                "sentences": [s.to_dict() for s in self.sentences],
                "sources": [{"number": i, **h.to_dict()} for i, h in enumerate(self.sources, 1)],
                "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()}}


@dataclass(frozen=True)
class SourceReport:
    """What ingestion did with one file: chunks indexed, pages skipped, or why it was skipped."""

    source_id: str
    path: str
    chunks: int = 0
    language: str = ""
    issues: tuple[PageIssue, ...] = ()
    error: str | None = None  # set when the whole file was skipped

    def to_dict(self) -> dict[str, Any]:
        return {"source_id": self.source_id, "path": self.path, "chunks": self.chunks,
                "language": self.language, "error": self.error,
                "issues": [i.to_dict() for i in self.issues]}


@dataclass(frozen=True)
class IngestReport:
    index: str
    version: str
    sources: tuple[SourceReport, ...]
    chunks: int
    seconds: float
    embed_seconds: float
    embedded: int = 0  # passages actually embedded (the rest came from the embedding cache)
    changes: dict[str, Any] = field(default_factory=dict)  # added/changed/removed vs the previous version

    @property
    def sentences_embedded(self) -> int:
        return int(self.changes.get("chunks", {}).get("sentences_embedded", 0))

    @property
    def passages_per_second(self) -> float:
        """Texts embedded per second: passages and their sentences (both fill ``embed_seconds``)."""
        texts = self.embedded + self.sentences_embedded
        return texts / self.embed_seconds if self.embed_seconds > 0 and texts else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "version": self.version, "chunks": self.chunks,
                "embedded": self.embedded, "seconds": round(self.seconds, 3),
                "embed_seconds": round(self.embed_seconds, 3),
                "passages_per_second": round(self.passages_per_second, 2), "changes": self.changes,
                "sources": [s.to_dict() for s in self.sources]}
