"""Embedding cache: vectors keyed by model and the exact text embedded, kept beside the index.

A sync embeds only texts the cache has not seen, and commits after every batch, so a sync killed
mid-embedding resumes where it stopped. Entries are plain float32 blobs in SQLite (no pickle).
The same file keeps each chunk's keyword tokens per analyzer version (JSON), so a sync tokenises
only new texts: on a large corpus re-tokenising everything was most of a one-section sync.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np

_SCHEMA = """CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL, key TEXT NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (model, key)) WITHOUT ROWID"""
_TOKENS_SCHEMA = """CREATE TABLE IF NOT EXISTS tokens (
    analyzer TEXT NOT NULL, key TEXT NOT NULL, tokens TEXT NOT NULL,
    PRIMARY KEY (analyzer, key)) WITHOUT ROWID"""


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(path, timeout=30)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute(_SCHEMA)
        self._con.execute(_TOKENS_SCHEMA)

    def close(self) -> None:
        self._con.close()

    def _select(self, sql: str, owner: str, keys: Sequence[str]) -> list[tuple]:
        """Rows of ``sql`` (``... WHERE <owner column> = ? AND key IN ({marks})``), 500 keys a query."""
        rows: list[tuple] = []
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            rows += self._con.execute(sql.format(marks=",".join("?" * len(part))), (owner, *part)).fetchall()
        return rows

    def get(self, model: str, keys: Sequence[str], dim: int) -> dict[str, np.ndarray]:
        rows = self._select("SELECT key, dim, vector FROM vectors WHERE model = ? AND key IN ({marks})", model, keys)
        return {k: np.frombuffer(v, dtype=np.float32) for k, d, v in rows if d == dim}

    def put(self, model: str, keys: Sequence[str], vectors: np.ndarray) -> None:
        with self._con:  # one transaction per batch: what was committed survives a kill
            self._con.executemany(
                "INSERT OR REPLACE INTO vectors (model, key, dim, vector) VALUES (?, ?, ?, ?)",
                ((model, k, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors)))

    def get_tokens(self, analyzer: str, keys: Sequence[str]) -> dict[str, list[str]]:
        rows = self._select("SELECT key, tokens FROM tokens WHERE analyzer = ? AND key IN ({marks})", analyzer, keys)
        return {k: json.loads(t) for k, t in rows}

    def put_tokens(self, analyzer: str, items: Sequence[tuple[str, list[str]]]) -> None:
        with self._con:
            self._con.executemany("INSERT OR REPLACE INTO tokens (analyzer, key, tokens) VALUES (?, ?, ?)",
                                  ((analyzer, k, json.dumps(t, ensure_ascii=False)) for k, t in items))

    def __len__(self) -> int:
        return self._con.execute("SELECT count(*) FROM vectors").fetchone()[0]


def embed_with_cache(embedder, texts: Sequence[str], cache: EmbeddingCache | None, *,
                     batch: int = 128, progress=None) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``, embedding only cache misses, each distinct text once (a file of one
    repeated line must not cost one embedding per copy); returns (vectors, how many were embedded).

    ``progress`` counts the distinct texts embedded now, out of those the cache lacks: the same
    number the sync summary reports (cached texts cost nothing and are not shown as work)."""
    keys = [text_key(t) for t in texts]
    first = {k: i for i, k in reversed(list(enumerate(keys)))}
    distinct = list(dict.fromkeys(keys))
    found = cache.get(embedder.model_id, distinct, embedder.dim) if cache is not None else {}
    missing = [k for k in distinct if k not in found]
    for start in range(0, len(missing), batch):
        part = missing[start:start + batch]
        vectors = embedder.embed_passages([texts[first[k]] for k in part])
        found.update(zip(part, vectors))
        if cache is not None:
            cache.put(embedder.model_id, part, vectors)
        if progress:
            progress("embed", len(part), len(missing))
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for i, k in enumerate(keys):
        out[i] = found[k]
    return out, len(missing)
