"""Sentence vectors: every sentence of every chunk, embedded once at index time.

Two readers use them: the re-ranker (a passage's best sentence often matches a question better than
the whole passage does: +2.5 R@1 on JSQuAD, see ``answer/rerank.py``) and answer extraction (which
then embeds nothing at query time). Sentences come from the chunker's own splitter, so their spans
are verbatim offsets into ``Chunk.text``; each is embedded with its chunk's heading path in front,
like the passage. Saved without pickle: the vectors as int8 codes (``index.quantize``) in
``sentences.npy``, memory-mapped when read (a query touches only its candidates' sentences, so a large
index costs no load time and little memory), and their scales, the spans and the offsets in
``sentence_spans.npz``; rows of chunk ``r`` are ``offsets[r]:offsets[r + 1]``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from index import quantize
from ingest.chunker import sentences
from index.manifest import FIX
from kb.errors import IndexCorruptError
from kb.model import Chunk

VECTORS_FILE, SPANS_FILE = "sentences.npy", "sentence_spans.npz"


def sentence_text(chunk: Chunk, start: int, end: int) -> str:
    """What is embedded for the sentence ``chunk.text[start:end]``: its heading path, then the sentence."""
    return chunk.heading() + "\n" + chunk.text[start:end]


def sentence_texts(chunks: Sequence[Chunk]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(texts to embed, spans (n, 2) into each chunk's text, offsets (chunks + 1,))."""
    texts: list[str] = []
    spans: list[tuple[int, int]] = []
    offsets = [0]
    for chunk in chunks:
        for start, end in sentences(chunk.text):
            texts.append(sentence_text(chunk, start, end))
            spans.append((start, end))
        offsets.append(len(spans))
    return texts, np.array(spans, dtype=np.int32).reshape(-1, 2), np.array(offsets, dtype=np.int64)


class SentenceVectors:
    """Row ``i`` embeds ``sentence_texts(chunks)[0][i]``: int8 ``codes`` times ``scales``; written by
    ``index.version``."""

    def __init__(self, codes: np.ndarray, scales: np.ndarray, spans: np.ndarray, offsets: np.ndarray) -> None:
        self.codes, self.scales, self.spans, self.offsets = codes, scales, spans, offsets

    @classmethod
    def of_vectors(cls, vectors: np.ndarray, spans: np.ndarray, offsets: np.ndarray) -> "SentenceVectors":
        return cls(*quantize.encode(vectors), spans, offsets)

    def save(self, folder: Path) -> None:
        np.save(folder / VECTORS_FILE, np.asarray(self.codes, dtype=np.int8), allow_pickle=False)
        with open(folder / SPANS_FILE, "wb") as f:
            np.savez(f, spans=self.spans, offsets=self.offsets, scales=np.asarray(self.scales, dtype=np.float32))

    @classmethod
    def load(cls, folder: Path, expected_dim: int, expected_chunks: int) -> "SentenceVectors":
        path = folder / VECTORS_FILE
        try:
            codes = np.load(path, mmap_mode="r", allow_pickle=False)  # a published version never changes
            with np.load(folder / SPANS_FILE, allow_pickle=False) as data:
                found = cls(codes, data["scales"], data["spans"], data["offsets"])
        except FileNotFoundError as exc:
            raise IndexCorruptError(f"{folder}: no {Path(exc.filename or VECTORS_FILE).name}; {FIX}") from None
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise IndexCorruptError(f"{path}: unreadable ({exc}); {FIX}") from None
        n = len(found.spans)
        if (len(found.offsets) != expected_chunks + 1 or found.offsets[-1] != n or len(found.scales) != n
                or found.codes.shape[0] != n or (n and found.codes.shape[1] != expected_dim)):
            raise IndexCorruptError(f"{path}: {n} sentences do not fit the manifest's {expected_chunks} "
                                    f"chunks x {expected_dim}-d; {FIX}")
        return found

    def decoded(self, idx: np.ndarray) -> np.ndarray:
        """float32 vectors of the sentences at positions ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        return quantize.decode(self.codes[idx], self.scales[idx])

    def of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(spans, vectors) of chunk ``row``'s sentences."""
        a, b = int(self.offsets[row]), int(self.offsets[row + 1])
        return self.spans[a:b], quantize.decode(self.codes[a:b], self.scales[a:b])

    def best_cosine(self, rows: Sequence[int], query: np.ndarray, default: np.ndarray) -> np.ndarray:
        """Each row's highest sentence cosine to ``query``; ``default[i]`` for a row without sentences."""
        out = np.asarray(default, dtype=np.float32).copy()
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return out
        starts, counts = self.offsets[rows], self.offsets[rows + 1] - self.offsets[rows]
        have = counts > 0
        if not have.any():
            return out
        starts, counts = starts[have], counts[have]
        firsts = np.concatenate(([0], np.cumsum(counts)[:-1]))  # where each row's sentences begin in idx
        idx = np.repeat(starts - firsts, counts) + np.arange(int(counts.sum()))  # one gather, one product
        out[have] = np.maximum.reduceat(np.asarray(self.codes[idx] @ query) * self.scales[idx], firsts)
        return out
