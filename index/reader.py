"""Open the live index version for reading: manifest checks, then the three parts."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from index.keyword import KeywordIndex
from index.layout import IndexLayout
from index.manifest import Manifest
from index.sentences import SentenceVectors
from index.store import ChunkStore
from index.tokenize import ANALYZER, CJK_BIGRAM
from index.vectors import VectorIndex
from kb.errors import IndexMismatchError, IndexNotFoundError


@dataclass
class IndexVersion:
    path: Path
    manifest: Manifest
    store: ChunkStore
    vectors: VectorIndex
    keyword: KeywordIndex
    bigram: KeywordIndex
    sentences: SentenceVectors

    def close(self) -> None:
        self.store.close()


def open_version(root: Path) -> IndexVersion:
    """The version ``root/CURRENT`` names; errors say which command creates or fixes it."""
    folder = IndexLayout(root).current()
    if folder is None:
        raise IndexNotFoundError(f"no index at {root}; build one with `kb ingest PATH... --index {root}`")
    manifest = Manifest.read(folder)
    if manifest.analyzer != f"{ANALYZER}+{CJK_BIGRAM}":
        raise IndexMismatchError(
            f"{root}: keyword index built with analyzer {manifest.analyzer}, this version uses "
            f"{ANALYZER}+{CJK_BIGRAM}; "
            "rebuild with `kb ingest`")
    return IndexVersion(
        path=folder, manifest=manifest, store=ChunkStore(folder / "chunks.sqlite"),
        vectors=VectorIndex.load(folder / "vectors.faiss", manifest.dim, manifest.chunks),
        keyword=KeywordIndex.load(folder / "keyword", manifest.chunks),
        bigram=KeywordIndex.load(folder / "keyword_bigram", manifest.chunks, "bigram"),
        sentences=SentenceVectors.load(folder, manifest.dim, manifest.chunks))
