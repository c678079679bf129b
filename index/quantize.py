"""Compact vectors: int8 codes with one float32 scale per vector (388 bytes for 384 dimensions, not 1,536).

Used for the sentence vectors of a version and for the embedding cache; the dense leg's passage
vectors use FAISS's own 8-bit scalar quantiser (``index.vectors``). Chosen by measurement
(BENCHMARKS.md, "Storage"): on unit vectors of the default model the cosine moves by at most ~1e-3,
and R@1 on JSQuAD, JaQuAD and the consultation questions did not move by more than the stated
tolerance. Codes are symmetric (``round(127 * x / max|x|)``), so zero stays zero and a vector's
sign pattern is kept exactly.
"""
from __future__ import annotations

import numpy as np

SCALE_BYTES = 4  # one little-endian float32 ahead of the codes in a blob


def encode(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes of shape (n, d), float32 scales of shape (n,)); ``decode`` inverts them."""
    x = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    peak = np.abs(x).max(axis=1) if x.size else np.zeros(len(x), dtype=np.float32)
    scales = (peak / 127.0).astype(np.float32)
    safe = np.where(scales > 0, scales, 1.0).astype(np.float32)
    codes = np.clip(np.rint(x / safe[:, None]), -127, 127).astype(np.int8)
    return codes, scales


def decode(codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """float32 vectors from ``encode``'s codes and scales (any leading rows of both)."""
    return np.asarray(codes, dtype=np.float32) * np.asarray(scales, dtype=np.float32)[:, None]


def roundtrip(vectors: np.ndarray) -> np.ndarray:
    """What storing ``vectors`` gives back: a fresh build and a cached one index the same numbers."""
    return decode(*encode(vectors))


def to_blobs(vectors: np.ndarray) -> list[bytes]:
    """One blob per vector: its scale, then its codes."""
    codes, scales = encode(vectors)
    return [s.tobytes() + c.tobytes() for s, c in zip(scales.astype("<f4"), codes)]


def from_blob(blob: bytes) -> np.ndarray:
    """The float32 vector in a blob from ``to_blobs``."""
    scale = np.frombuffer(blob, dtype="<f4", count=1)
    return np.frombuffer(blob, dtype=np.int8, offset=SCALE_BYTES).astype(np.float32) * scale[0]
