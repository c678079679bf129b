"""What the maintainer's commands report: a sync (per source, changes) and the index's status.

Pure data like ``kb.model`` (standard library only); ``to_dict()`` is the ``--json`` schema.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kb.model import PageIssue


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
    examples: int = 0  # example questions indexed (ingest.questions)

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
                "examples": self.examples, "sources": [s.to_dict() for s in self.sources]}


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
    meta: dict[str, str] = field(default_factory=dict)  # the document's front matter: sample, notice, ...

    @property
    def sample(self) -> bool:
        """Whether the document says it is a sample, not the official text (front matter ``sample``)."""
        return str(self.meta.get("sample", "")).lower() in ("true", "1", "yes")

    def to_dict(self) -> dict[str, Any]:
        return {"source_id": self.source_id, "path": self.path, "title": self.title,
                "language": self.language, "release": self.release, "edition": self.release,
                "content_hash": self.content_hash, "chunks": self.chunks, "skipped_pages": len(self.issues),
                "meta": dict(self.meta)}


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
    disk: dict[str, int] = field(default_factory=dict)  # bytes: "version" (this one), "versions" (all), "cache"
    examples: int = 0  # example questions (ingest.questions)

    def to_dict(self) -> dict[str, Any]:
        d = {f: getattr(self, f) for f in ("index", "version", "model", "dim", "analyzer", "chunks",
                                           "sentences", "chunk_size", "chunk_overlap", "created",
                                           "fusion", "rerank_depth", "examples")}
        return {**d, "languages": dict(self.languages), "disk": dict(self.disk),
                "sources": [s.to_dict() for s in self.sources]}
