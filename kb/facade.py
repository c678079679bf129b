"""KnowledgeBase: the one public entry point, used by the CLI, the bots and the tests."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

from kb.config import DEFAULT_MODEL, SAMPLE_DIR, Settings
from kb.errors import ConfigError, IndexMismatchError, IndexNotFoundError, IngestError, KBError
from kb.model import Answer, Chunk, Hit, IngestReport, SearchResult, SourceReport

Progress = Callable[[str, int, int], None]  # (stage, advance, total): "load" per file, "embed" per chunk


class KnowledgeBase:
    """A published index plus the model that reads it. Safe to share between threads.

    >>> kb = KnowledgeBase.open()                      # the default index (sample guidebook)
    >>> hit = kb.search("在留カードをなくした", k=3).hits[0]
    >>> hit.citation.label()
    '生活・就労ガイドブック（サンプル） [ja, sample-2026] § 1.1.3 第1章 入国・在留手続 > 1 在留カード > (3) 紛失, p. 2'
    """

    def __init__(self, version: Any, embedder: Any, settings: Settings) -> None:
        from answer.retrieve import HybridRetriever

        self.settings = settings
        self._version = version
        self._retriever = HybridRetriever(version, embedder, settings)
        self._lock = threading.Lock()
        self._checked = time.monotonic()

    # -- opening and building -------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path | None = None, *, settings: Settings | None = None,
             progress: Progress | None = None, **overrides: Any) -> "KnowledgeBase":
        """Open the index at ``path`` (default: the configured index, built from the sample on first use)."""
        from index.embedder import load_embedder, model_identity
        from index.layout import IndexLayout
        from index.reader import open_version
        from ingest.language import use_model_cache

        settings = settings or Settings.load(index=path, **overrides)
        if path is not None:
            settings = settings.with_(index=Path(path))
        use_model_cache(settings.model_cache)  # the language model routes each question
        if IndexLayout(settings.index).current() is None and cls._is_default(settings, path):
            cls.build([SAMPLE_DIR], settings=settings, progress=progress)
        version = open_version(settings.index)
        manifest = version.manifest
        model = settings.model or manifest.model
        if settings.model and model_identity(settings.model) != manifest.model_id:
            version.close()
            raise IndexMismatchError(
                f"index {settings.index} was built with model {manifest.model_id}, but the configured "
                f"model is {model_identity(settings.model)}; rebuild with `kb ingest ... --model "
                f"{settings.model}` or unset KB_MODEL")
        embedder = load_embedder(model, settings.model_cache, threads=settings.threads,
                                 batch_size=settings.batch_size, backend=settings.backend, progress=progress)
        if embedder.dim != manifest.dim:
            version.close()
            raise IndexMismatchError(f"model {model} gives {embedder.dim}-d vectors but the index holds "
                                     f"{manifest.dim}-d; rebuild with `kb ingest`")
        return cls(version, embedder, settings)

    @staticmethod
    def _is_default(settings: Settings, path: str | Path | None) -> bool:
        """Only the default location is filled with the sample; any other index must be built."""
        return path is None and settings.index == settings.home / "index"

    @classmethod
    def build(cls, paths: Sequence[str | Path], *, index: str | Path | None = None,
              settings: Settings | None = None, progress: Progress | None = None,
              **overrides: Any) -> IngestReport:
        """Index exactly the files under ``paths`` as a new version of the index and publish it.

        Files that cannot be read are reported (``SourceReport.error``) and skipped; pages that are
        image-only or garbled are reported in ``issues``. Raises IngestError when nothing is indexable.
        """
        from index.build import build_version
        from index.cache import EmbeddingCache
        from index.embedder import load_embedder
        from index.layout import IndexLayout
        from index.lock import writer_lock
        from index.manifest import Manifest
        from ingest.language import use_model_cache
        from ingest.loader import collect

        settings = (settings or Settings.load(**overrides)).with_(index=Path(index) if index else None)
        use_model_cache(settings.model_cache)
        started = time.perf_counter()
        files = collect([Path(p) for p in paths])
        if not files:
            raise IngestError(f"no supported files under {', '.join(map(str, paths))} "
                              "(.pdf, .md, .txt, e-Gov law .html)")
        with writer_lock(settings.index):  # taken first: a second sync is refused before any work
            documents, chunks, reports = cls._load_all(files, settings, progress)
            layout = IndexLayout(settings.index)
            layout.clean_staging()  # builds left behind by a killed writer
            live = layout.current()
            # Keep the index's model unless told otherwise: readers of a live index must not find
            # the next version built with another model.
            model = settings.model or (live and Manifest.model_of(live)) or DEFAULT_MODEL
            embedder = load_embedder(model, settings.model_cache, threads=settings.ingest_threads,
                                     batch_size=settings.batch_size, backend=settings.backend, progress=progress)
            changes = cls._changes(settings.index, documents, chunks)
            cache = EmbeddingCache(settings.index / "embeddings.sqlite")
            embed_started = time.perf_counter()
            try:
                version, embedded, sentences_embedded = build_version(
                    settings.index, documents, chunks, embedder, model=model, chunk_size=settings.chunk_size,
                    chunk_overlap=settings.chunk_overlap, progress=progress, cache=cache)
            finally:
                cache.close()
            embed_seconds = time.perf_counter() - embed_started
        changes["chunks"]["embedded"] = embedded
        changes["chunks"]["sentences_embedded"] = sentences_embedded
        return IngestReport(str(settings.index), version.name, tuple(reports), len(chunks),
                            time.perf_counter() - started, embed_seconds, embedded, changes)

    @staticmethod
    def _load_all(files: Sequence[Any], settings: Settings,
                  progress: Progress | None) -> tuple[list[Any], list[Chunk], list[SourceReport]]:
        """Load and chunk every file; unreadable files become reports, not errors."""
        from ingest.chunker import chunk_document
        from ingest.loader import load

        documents, chunks, reports = [], [], []
        for source in files:
            try:
                doc = load(source)
            except IngestError as exc:
                reports.append(SourceReport(source.source_id, str(source.path), error=str(exc)))
            else:
                doc_chunks = chunk_document(doc, settings.chunk_size, settings.chunk_overlap)
                documents.append(doc)
                chunks.extend(doc_chunks)
                reports.append(SourceReport(doc.source_id, doc.path, len(doc_chunks), doc.language, doc.issues))
            if progress:
                progress("load", 1, len(files))
        if not chunks:
            reasons = "; ".join(r.error or f"{r.source_id}: no indexable text" for r in reports)
            raise IngestError(f"nothing to index: {reasons}")
        return documents, chunks, reports

    @staticmethod
    def _changes(root: Path, documents: Sequence[Any], chunks: Sequence[Chunk]) -> dict[str, Any]:
        """What this build changes compared with the live version: documents by content hash,
        chunks by id (ids derive from content, so an unchanged chunk keeps its id)."""
        from index.layout import IndexLayout
        from index.store import ChunkStore

        live = IndexLayout(root).current()
        old_docs: dict[str, str] = {}
        old_chunks: set[str] = set()
        if live is not None and (live / "chunks.sqlite").exists():
            store = ChunkStore(live / "chunks.sqlite")
            try:
                old_docs = {s["source_id"]: s["content_hash"] for s in store.sources()}
                old_chunks = store.chunk_ids()
            finally:
                store.close()
        new_docs = {d.source_id: d.content_hash for d in documents}
        new_chunks = {c.chunk_id for c in chunks}
        return {
            "documents": {
                "added": sorted(set(new_docs) - set(old_docs)),
                "changed": sorted(k for k in set(new_docs) & set(old_docs) if new_docs[k] != old_docs[k]),
                "removed": sorted(set(old_docs) - set(new_docs)),
                "unchanged": sum(1 for k in set(new_docs) & set(old_docs) if new_docs[k] == old_docs[k]),
            },
            "chunks": {"added": len(new_chunks - old_chunks), "removed": len(old_chunks - new_chunks),
                       "unchanged": len(new_chunks & old_chunks)},
        }

    @classmethod
    def rollback(cls, index: str | Path | None = None, *, settings: Settings | None = None) -> str:
        """Make the previous version live again; returns its name."""
        from index.layout import IndexLayout
        from index.lock import writer_lock

        settings = (settings or Settings.load()).with_(index=Path(index) if index else None)
        with writer_lock(settings.index):
            layout = IndexLayout(settings.index)
            previous = layout.previous()
            if previous is None:
                raise IndexNotFoundError(f"{settings.index}: no earlier version to roll back to")
            layout.point_to(previous)
        return previous.name

    # -- reading ----------------------------------------------------------------------------
    @property
    def version(self) -> str:
        """The name of the index version this object is reading."""
        return self._version.path.name

    def reload(self) -> bool:
        """Switch to the newest published version if there is one; True if it switched.

        Searches already running finish on the version they started with (it stays open until
        nothing uses it), so a bot keeps answering while a maintainer re-indexes."""
        from answer.retrieve import HybridRetriever
        from index.layout import IndexLayout
        from index.reader import open_version

        with self._lock:
            self._checked = time.monotonic()
            live = IndexLayout(self.settings.index).current()
            if live is None or live == self._version.path:
                return False
            version = open_version(self.settings.index)
            embedder = self._retriever.embedder
            if version.manifest.model_id != embedder.model_id:
                version.close()
                raise IndexMismatchError(f"the new index version was built with {version.manifest.model_id}, "
                                         f"this process uses {embedder.model_id}; restart it")
            self._version = version
            self._retriever = HybridRetriever(version, embedder, self.settings)
            return True

    def _maybe_reload(self) -> None:
        """Automatic reload: a version that cannot be opened is logged and the current one kept."""
        every = self.settings.reload_every
        if every > 0 and time.monotonic() - self._checked >= every:
            try:
                self.reload()
            except KBError as exc:
                logging.getLogger("madoguchi").warning("keeping index version %s: %s", self.version, exc)

    def search(self, query: str, k: int | None = None, *, mode: str = "hybrid",
               languages: Sequence[str] | None = None) -> SearchResult:
        """Ranked hits for ``query`` (hybrid by default; ``mode="dense"``/``"keyword"`` for one leg).

        By default the query's own language edition and the Japanese original are searched
        separately and merged; ``languages=["vi"]`` limits the search to given editions."""
        self._maybe_reload()
        return self._retriever.search(query, k, mode=mode, languages=languages)

    def ask(self, query: str, k: int | None = None, *, lang: str | None = None,
            generate: bool = False) -> Answer:
        """Sentences quoted from the best passages, each citing its source, or an honest "not found"
        with the nearest sections (see ``answer.compose``).

        ``lang`` picks the answer edition: the same sections in that language's edition, quoted
        from it; sections it lacks (or a language with no edition here) come from Japanese, with a note.
        ``generate`` asks the configured OpenAI-compatible LLM to write the answer from the same
        passages; an unusable reply (no or invalid citations, error, timeout) falls back, with a note."""
        from answer.compose import compose_answer

        self._maybe_reload()
        s = self.settings
        retriever = self._retriever  # one version for the whole answer, even if a reload happens now
        started = time.perf_counter()
        result, vector = retriever.search_with_vector(query, max(k or s.top_k, s.answer_passages))
        editions = retriever.version.manifest.languages
        hits, note = (result.hits, "") if lang is None else self._in_edition(result.hits, lang, editions)
        t0 = time.perf_counter()
        answer = compose_answer(result, vector, retriever.sentence_vectors,
                                retriever.version.keyword,
                                abstain_below=s.abstain_below if result.reranked else s.abstain_below_fused,
                                passages=s.answer_passages, max_sentences=s.max_sentences, hits=hits, note=note)
        if generate and not answer.abstained:
            answer = self._generated(answer, hits[:s.answer_passages], lang)
        answer.timings_ms["answer"] = (time.perf_counter() - t0) * 1e3
        answer.timings_ms["total"] = (time.perf_counter() - started) * 1e3
        return answer

    def _generated(self, extractive: Answer, hits: Sequence[Hit], lang: str | None) -> Answer:
        """The LLM's answer over the same passages, or ``extractive`` with the reason it was not used."""
        from answer.llm import LLMConfig, LLMError, generate
        from ingest.language import guess_language

        s = self.settings
        if not s.llm_base_url:
            raise ConfigError("no LLM endpoint configured: set KB_LLM_BASE_URL (and KB_LLM_MODEL, "
                              "KB_LLM_API_KEY) to an OpenAI-compatible server, or ask without --llm")
        config = LLMConfig(s.llm_base_url, s.llm_model, s.llm_api_key, s.llm_timeout, s.max_sentences)
        language = lang or guess_language(extractive.query)
        try:
            sentences = generate(config, extractive.query, hits, language)
        except LLMError as exc:
            note = f"Generated answer not used: {exc}; showing the quoted answer."
            return replace(extractive, note=" ".join(filter(None, (extractive.note, note))))
        return replace(extractive, sentences=tuple(sentences), sources=tuple(hits), method="generated")

    @staticmethod
    def _in_edition(hits: Sequence[Hit], lang: str, editions: dict[str, Any]) -> tuple[list[Hit], str]:
        from answer.editions import BASE

        target = lang if lang in editions else BASE
        out: list[Hit] = []
        fallback: list[str] = []
        for hit in hits:
            found = hit.in_edition(target) or (hit.in_edition(BASE) if target != BASE else [])
            chunk = found[0] if found else hit.chunk
            if chunk.language != target:
                fallback.append(chunk.section_id or chunk.source_id)
            if all(h.chunk.chunk_id != chunk.chunk_id for h in out):
                out.append(replace(hit, rank=len(out) + 1, chunk=chunk))
        notes = []
        if target != lang:
            notes.append(f"There is no {lang} edition in this knowledge base; answering from {BASE}.")
        if fallback:
            notes.append(f"Not in the {target} edition: {', '.join(dict.fromkeys(fallback))} "
                         f"(see the {BASE} edition).")
        # Quote only the requested edition when it has any of the sections; else the fallbacks.
        in_target = [h for h in out if h.chunk.language == target]
        return [replace(h, rank=i) for i, h in enumerate(in_target or out, 1)], " ".join(notes)

    def section(self, section_id: str, language: str = "ja") -> list[Chunk]:
        """A section (with its subsections) of one edition, in reading order, chunk overlaps cut."""
        from answer.editions import stitch

        return stitch(list(self._version.store.section(language, section_id).values()))

    def editions(self) -> dict[str, Any]:
        """Edition languages with their chunk counts, and per edition the sections it lacks or adds
        compared with Japanese."""
        from answer.editions import coverage_report

        return {"languages": {k: v[1] - v[0] for k, v in self._version.manifest.languages.items()},
                "alignment": coverage_report(self._version)}

    def status(self) -> dict[str, Any]:
        """Index location, model, counts per source and language (the ``kb status --json`` schema)."""
        m = self._version.manifest
        sources = self._version.store.sources()
        languages: dict[str, int] = {}
        for s in sources:
            languages[s["language"]] = languages.get(s["language"], 0) + s["chunks"]
        return {
            "index": str(self.settings.index), "version": self._version.path.name,
            "model": m.model_id, "dim": m.dim, "analyzer": m.analyzer, "chunks": m.chunks,
            "sentences": m.sentences, "chunk_size": m.chunk_size, "chunk_overlap": m.chunk_overlap,
            "created": m.created, "fusion": self.settings.fusion, "rerank_depth": self.settings.rerank_depth,
            "languages": languages,
            "sources": [{**{k: v for k, v in s.items() if k != "issues"},
                         "skipped_pages": len(s["issues"])} for s in sources],
        }

    def close(self) -> None:
        self._version.close()

    def __enter__(self) -> "KnowledgeBase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
