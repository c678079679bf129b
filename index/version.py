"""One index version: the files it holds, how they are written into staging, and how they are read.

    manifest.json        what it was built with (index.manifest); checked on every open
    chunks.sqlite        chunk text and metadata by row (index.store)
    vectors.faiss        the dense leg (index.vectors)
    keyword/             BM25 over lemma tokens (index.keyword)
    keyword_bigram/      BM25 over CJK character bigrams
    sentences.npy        sentence vectors, memory-mapped (index.sentences)
    sentence_spans.npz   where each sentence sits in its chunk
    lexicon.json         words of each edition -> Japanese lemmas, from the parallel editions (index.lexicon)
    readings.json        kana readings of the Japanese editions' words -> their written forms (index.readings)
    tones.json           the Vietnamese edition's syllables and pairs, to restore tone marks (index.tones)
    questions.npz        example questions per guidebook section, embedded as queries (index.questions)

Row i is the same chunk in every part. Chunks are sorted by edition, so an edition's rows are one
range (``VersionManifest.languages``). Where versions live and how one is published: ``index.layout``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import numpy as np

from index.cache import CACHE_FILE, EmbeddingCache, embed_with_cache
from index.embed import Embedder
from index.keyword import KeywordIndex
from index import lexicon, questions, readings, tones
from index.layout import IndexLayout
from index.manifest import FIX, VersionManifest
from index.sentences import SPANS_FILE, VECTORS_FILE, SentenceVectors, sentence_texts
from index.store import ChunkStore, write_store
from index.tokenize import ANALYZER, CJK_BIGRAM
from index.vectors import VectorIndex
from ingest.questions import ExampleQuestion
from kb.config import ChunkSettings
from kb.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, KBError
from kb.model import Chunk, Document, Progress, numbered, section_key

CHUNKS, VECTORS, KEYWORD, BIGRAM = "chunks.sqlite", "vectors.faiss", "keyword", "keyword_bigram"
ANALYZERS = f"{ANALYZER}+{CJK_BIGRAM}"  # the keyword legs' analyzer versions, recorded in the manifest
T = TypeVar("T")


def indexed_text(chunk: Chunk) -> str:
    """What both legs index: the heading path (title > chapter > section) and the text."""
    return chunk.heading() + "\n" + chunk.text


@dataclass
class IndexVersion:
    """An open, published version (read-only)."""

    path: Path
    manifest: VersionManifest
    store: ChunkStore
    vectors: VectorIndex
    keyword: KeywordIndex
    bigram: KeywordIndex
    sentences: SentenceVectors
    lexicon: lexicon.Lexicon
    readings: readings.Readings
    tones: tones.Tones
    examples: questions.ExampleVectors
    _headings: dict[str, str] = field(default_factory=dict, repr=False)  # section key -> heading (``headings``)

    @cached_property
    def kana(self) -> readings.KanaReader:
        """Reads an easy-Japanese question's kana words in the guidebook's writing (once per version)."""
        return readings.KanaReader(self.readings)

    @cached_property
    def toned(self) -> tones.ToneReader:
        """Reads a Vietnamese question typed without tone marks in the edition's spelling (once per version)."""
        return tones.ToneReader(self.tones)

    @cached_property
    def sections(self) -> "SectionMap":
        """Which rows of which edition are evidence for which section (read once per version)."""
        return SectionMap.of(self.store.row_sections())

    def rows_from(self, prefixes: Sequence[str]) -> np.ndarray:
        """A mask of the rows whose source id starts with one of ``prefixes`` (e.g. "laws/")."""
        sources = np.array([s for _, _, s, _, _ in self.store.row_sections()], dtype=object)
        return np.array([any(str(s).startswith(p) for p in prefixes) for s in sources], dtype=bool)

    def headings(self, keys: Sequence[str]) -> list[str]:
        """Each section's headings below the chapter (3.1.2: "1 働く前の基礎知識 (2) 仕事の探し方"), as
        the Japanese edition words them, else the first edition that has the section; read from the
        store once per section."""
        todo: dict[str, int] = {}
        for key in dict.fromkeys(keys):
            by_edition = self.sections.rows.get(key)
            if key not in self._headings and by_edition:
                todo[key] = int(by_edition.get("ja", next(iter(by_edition.values())))[0])
        if todo:
            found = self.store.chunks(list(todo.values()))
            self._headings.update({key: " ".join(found[row].section_path[1:]) for key, row in todo.items()})
        return [self._headings.get(key, "") for key in keys]

    @cached_property
    def book_rows(self) -> np.ndarray:
        """A mask of the rows in the guidebook's numbered sections (not statutes or other documents)."""
        return np.array([numbered(s) for _, _, _, s, _ in self.store.row_sections()], dtype=bool)

    @cached_property
    def section_ids(self) -> dict[str, frozenset[str]]:
        """Every edition and the section ids it has (read once: a published version never changes)."""
        return {lang: frozenset(ids) for lang, ids in self.store.section_ids().items()}

    def close(self) -> None:
        self.store.close()


@dataclass(frozen=True)
class SectionMap:
    """Rows grouped by section key (``kb.model.section_key``) and edition."""

    key_of_row: tuple[str, ...]
    rows: dict[str, dict[str, np.ndarray]]  # key -> edition -> rows

    @classmethod
    def of(cls, table: Sequence[tuple[int, str, str, str | None, str]]) -> "SectionMap":
        keys: list[str] = []
        grouped: dict[str, dict[str, list[int]]] = {}
        for row, language, source_id, section_id, chunk_id in table:
            key = section_key(source_id, section_id, chunk_id)
            keys.append(key)
            grouped.setdefault(key, {}).setdefault(language, []).append(row)
        return cls(tuple(keys), {k: {e: np.asarray(r, dtype=np.int64) for e, r in by.items()}
                                 for k, by in grouped.items()})


def open_store(folder: Path) -> ChunkStore:
    """Only the chunk store of a version folder (diffs and change reports need no vectors)."""
    return ChunkStore(folder / CHUNKS)


def open_version(root: Path) -> IndexVersion:
    """The version ``root/CURRENT`` names, verified against its manifest's checksums before any of
    its files is parsed; every failure is a KBError naming the file and the command that fixes it."""
    folder = IndexLayout(root).current()
    if folder is None:
        raise IndexNotFoundError(f"no index at {root}; build one with `kb sync PATH... --index {root}`")
    manifest = VersionManifest.read(folder)
    if manifest.analyzer != ANALYZERS:
        raise IndexMismatchError(f"{root}: keyword index built with analyzer {manifest.analyzer}, this "
                                 f"version uses {ANALYZERS}; rebuild with `kb sync`")
    manifest.verify(folder)
    store = _part(folder / CHUNKS, lambda: open_store(folder))
    try:
        return IndexVersion(
            path=folder, manifest=manifest, store=store,
            vectors=_part(folder / VECTORS, lambda: VectorIndex.load(folder / VECTORS, manifest.dim, manifest.chunks)),
            keyword=_part(folder / KEYWORD, lambda: KeywordIndex.load(folder / KEYWORD, manifest.chunks)),
            bigram=_part(folder / BIGRAM, lambda: KeywordIndex.load(folder / BIGRAM, manifest.chunks, "bigram")),
            sentences=_part(folder / VECTORS_FILE, lambda: SentenceVectors.load(folder, manifest.dim, manifest.chunks)),
            lexicon=_part(folder / lexicon.FILE, lambda: lexicon.load(folder)),
            readings=_part(folder / readings.FILE, lambda: readings.load(folder)),
            tones=_part(folder / tones.FILE, lambda: tones.load(folder)),
            examples=_part(folder / questions.FILE, lambda: questions.load(folder, manifest.dim)))
    except BaseException:
        store.close()
        raise


def _part(path: Path, load: Callable[[], T]) -> T:
    """``load()``, with whatever faiss, SQLite, numpy, bm25s or the OS raise as one IndexCorruptError
    naming ``path`` (checksums make this rare: a file damaged after verification, a library bug)."""
    try:
        return load()
    except KBError:
        raise
    except Exception as exc:  # MemoryError too: a huge declared size
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise IndexCorruptError(f"{path}: cannot be read ({reason}); {FIX}") from exc


def disk_usage(root: Path, version: Path) -> dict[str, int]:
    """Bytes on disk: ``version``'s files, every version's, and the embedding cache's (``kb status``)."""
    def size(paths) -> int:
        return sum(p.stat().st_size for p in paths if p.is_file())

    versions = IndexLayout(root).versions
    return {"version": size(version.rglob("*")),
            "versions": size(versions.rglob("*")) if versions.is_dir() else 0,
            "cache": size(root.glob(CACHE_FILE + "*"))}  # with its -wal and -shm files


@dataclass(frozen=True)
class Written:
    """What ``write_version`` embedded now (distinct cache misses): passages, and sentences that are
    no passage's text; and how many example questions the version holds."""

    embedded: int
    sentences_embedded: int
    examples: int = 0


def write_version(staged: Path, documents: Sequence[Document], chunks: Sequence[Chunk], embedder: Embedder,
                  *, model: str, chunking: ChunkSettings, progress: Progress | None = None,
                  cache: EmbeddingCache | None = None, examples: Sequence[ExampleQuestion] = ()) -> Written:
    """Write every file of a version into the empty folder ``staged`` (``examples``: the example
    questions of its sections, ``ingest.questions``)."""
    started = time.perf_counter()
    chunks = sorted(chunks, key=lambda c: c.language)  # one edition's rows: one contiguous range
    languages: dict[str, list[int]] = {}
    for row, c in enumerate(chunks):
        languages.setdefault(c.language, [row, row])[1] = row + 1
    texts = [indexed_text(c) for c in chunks]
    sentence_list, spans, offsets = sentence_texts(chunks)
    # Passages and sentences in one call: a text that is both (a one-sentence chunk) or a sentence
    # repeated by the chunk overlap is embedded once. Committed to the cache every few model
    # batches: a killed sync loses at most one of these.
    batch = 4 * max(1, getattr(embedder, "batch_size", 32))
    both, embedded = embed_with_cache(embedder, texts + sentence_list, cache, progress=progress, batch=batch)
    VectorIndex.build(both[:len(texts)], embedder.dim).save(staged / VECTORS)
    SentenceVectors.of_vectors(both[len(texts):], spans, offsets).save(staged)
    lexicon.save(lexicon.build(chunks, spans, offsets, both[len(texts):]), staged)
    readings.save(readings.build(chunks), staged)
    tones.save(tones.build(chunks), staged)
    sections = {c.section_id for c in chunks if numbered(c.section_id)}
    asked = questions.build(examples, sections, embedder, cache, progress)
    questions.save(asked, staged)
    KeywordIndex.build(texts, cache=cache).save(staged / KEYWORD)
    KeywordIndex.build(texts, "bigram", cache=cache).save(staged / BIGRAM)
    counts: dict[str, int] = {}
    for c in chunks:
        counts[c.source_id] = counts.get(c.source_id, 0) + 1
    write_store(staged / CHUNKS, chunks, documents, counts)
    VersionManifest(model_id=embedder.model_id, model=model, dim=embedder.dim, analyzer=ANALYZERS,
                    chunk_size=chunking.size, chunk_overlap=chunking.overlap, chunks=len(chunks),
                    sentences=len(spans), sources=len(documents), created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    build_seconds=round(time.perf_counter() - started, 3), languages=languages).write(staged)
    passages = sum(1 for i in embedded if i < len(texts))
    return Written(passages, len(embedded) - passages, len(asked))
