"""KnowledgeBase: the one public entry point, used by the CLI, the bots and the tests.

Wiring only: settings in, the stages' work out (``index.sync`` writes versions, ``index.version``
opens them, ``answer.retrieve`` searches, ``answer.ask`` answers).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence, TypeVar

from answer import ask as asking
from answer.editions import coverage_report
from answer.evaluate import EvalReport, evaluate, load_questions
from answer.fusion import get_fusion
from answer.handout import build_handout
from answer.render.handout import to_html
from answer.retrieve import HybridRetriever, check_query
from index import sync as syncing
from index.embed import Embedder, load_embedder, model_identity
from index.layout import IndexLayout
from index.version import IndexVersion, disk_usage, open_store, open_version
from ingest.chunker import stitch
from ingest.fetch import FetchResult, fetch_all
from ingest.fetchlist import load_fetch_list
from ingest.language import use_model_cache
from kb.config import SAMPLE_DIR, Settings
from kb.errors import IndexMismatchError
from kb.model import Answer, Chunk, Hit, Progress, SearchResult
from kb.reports import Status, SyncReport

log = logging.getLogger("madoguchi")


def _holds_only_sample(root: Path) -> bool:
    """True if the live version of the index at ``root`` was built from the shipped sample only."""
    folder = IndexLayout(root).current()
    if folder is None:
        return False
    try:
        store = open_store(folder)
        try:
            sources = store.sources()
        finally:
            store.close()
    except Exception:  # an unreadable store: not provably the sample
        return False
    sample = SAMPLE_DIR.resolve()
    return bool(sources) and all(s.sample and Path(s.path).resolve().is_relative_to(sample) for s in sources)


R = TypeVar("R", SearchResult, Answer)


class KnowledgeBase:
    """A published index plus the model that reads it. Safe to share between threads.

    >>> kb = KnowledgeBase.open()                      # the default index (sample guidebook)
    >>> hit = kb.search("在留カードをなくした", k=3).hits[0]
    >>> hit.citation.label()
    '生活・就労ガイドブック（サンプル） [ja, sample-2026] § 1.1.3 第1章 入国・在留手続 > 1 在留カード > (3) 紛失, p. 2'
    """

    def __init__(self, version: IndexVersion, embedder: Embedder, settings: Settings) -> None:
        self.settings = settings
        self._retriever = HybridRetriever(version, embedder, settings.retrieval)
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._refused: Path | None = None  # a live version that failed to open: not retried until CURRENT moves

    # -- opening and writing ----------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path | None = None, *, settings: Settings | None = None,
             embedder: Embedder | None = None, progress: Progress | None = None,
             **overrides: Any) -> "KnowledgeBase":
        """Open the index at ``path`` (default: the configured index, built from the sample on first
        use). ``embedder`` replaces the configured model (it must match the index's)."""
        settings = settings or Settings.load(index=path, **overrides)
        if path is not None:
            settings = settings.with_(index=Path(path))
        get_fusion(settings.fusion)  # a bad setting fails before any loading
        use_model_cache(settings.model_cache)  # the language model routes each question
        default = path is None and settings.index == settings.home / "index"  # only it gets the sample
        if default and IndexLayout(settings.index).current() is None:
            syncing.sync([SAMPLE_DIR], settings, embedder=embedder, progress=progress)
        try:
            version = open_version(settings.index)
        except IndexMismatchError:
            # Built by an older release (another format or analyzer): the sample alone is rebuilt
            # in place from its files (the embedding cache keeps it to seconds); anything else
            # could be someone's own sources, so its error stands.
            if not (default and _holds_only_sample(settings.index)):
                raise
            log.warning("rebuilding the sample index at %s for this release", settings.index)
            syncing.sync([SAMPLE_DIR], settings, embedder=embedder, progress=progress)
            version = open_version(settings.index)
        m = version.manifest
        try:
            given = embedder is not None
            embedder = embedder or cls._embedder(settings, version, progress)
            if (given and embedder.model_id != m.model_id) or embedder.dim != m.dim:
                raise IndexMismatchError(
                    f"index {settings.index} was built with model {m.model_id} ({m.dim}-d), not "
                    f"{embedder.model_id} ({embedder.dim}-d); rebuild with `kb sync ... --model ...`")
        except BaseException:
            version.close()
            raise
        return cls(version, embedder, settings)

    @staticmethod
    def _embedder(settings: Settings, version: IndexVersion, progress: Progress | None) -> Embedder:
        e = settings.embedding
        if e.model and model_identity(e.model) != version.manifest.model_id:
            raise IndexMismatchError(
                f"index {settings.index} was built with model {version.manifest.model_id}, but the configured "
                f"model is {model_identity(e.model)}; rebuild with `kb sync ... --model {e.model}` or unset KB_MODEL")
        return load_embedder(e.model or version.manifest.model, e.model_cache, threads=e.threads,
                             batch_size=e.batch_size, backend=e.backend, progress=progress)

    @classmethod
    def sync(cls, paths: Sequence[str | Path], index: str | Path | None = None, *,
             settings: Settings | None = None, embedder: Embedder | None = None,
             progress: Progress | None = None, **overrides: Any) -> SyncReport:
        """Index exactly the files under ``paths`` as a new version and publish it (``index.sync``)."""
        settings = (settings or Settings.load(**overrides)).with_(index=Path(index) if index else None)
        return syncing.sync([Path(p) for p in paths], settings, embedder=embedder, progress=progress)

    build = sync  # the former name, kept for one release

    @classmethod
    def rollback(cls, index: str | Path | None = None, *, settings: Settings | None = None) -> str:
        """Make the previous version live again; returns its name."""
        settings = (settings or Settings.load()).with_(index=Path(index) if index else None)
        return syncing.rollback(settings.index)

    @classmethod
    def pull(cls, source: str | Path, index: str | Path | None = None, *,
             settings: Settings | None = None) -> str | None:
        """Copy the version published at ``source`` into this index and publish it (a replica's update);
        its name, or None when already live."""
        settings = (settings or Settings.load()).with_(index=Path(index) if index else None)
        return syncing.pull(Path(source), settings.index)

    @classmethod
    def diff(cls, old: str | None = None, new: str | None = None, index: str | Path | None = None, *,
             settings: Settings | None = None) -> dict[str, Any]:
        """Sections added, removed and changed between two versions (default: previous -> live)."""
        settings = (settings or Settings.load()).with_(index=Path(index) if index else None)
        return syncing.diff(settings.index, old, new)

    @classmethod
    def fetch(cls, languages: Sequence[str] | None = None, *, fetch_list: str | Path | None = None,
              dest: str | Path | None = None, timeout: float = 30.0, settings: Settings | None = None,
              progress: Progress | None = None, deadline: float | None = None) -> list[FetchResult]:
        """Download the official edition PDFs of the fetch list (default ``data/guidebook/editions.toml``)
        into ``dest`` (default ``$KB_HOME/guidebook-pdf``); one ``FetchResult`` per edition, each download
        within ``timeout`` seconds per read and ``deadline`` (default: setting ``fetch_deadline``) in all."""
        settings = settings or Settings.load()
        target = Path(dest) if dest else settings.home / "guidebook-pdf"
        return fetch_all(load_fetch_list(fetch_list or SAMPLE_DIR / "editions.toml"), target,
                         languages=languages, timeout=timeout, progress=progress,
                         deadline=deadline or settings.fetch_deadline)

    # -- reading ----------------------------------------------------------------------------
    @property
    def version(self) -> str:
        """The name of the index version this object is reading."""
        return self._retriever.version.path.name

    def reload(self) -> bool:
        """Switch to the newest published version if there is one; True if it switched.

        Searches already running finish on the version they started with (it stays open until
        nothing uses it), so a bot keeps answering while a maintainer re-indexes."""
        with self._lock:
            self._checked = time.monotonic()
            live = IndexLayout(self.settings.index).current()
            if live is None or live == self._retriever.version.path or live == self._refused:
                return False
            self._refused = live  # until it opened: a damaged version is tried (and logged) once
            version = open_version(self.settings.index)
            self._refused = None
            embedder = self._retriever.embedder
            if version.manifest.model_id != embedder.model_id:
                version.close()
                raise IndexMismatchError(f"the new index version was built with {version.manifest.model_id}, "
                                         f"this process uses {embedder.model_id}; restart it")
            self._retriever = HybridRetriever(version, embedder, self.settings.retrieval)
            return True

    def _current(self) -> HybridRetriever:
        """The retriever to use for one call: after an automatic reload when one is due (a version
        that cannot be opened is logged and the current one kept)."""
        every = self.settings.reload_every
        if every > 0 and time.monotonic() - self._checked >= every:
            try:
                self.reload()
            except Exception as exc:  # open_version makes its failures KBErrors; be safe anyway
                log.warning("keeping index version %s: %s", self.version, exc)
        return self._retriever

    def search(self, query: str, k: int | None = None, *, mode: str = "hybrid",
               languages: Sequence[str] | None = None, sources: Sequence[str] | None = None) -> SearchResult:
        """Ranked hits for ``query`` (hybrid by default; ``mode="dense"``/``"keyword"`` for one leg).

        By default the query's own language edition and the Japanese original are searched
        separately and merged; ``languages=["vi"]`` limits the search to given editions,
        ``sources=["laws/"]`` to documents whose source id starts so."""
        result = self._current().search(query, k, mode=mode, languages=languages, sources=sources).result
        return self._own(result)

    def ask(self, query: str, k: int | None = None, *, lang: str | None = None,
            generate: bool = False) -> Answer:
        """Sentences quoted from the best passages, each citing its source, or an honest "not found"
        with the nearest sections (``answer.ask``).

        ``lang`` picks the answer edition: the same sections in that language's edition, quoted
        from it; sections it lacks (or a language with no edition here) come from Japanese, with a note.
        ``generate`` asks the configured OpenAI-compatible LLM to write the answer from the same
        passages; an unusable reply (no or invalid citations, error, timeout) falls back, with a note."""
        s = self.settings
        answer = asking.ask(self._current(), query, k, lang=lang, generate_answer=generate,
                            answer=s.answer, llm=s.llm)
        return self._own(answer)

    @staticmethod
    def check_query(query: str, settings: Settings | None = None) -> str:
        """``query`` stripped, or the QueryError a search would raise; loads nothing (the CLI checks
        before opening the index, so a mistake costs no model load)."""
        return check_query(query, 1, (settings or Settings.load()).max_query_chars)

    def handout(self, question: str, lang: str, *, k: int | None = None) -> str:
        """A one-page printable HTML handout for the resident: the answer's sections in ``lang``'s
        edition beside the Japanese, with citations, the official page (QR code), the date and the
        sample notice (``answer.handout`` pairs the editions, ``answer.render.handout`` prints)."""
        return to_html(build_handout(self, question, lang, k=k))

    def in_edition(self, hit: Hit, language: str) -> list[Chunk]:
        """``hit``'s section in another edition, its translation first; [] if that edition lacks it.
        ``kb.in_edition(hit, "vi")`` gives the resident the official translation to read."""
        return asking.in_edition(self._retriever, hit.chunk, language)

    def _own(self, result: R) -> R:
        """Hits that answer the deprecated ``hit.in_edition`` through this object."""
        field = "hits" if isinstance(result, SearchResult) else "sources"
        return replace(result, **{field: tuple(replace(h, origin=self) for h in getattr(result, field))})

    def section(self, section_id: str, language: str = "ja") -> list[Chunk]:
        """A section (with its subsections) of one edition, in reading order, chunk overlaps cut."""
        return stitch(list(self._retriever.version.store.section(language, section_id).values()))

    def editions(self) -> dict[str, Any]:
        """Edition languages with their chunk counts, and per edition the sections it lacks or adds
        compared with Japanese."""
        version = self._retriever.version
        return {"languages": {k: v[1] - v[0] for k, v in version.manifest.languages.items()},
                "alignment": coverage_report(version)}

    def status(self) -> Status:
        """Index location, model, counts per source and language (``kb status --json``)."""
        version = self._retriever.version
        m, sources = version.manifest, tuple(version.store.sources())
        languages: dict[str, int] = {}
        for s in sources:
            languages[s.language] = languages.get(s.language, 0) + s.chunks
        return Status(str(self.settings.index), version.path.name, m.model_id, m.dim, m.analyzer, m.chunks,
                      m.sentences, m.chunk_size, m.chunk_overlap, m.created, self.settings.fusion,
                      self.settings.rerank_depth, languages, sources, disk_usage(self.settings.index, version.path),
                      len(version.examples))

    def evaluate(self, questions: str | Path, modes: Sequence[str] = ("dense", "keyword", "hybrid"), *,
                 abstention: bool = False, split: str | None = None, sources: Sequence[str] | None = None,
                 misses: bool = False, progress: Progress | None = None) -> EvalReport:
        """Retrieval (and abstention) quality on a labelled question file (``answer.evaluate``);
        ``misses`` also lists the questions it got wrong."""
        return evaluate(self, load_questions(Path(questions), split), modes, abstention=abstention,
                        sources=sources, misses=misses, progress=progress)

    def live_version(self) -> str | None:
        """The version published on disk now (the one served may lag by up to ``reload_every``)."""
        live = IndexLayout(self.settings.index).current()
        return live.name if live else None

    def close(self) -> None:
        self._retriever.version.close()

    def __enter__(self) -> "KnowledgeBase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
