"""Embedding cache: vectors keyed by model and the exact text embedded, kept beside the index.

A sync embeds only texts the cache has not seen, and commits after every batch, so a sync killed
mid-embedding resumes where it stopped. The same file keeps each chunk's keyword tokens per analyzer
version, so a sync tokenises only new texts (on a large corpus re-tokenising everything was most of
a one-section sync).

Stored compactly (no pickle, no text-encoded arrays): a key is the first 16 bytes of the text's
SHA-256, a vector is an int8 blob with its scale (``index.quantize``), tokens are one zlib-compressed
blob, and models and analyzers are small numbers (``names``). Rows are appended in rowid order (full
pages) and found through a (owner, key) index; in rowid tables rows up to ~4 KB stay in the page,
where the keyed rows of format 1 spilled each float32 vector into an overflow page (~4.5 KB a row).
Every row remembers the last build that used it (``seen``, the version's sequence number); after a
publish, ``prune`` drops rows no version still on disk can have used.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from index import quantize

_SCHEMA = """
CREATE TABLE IF NOT EXISTS names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS vecs (id INTEGER PRIMARY KEY, owner INTEGER NOT NULL, key BLOB NOT NULL,
    seen INTEGER NOT NULL, vector BLOB NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS vecs_key ON vecs (owner, key);
CREATE TABLE IF NOT EXISTS toks (id INTEGER PRIMARY KEY, owner INTEGER NOT NULL, key BLOB NOT NULL,
    seen INTEGER NOT NULL, tokens BLOB NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS toks_key ON toks (owner, key);
"""
CACHE_FILE = "embeddings.sqlite"  # in the index folder (``index.layout``)
_PART = 500  # keys per statement (SQLite's default limit on parameters is far above)
_SEP = "\x00"  # between tokens in a blob; a token holding it is not cached (never seen in practice)


def text_key(text: str) -> bytes:
    """The cache key of a text: 16 bytes of its SHA-256 (collisions are out of reach at any corpus size)."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


class EmbeddingCache:
    """``stamp``: the sequence number of the version being built; rows it reads or writes get it."""

    def __init__(self, path: Path, stamp: int = 0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.stamp = path, stamp
        self._con = sqlite3.connect(path, timeout=30)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.executescript(_SCHEMA)
        self._names: dict[str, int] = dict(self._con.execute("SELECT name, id FROM names"))
        _migrate_format1(self)

    def close(self) -> None:
        self._con.close()

    def _owner(self, name: str) -> int:
        if name not in self._names:
            with self._con:
                self._con.execute("INSERT OR IGNORE INTO names (name) VALUES (?)", (name,))
            self._names[name] = self._con.execute("SELECT id FROM names WHERE name = ?", (name,)).fetchone()[0]
        return self._names[name]

    def _get(self, table: str, column: str, name: str, keys: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
        """Rows (key, value) of ``keys`` that exist, each stamped as used by this build."""
        owner, rows = self._owner(name), []
        with self._con:
            for start in range(0, len(keys), _PART):
                part = list(keys[start:start + _PART])
                marks = ",".join("?" * len(part))
                self._con.execute(f"UPDATE {table} SET seen = ? WHERE owner = ? AND key IN ({marks}) AND seen < ?",
                                  (self.stamp, owner, *part, self.stamp))
                rows += self._con.execute(f"SELECT key, {column} FROM {table} WHERE owner = ? AND key IN ({marks})",
                                          (owner, *part)).fetchall()
        return rows

    def _put(self, table: str, column: str, name: str, rows: Sequence[tuple[bytes, bytes]]) -> None:
        owner = self._owner(name)
        with self._con:  # one transaction per batch: what was committed survives a kill
            self._con.executemany(f"INSERT OR REPLACE INTO {table} (owner, key, seen, {column}) VALUES (?, ?, ?, ?)",
                                  ((owner, k, self.stamp, v) for k, v in rows))

    def get(self, model: str, keys: Sequence[bytes], dim: int) -> dict[bytes, np.ndarray]:
        width = quantize.SCALE_BYTES + dim
        return {k: quantize.from_blob(v) for k, v in self._get("vecs", "vector", model, keys) if len(v) == width}

    def put(self, model: str, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        self._put("vecs", "vector", model, list(zip(keys, quantize.to_blobs(vectors))))

    def get_tokens(self, analyzer: str, keys: Sequence[bytes]) -> dict[bytes, list[str]]:
        return {k: _tokens_of(v) for k, v in self._get("toks", "tokens", analyzer, keys)}

    def put_tokens(self, analyzer: str, items: Sequence[tuple[bytes, list[str]]]) -> None:
        self._put("toks", "tokens", analyzer, [(k, _blob_of(t)) for k, t in items if not any(_SEP in x for x in t)])

    def prune(self, oldest: int) -> int:
        """Drop rows no build since version ``oldest`` used; returns how many. The file shrinks when
        a quarter of it is free (VACUUM), so a steady index does not carry what it no longer needs."""
        with self._con:
            removed = sum(self._con.execute(f"DELETE FROM {t} WHERE seen < ?", (oldest,)).rowcount
                          for t in ("vecs", "toks"))
        free, pages = (self._con.execute(f"PRAGMA {p}").fetchone()[0] for p in ("freelist_count", "page_count"))
        if free * 4 > pages:
            self._con.execute("VACUUM")
        return removed

    def counts(self) -> dict[str, int]:
        return {t: self._con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("vecs", "toks")}

    def __len__(self) -> int:
        return self.counts()["vecs"]


def _blob_of(tokens: list[str]) -> bytes:
    return zlib.compress(_SEP.join(tokens).encode("utf-8")) if tokens else b""


def _tokens_of(blob: bytes) -> list[str]:
    return zlib.decompress(blob).decode("utf-8").split(_SEP) if blob else []


def _migrate_format1(cache: EmbeddingCache) -> None:
    """Rewrite a cache of the first layout (float32 rows, hex keys, JSON tokens) in this one, so an
    upgrade rebuilds the index without embedding again; rows get stamp 0 (pruned unless reused)."""
    con = cache._con
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "vectors" not in tables and "tokens" not in tables:
        return
    with con:
        if "vectors" in tables:
            for model, key, vector in con.execute("SELECT model, key, vector FROM vectors").fetchall():
                blob = quantize.to_blobs(np.frombuffer(vector, dtype=np.float32)[None, :])[0]
                con.execute("INSERT OR IGNORE INTO vecs (owner, key, seen, vector) VALUES (?, ?, 0, ?)",
                            (cache._owner(model), bytes.fromhex(key)[:16], blob))
        if "tokens" in tables:
            for analyzer, key, tokens in con.execute("SELECT analyzer, key, tokens FROM tokens").fetchall():
                con.execute("INSERT OR IGNORE INTO toks (owner, key, seen, tokens) VALUES (?, ?, 0, ?)",
                            (cache._owner(analyzer), bytes.fromhex(key)[:16], _blob_of(json.loads(tokens))))
        con.execute("DROP TABLE IF EXISTS vectors")
        con.execute("DROP TABLE IF EXISTS tokens")
    con.execute("VACUUM")


def embed_with_cache(embedder, texts: Sequence[str], cache: EmbeddingCache | None, *,
                     batch: int = 128, progress=None, kind: str = "passage") -> tuple[np.ndarray, list[int]]:
    """Vectors for ``texts`` as the index stores them (``index.quantize``), embedding each distinct
    text the cache lacks once; returns (vectors, the positions of the texts that were embedded).
    ``kind="query"`` embeds them as questions (e5's other prefix), cached apart from passages.
    ``progress`` counts the texts embedded now, out of those the cache lacks: the same number the sync
    summary reports (cached texts cost nothing and are not shown as work)."""
    keys = [text_key(t) for t in texts]
    first: dict[bytes, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    owner = embedder.model_id if kind == "passage" else f"{embedder.model_id}#{kind}"
    embed = embedder.embed_passages if kind == "passage" else embedder.embed_queries
    found = cache.get(owner, list(first), embedder.dim) if cache is not None else {}
    # One model call per distinct missing text, in batches of similar length (less padding work);
    # a killed sync keeps every committed batch.
    missing = sorted((i for k, i in first.items() if k not in found), key=lambda i: len(texts[i]))
    for start in range(0, len(missing), batch):
        rows = missing[start:start + batch]
        raw = embed([texts[i] for i in rows])
        if cache is not None:
            cache.put(owner, [keys[i] for i in rows], raw)
        found.update(zip((keys[i] for i in rows), quantize.roundtrip(raw)))
        if progress:
            progress("embed", len(rows), len(missing))
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for i, k in enumerate(keys):
        out[i] = found[k]
    return out, missing
