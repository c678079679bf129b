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
class DocumentChanges:
    """Documents compared with the live version by content hash (source ids, sorted)."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"added": list(self.added), "changed": list(self.changed), "removed": list(self.removed),
                "unchanged": self.unchanged}


@dataclass(frozen=True)
class ChunkChanges:
    """Chunks compared with the live version by id (ids derive from content), and what was embedded."""

    added: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0  # passages embedded now (the rest came from the embedding cache)
    sentences_embedded: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SyncChanges:
    documents: DocumentChanges = DocumentChanges()
    chunks: ChunkChanges = ChunkChanges()

    def to_dict(self) -> dict[str, Any]:
        return {"documents": self.documents.to_dict(), "chunks": self.chunks.to_dict()}


@dataclass(frozen=True)
class SyncReport:
    """What ``KnowledgeBase.sync`` did: the version it published, per-source reports, changes."""

    index: str
    version: str
    sources: tuple[SourceReport, ...]
    chunks: int
    seconds: float
    embed_seconds: float
    changes: SyncChanges = SyncChanges()

    @property
    def embedded(self) -> int:
        """Passages actually embedded (the rest came from the embedding cache)."""
        return self.changes.chunks.embedded

    @property
    def sentences_embedded(self) -> int:
        return self.changes.chunks.sentences_embedded

    @property
    def passages_per_second(self) -> float:
        """Texts embedded per second: passages and their sentences (both fill ``embed_seconds``)."""
        texts = self.embedded + self.sentences_embedded
        return texts / self.embed_seconds if self.embed_seconds > 0 and texts else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "version": self.version, "chunks": self.chunks,
                "embedded": self.embedded, "seconds": round(self.seconds, 3),
                "embed_seconds": round(self.embed_seconds, 3),
                "passages_per_second": round(self.passages_per_second, 2), "changes": self.changes.to_dict(),
                "sources": [s.to_dict() for s in self.sources]}


IngestReport = SyncReport  # the former name, kept for one release


@dataclass(frozen=True)
class SourceStatus:
    """One indexed source file as ``kb status`` lists it."""

    source_id: str
    path: str
    title: str
    language: str
    release: str
    content_hash: str
    chunks: int
    issues: tuple[PageIssue, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"source_id": self.source_id, "path": self.path, "title": self.title,
                "language": self.language, "release": self.release, "edition": self.release,
                "content_hash": self.content_hash, "chunks": self.chunks, "skipped_pages": len(self.issues)}


@dataclass(frozen=True)
class Status:
    """The index a KnowledgeBase reads and how it searches (the ``kb status --json`` schema)."""

    index: str
    version: str
    model: str
    dim: int
    analyzer: str
    chunks: int
    sentences: int
    chunk_size: int
    chunk_overlap: int
    created: str
    fusion: str
    rerank_depth: int
    languages: dict[str, int]
    sources: tuple[SourceStatus, ...]

    def to_dict(self) -> dict[str, Any]:
        d = {f: getattr(self, f) for f in ("index", "version", "model", "dim", "analyzer", "chunks",
                                           "sentences", "chunk_size", "chunk_overlap", "created",
                                           "fusion", "rerank_depth")}
        return {**d, "languages": dict(self.languages), "sources": [s.to_dict() for s in self.sources]}
