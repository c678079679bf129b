"""Sync: make an index hold exactly the given sources, as a new version published atomically.

Under the writer lock: load and chunk every file (ingest), compare with the live version, embed
only what the embedding cache lacks, write the version into staging, publish it, prune. Also the
other writes a maintainer makes: rollback, pulling a replica's copy, and picking versions to diff.
"""
from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from index.cache import CACHE_FILE, EmbeddingCache
from index.diff import diff_versions
from index.embed import Embedder, load_embedder
from index.layout import IndexLayout, sequence
from index.lock import writer_lock
from index.manifest import VersionManifest
from index.version import CHUNKS, open_store, write_version
from ingest.language import use_model_cache
from ingest.loader import collect, load_all
from ingest.questions import load_questions
from kb.config import DEFAULT_MODEL, Settings
from kb.errors import IndexNotFoundError, IndexWriteError, IngestError, KBError
from kb.model import Chunk, Document, Progress
from kb.reports import ChunkChanges, DocumentChanges, SyncChanges, SyncReport

KEEP_VERSIONS = 2  # the live version and the one live before it (``IndexLayout.prune``)
log = logging.getLogger("madoguchi.index")


@contextmanager
def writing(root: Path, what: str) -> Iterator[None]:
    """What the OS, SQLite or faiss raise while writing (disk full, read-only, quota) as one
    IndexWriteError; the live version is never touched by a failed write."""
    try:
        yield
    except KBError:
        raise
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and "write" not in str(exc):
            raise  # faiss reports a failed write as a RuntimeError; anything else is not a disk problem
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise IndexWriteError(f"{root}: could not write {what} ({reason}); the live version is unchanged: "
                              "free disk space (or fix permissions) and run the command again") from exc


def sync(paths: Sequence[Path], settings: Settings, *, embedder: Embedder | None = None,
         progress: Progress | None = None) -> SyncReport:
    """Index exactly the files under ``paths`` as a new version of ``settings.index`` and publish it.

    Files that cannot be read are reported (``SourceReport.error``) and skipped; pages that are
    image-only or garbled are reported in ``issues``. Raises IngestError when nothing is indexable.
    ``embedder`` replaces the configured model (it must be the one the index was built with)."""
    use_model_cache(settings.model_cache)
    started = time.perf_counter()
    files = collect([Path(p) for p in paths])
    examples = load_questions([Path(p) for p in paths])  # a malformed file stops the sync before any work
    if not files:
        raise IngestError(f"no supported files under {', '.join(map(str, paths))} "
                          "(.pdf, .md, .txt, e-Gov law .html)")
    root = settings.index
    with writer_lock(root):  # taken first: a second sync is refused before any work
        loaded = load_all(files, settings.chunking, progress, settings.limits)
        layout = IndexLayout(root)
        layout.clean_staging()  # builds left behind by a killed writer
        live = layout.live()  # a damaged CURRENT is replaced by this sync
        # Keep the index's model unless told otherwise: readers of a live index must not find
        # the next version built with another model.
        model = settings.model or (embedder and embedder.model_id) or (live and VersionManifest.model_of(live)) \
            or DEFAULT_MODEL
        if embedder is None:
            e = settings.embedding
            embedder = load_embedder(model, e.model_cache, threads=e.ingest_threads, batch_size=e.batch_size,
                                     backend=e.backend, progress=progress)
        doc_changes, chunk_changes = compare(live, loaded.documents, loaded.chunks)
        with writing(root, "the new version"):
            staged = layout.new_staging()
            cache = EmbeddingCache(root / CACHE_FILE, stamp=sequence(staged))  # rows this build uses get its number
            embed_started = time.perf_counter()
            try:
                written = write_version(staged, loaded.documents, loaded.chunks, embedder, model=model,
                                        chunking=settings.chunking, progress=progress, cache=cache,
                                        examples=examples)
                final = layout.publish(staged)
                embed_seconds = time.perf_counter() - embed_started
                layout.prune(KEEP_VERSIONS)
                # What no version left on disk used goes: the cache holds the live and kept versions' texts.
                cache.prune(min(sequence(p) for p in layout.versions.iterdir() if p.is_dir()))
            except BaseException:
                layout.discard(staged)
                raise
            finally:
                cache.close()
    changes = SyncChanges(doc_changes, ChunkChanges(chunk_changes.added, chunk_changes.removed,
                                                    chunk_changes.unchanged, written.embedded,
                                                    written.sentences_embedded))
    return SyncReport(str(root), final.name, tuple(loaded.reports), len(loaded.chunks),
                      time.perf_counter() - started, embed_seconds, changes, written.examples)


def compare(live: Path | None, documents: Sequence[Document],
            chunks: Sequence[Chunk]) -> tuple[DocumentChanges, ChunkChanges]:
    """What this build changes compared with the live version: documents by content hash, chunks
    by id (ids derive from content, so an unchanged chunk keeps its id)."""
    old_docs: dict[str, str] = {}
    old_chunks: set[str] = set()
    if live is not None and (live / CHUNKS).exists():
        try:
            store = open_store(live)
            try:
                old_docs = {s.source_id: s.content_hash for s in store.sources()}
                old_chunks = store.chunk_ids()
            finally:
                store.close()
        except (sqlite3.Error, OSError, ValueError, TypeError) as exc:  # a damaged live version: all is new
            log.warning("cannot compare with %s (%s); reporting every document as added", live, exc)
            old_docs, old_chunks = {}, set()
    new_docs = {d.source_id: d.content_hash for d in documents}
    new_chunks = {c.chunk_id for c in chunks}
    both = set(new_docs) & set(old_docs)
    docs = DocumentChanges(added=tuple(sorted(set(new_docs) - set(old_docs))),
                           changed=tuple(sorted(k for k in both if new_docs[k] != old_docs[k])),
                           removed=tuple(sorted(set(old_docs) - set(new_docs))),
                           unchanged=sum(1 for k in both if new_docs[k] == old_docs[k]))
    return docs, ChunkChanges(added=len(new_chunks - old_chunks), removed=len(old_chunks - new_chunks),
                              unchanged=len(new_chunks & old_chunks))


def rollback(root: Path) -> str:
    """Make the version that was live before the live one live again (it becomes the previous
    one in turn, so a second rollback undoes the first); returns its name."""
    with writer_lock(root), writing(root, "the version pointer"):
        layout = IndexLayout(root)
        layout.clean_staging()  # pointer temp files left by a killed rollback
        previous = layout.previous()
        if previous is None:
            raise IndexNotFoundError(f"{root}: no earlier version to roll back to")
        layout.point_to(previous)
    return previous.name


def pull(source: Path, root: Path) -> str | None:
    """Make the version live at ``source`` (the index a builder publishes to: a shared volume, a
    mounted or synced bucket) live at ``root`` too: copied into staging, verified against its
    manifest's checksums, published under the same name, pruned. Returns its name, or None when
    ``root`` already serves it."""
    published = IndexLayout(source).current()
    if published is None:
        raise IndexNotFoundError(f"no published version at {source}")
    with writer_lock(root), writing(root, f"the copy of {published.name}"):
        layout = IndexLayout(root)
        live = layout.live()
        if live is not None and live.name == published.name:
            return None
        layout.clean_staging()
        if (layout.versions / published.name).is_dir():  # pulled before (the source rolled back to it)
            layout.point_to(layout.versions / published.name)
            return published.name
        staged = layout.staging / published.name
        try:
            shutil.copytree(published, staged)
            VersionManifest.read(staged).verify(staged)  # a half-copied or damaged copy is never served
            layout.publish(staged)
        except BaseException:
            layout.discard(staged)
            raise
        layout.prune(KEEP_VERSIONS)
    return published.name


def diff(root: Path, old: str | None = None, new: str | None = None) -> dict:
    """Sections added, removed and changed from version ``old`` (default: the previous one) to
    ``new`` (default: the live one)."""
    layout = IndexLayout(root)

    def pick(name: str | None, default: Path | None, what: str) -> Path:
        path = layout.version_named(name) if name else default
        if path is None or not path.is_dir():
            names = sorted(p.name for p in layout.versions.glob("*")) if layout.versions.is_dir() else []
            asked = f"no version named {name!r}" if name else f"no {what} version"
            raise IndexNotFoundError(f"{asked} in {layout.root}; versions here: {', '.join(names) or 'none'}")
        return path

    return diff_versions(pick(old, layout.previous(), "previous"), pick(new, layout.current(), "live"))
