"""Chunk metadata and text in SQLite; row numbers are shared with the vector and keyword legs."""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Sequence

from kb.model import Chunk, Document, PageIssue
from kb.reports import SourceStatus

_SCHEMA = """
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, source_id TEXT NOT NULL,
    title TEXT NOT NULL, language TEXT NOT NULL, release TEXT NOT NULL, text TEXT NOT NULL,
    section_path TEXT NOT NULL, section_id TEXT, page_index INTEGER, page_label TEXT,
    page_end_index INTEGER, page_end_label TEXT, char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL, path TEXT NOT NULL, url TEXT
);
CREATE INDEX chunks_source ON chunks(source_id);
CREATE INDEX chunks_section ON chunks(language, section_id);
CREATE TABLE sources (
    source_id TEXT PRIMARY KEY, path TEXT NOT NULL, title TEXT NOT NULL, language TEXT NOT NULL,
    release TEXT NOT NULL, content_hash TEXT NOT NULL, chunks INTEGER NOT NULL, issues TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
"""
_COLUMNS = ("chunk_id", "source_id", "title", "language", "release", "text", "section_path",
            "section_id", "page_index", "page_label", "page_end_index", "page_end_label",
            "char_start", "char_end", "path", "url")


def write_store(path: Path, chunks: Sequence[Chunk], documents: Iterable[Document],
                chunk_counts: dict[str, int]) -> None:
    """Create the store at ``path`` (a new file) with ``chunks`` at rows 0..n-1 and one row per document."""
    con = sqlite3.connect(path)
    try:
        con.executescript(_SCHEMA)
        con.executemany(
            f"INSERT INTO chunks (row, {', '.join(_COLUMNS)}) VALUES (?{', ?' * len(_COLUMNS)})",
            ((row, *_values(c)) for row, c in enumerate(chunks)))
        con.executemany(
            "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((d.source_id, d.path, d.title, d.language, d.release, d.content_hash, chunk_counts.get(d.source_id, 0),
              json.dumps([i.to_dict() for i in d.issues], ensure_ascii=False),
              json.dumps(d.meta, ensure_ascii=False)) for d in documents))
        con.commit()
    finally:
        con.close()


def _values(c: Chunk) -> tuple:
    d = c.to_dict()
    d["section_path"] = json.dumps(list(c.section_path), ensure_ascii=False)
    return tuple(d[k] for k in _COLUMNS)


class ChunkStore:
    """Read-only access, shareable between threads (one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        # immutable: a published version never changes, so SQLite takes no locks and writes nothing
        # beside it (a read-only or network volume shared by replicas works as a local disk does).
        self._con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        kinds = dict(self._query("SELECT name, type FROM sqlite_master WHERE name IN ('chunks', 'sources')"))
        if kinds != {"chunks": "table", "sources": "table"}:
            self.close()
            raise sqlite3.DatabaseError(f"tables chunks and sources expected, found {kinds or 'none'}")

    def close(self) -> None:
        self._con.close()

    def _query(self, sql: str, args: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._con.execute(sql, args).fetchall()

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        found = self._query(f"SELECT row, {', '.join(_COLUMNS)} FROM chunks WHERE row IN ({marks})",
                            [int(r) for r in rows])
        return {r[0]: _chunk(r[1:]) for r in found}

    def section(self, language: str, section_id: str, *, subsections: bool = True) -> dict[int, Chunk]:
        """Chunks of a section by row (``1.1`` also matches ``1.1.3`` unless ``subsections=False``)."""
        where = "(section_id = ? OR section_id LIKE ?)" if subsections else "section_id = ?"
        args = (language, section_id, section_id + ".%") if subsections else (language, section_id)
        rows = self._query(f"SELECT row, {', '.join(_COLUMNS)} FROM chunks WHERE language = ? AND {where} "
                           "ORDER BY row", args)
        return {r[0]: _chunk(r[1:]) for r in rows}

    def all_chunks(self) -> list[Chunk]:
        return [_chunk(r) for r in self._query(f"SELECT {', '.join(_COLUMNS)} FROM chunks ORDER BY row")]

    def rows(self, chunk_ids: Sequence[str]) -> dict[str, int]:
        """The row of each known chunk id."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        return dict(self._query(f"SELECT chunk_id, row FROM chunks WHERE chunk_id IN ({marks})", list(chunk_ids)))

    def row_sections(self) -> list[tuple[int, str, str, str | None, str]]:
        """(row, language, source_id, section_id, chunk_id) of every chunk, by row."""
        return self._query("SELECT row, language, source_id, section_id, chunk_id FROM chunks ORDER BY row")

    def chunk_ids(self) -> set[str]:
        return {r[0] for r in self._query("SELECT chunk_id FROM chunks")}

    def section_ids(self) -> dict[str, set[str]]:
        """Every edition language and the section ids it has."""
        out: dict[str, set[str]] = {}
        for language, sid in self._query("SELECT DISTINCT language, section_id FROM chunks "
                                         "WHERE section_id IS NOT NULL"):
            out.setdefault(language, set()).add(sid)
        return out

    def sources(self) -> list[SourceStatus]:
        """Every indexed document, with its front-matter metadata (``sample``, ``notice``)."""
        columns = {r[1] for r in self._query("PRAGMA table_info(sources)")}
        meta = "meta" if "meta" in columns else "'{}'"  # versions written before the column existed
        rows = self._query("SELECT source_id, path, title, language, release, content_hash, chunks, issues, "
                           f"{meta} FROM sources ORDER BY source_id")
        return [SourceStatus(*r[:7], tuple(PageIssue(**i) for i in json.loads(r[7])), json.loads(r[8]))
                for r in rows]


def _chunk(values: Sequence) -> Chunk:
    d = dict(zip(_COLUMNS, values))
    d["section_path"] = tuple(json.loads(d["section_path"]))
    return Chunk(**d)
