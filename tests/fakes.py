"""A deterministic stand-in embedder for fast unit tests (never the only test of retrieval)."""
from __future__ import annotations

import hashlib
import unicodedata

import numpy as np


class FakeEmbedder:
    """Hashes character bigrams into a small vector: similar strings get similar vectors."""

    model_id = "fake/bigram-hash"
    dim = 64

    def __init__(self) -> None:
        self.passage_calls = 0
        self.query_calls = 0
        self.batch_size = 32

    def _embed(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            t = unicodedata.normalize("NFKC", text).lower()
            for a, b in zip(t, t[1:]):
                h = int.from_bytes(hashlib.md5((a + b).encode()).digest()[:4], "little")
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        return out

    def embed_queries(self, texts):
        self.query_calls += len(texts)
        return self._embed(texts)

    def embed_passages(self, texts, *, progress=None):
        self.passage_calls += len(texts)
        if progress:
            progress(len(texts))
        return self._embed(texts)
