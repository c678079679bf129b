"""Build an index version from chunks and publish it atomically (see ``index.layout``)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

from index.cache import EmbeddingCache, embed_with_cache
from index.embedder import Embedder
from index.keyword import KeywordIndex
from index.layout import IndexLayout
from index.manifest import Manifest
from index.sentences import SentenceVectors, sentence_texts
from index.store import write_store
from index.tokenize import ANALYZER, CJK_BIGRAM
from index.vectors import VectorIndex
from kb.model import Chunk, Document

Progress = Callable[[str, int, int], None]  # (stage, advance, total)


def indexed_text(chunk: Chunk) -> str:
    """What both legs index: the heading path (title > chapter > section) and the text."""
    return chunk.heading() + "\n" + chunk.text


def build_version(root: Path, documents: Sequence[Document], chunks: Sequence[Chunk],
                  embedder: Embedder, *, model: str, chunk_size: int, chunk_overlap: int,
                  progress: Progress | None = None, keep: int = 2,
                  cache: EmbeddingCache | None = None) -> tuple[Path, int, int]:
    """Write a complete version into staging, publish it, prune old versions.

    Returns (the version's folder, how many passages and how many sentences were embedded: cache
    misses). Call it while holding ``index.lock.writer_lock(root)``."""
    started = time.perf_counter()
    # One edition's chunks are contiguous rows, so a search can be limited to an edition cheaply.
    chunks = sorted(chunks, key=lambda c: c.language)
    languages: dict[str, list[int]] = {}
    for row, c in enumerate(chunks):
        languages.setdefault(c.language, [row, row])[1] = row + 1
    layout = IndexLayout(root)
    staged = layout.new_staging()
    try:
        texts = [indexed_text(c) for c in chunks]
        total = len(texts)
        # Commit to the cache every few model batches: a killed sync loses at most one of these.
        batch = 4 * max(1, getattr(embedder, "batch_size", 32))
        vectors, embedded = embed_with_cache(embedder, texts, cache, progress=progress, batch=batch)
        VectorIndex.build(vectors, embedder.dim).save(staged / "vectors.faiss")
        sentence_list, spans, offsets = sentence_texts(chunks)
        sentence_vectors, sentences_embedded = embed_with_cache(
            embedder, sentence_list, cache, batch=batch,
            progress=(lambda _, n, t: progress("embed sentences", n, t)) if progress else None)
        SentenceVectors(sentence_vectors, spans, offsets).save(staged)
        KeywordIndex.build(texts, cache=cache).save(staged / "keyword")
        KeywordIndex.build(texts, "bigram", cache=cache).save(staged / "keyword_bigram")
        counts: dict[str, int] = {}
        for c in chunks:
            counts[c.source_id] = counts.get(c.source_id, 0) + 1
        write_store(staged / "chunks.sqlite", chunks, (
            {"source_id": d.source_id, "path": d.path, "title": d.title, "language": d.language,
             "edition": d.edition, "content_hash": d.content_hash, "chunks": counts.get(d.source_id, 0),
             "issues": d.issues} for d in documents))
        Manifest(model_id=embedder.model_id, model=model, dim=embedder.dim, analyzer=f"{ANALYZER}+{CJK_BIGRAM}",
                 chunk_size=chunk_size, chunk_overlap=chunk_overlap, chunks=total,
                 sentences=len(spans), sources=len(documents), created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                 build_seconds=round(time.perf_counter() - started, 3), languages=languages).write(staged)
        final = layout.publish(staged)
    except BaseException:
        layout.discard(staged)
        raise
    layout.prune(keep)
    return final, embedded, sentences_embedded
