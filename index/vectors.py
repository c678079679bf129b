"""The dense leg: an exhaustive inner-product FAISS index over L2-normalised vectors (cosine).

Row i of the index is row i of the chunk store. Every vector is scored for every query (fast enough
at guidebook scale, ~10^4 chunks: well under a millisecond; 4 ms at 10^5), so there is no recall to
tune away. Vectors are stored by FAISS's 8-bit scalar quantiser (one byte per dimension, ranges
trained per dimension on the version's own vectors: a quarter of float32, scored as fast or faster)
and memory-mapped when read, so processes serving one version share the pages.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from kb.errors import IndexMismatchError


def _faiss():
    import faiss

    # One thread: a query is one scan. With FAISS's OpenMP pool, the scalar-quantised scan woke a
    # second thread per search: p99 0.1 -> 8 ms on the 2-core VM under load (flat search did not).
    faiss.omp_set_num_threads(1)
    return faiss


class VectorIndex:
    def __init__(self, index) -> None:
        self._index = index

    @property
    def dim(self) -> int:
        return self._index.d

    @property
    def size(self) -> int:
        return self._index.ntotal

    @classmethod
    def build(cls, vectors: np.ndarray, dim: int) -> "VectorIndex":
        faiss = _faiss()
        index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        index.train(x if len(x) else np.zeros((1, dim), dtype=np.float32))
        if len(x):
            index.add(x)
        return cls(index)

    def save(self, path: Path) -> None:
        _faiss().write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, expected_dim: int, expected_size: int) -> "VectorIndex":
        index = _faiss().read_index(str(path), _faiss().IO_FLAG_MMAP_IFC)  # a published version never changes
        if index.d != expected_dim or index.ntotal != expected_size:
            raise IndexMismatchError(
                f"{path}: vector index holds {index.ntotal} x {index.d}, manifest says "
                f"{expected_size} x {expected_dim}; run `kb rollback` to serve the previous version, or `kb sync` "
                "to rebuild")
        return cls(index)

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of ``rows``, decoded (float32)."""
        if not len(rows):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._index.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def search(self, query: np.ndarray, n: int,
               rows: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` rows by cosine, best first: (rows, scores); ``rows`` limits to [start, end)."""
        start, end = rows if rows is not None else (0, self.size)
        n = min(n, end - start)
        if n <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        x = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if rows is None:
            scores, rows = self._index.search(x, n)
        else:  # one edition's rows are contiguous (index.version sorts chunks by language)
            params = _faiss().SearchParameters(sel=_faiss().IDSelectorRange(start, end))
            scores, rows = self._index.search(x, n, params=params)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]
