"""Find source files under the paths a user gives, load each with the loader for its suffix, chunk.

Loaders (``LOADERS``, by file suffix): ``.pdf`` (pypdf), ``.md``/``.markdown``, ``.txt``, and e-Gov
law HTML (``.html``/``.htm``). A loader is ``load(source) -> Document`` raising IngestError when
the file cannot be read at all. Source ids are paths from the folder given, starting with its name
(``ja/01_nyukoku_zairyu.md`` for the folder ``data/guidebook/ja``), or the file name for a file
given directly, so the same tree ingested from another machine gets the same ids. Two files that
would share an id are an error. A name that is not UTF-8 (a zip made on Windows) is read as cp932.

Each file is read under the limits of ``kb.config.IngestLimits`` (``ingest.limits``): a file over a
limit is reported and the sync goes on with the next one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ingest.chunker import chunk_document
from ingest.limits import default_limits, reading
from ingest.questions import is_questions_file
from kb.config import ChunkSettings, IngestLimits
from kb.errors import IngestError
from kb.files import clean_text, path_text
from kb.model import Chunk, Document, PageIssue, Progress
from kb.reports import SourceReport

log = logging.getLogger("madoguchi.ingest")


@dataclass(frozen=True)
class SourceFile:
    path: Path
    source_id: str


Loader = Callable[[SourceFile], Document]

# Edition codes a file or folder name can carry (``vi.pdf``, ``guidebook_ne.pdf``, ``zh-Hans/``).
EDITION_CODES = ("ja-easy", "ja", "en", "zh-Hans", "zh-Hant", "ko", "es", "pt", "vi", "ne", "th", "id", "my",
                 "km", "tl", "mn", "tr", "uk")


def edition_from_name(path: Path) -> str | None:
    """The edition a file's name or folder names, e.g. ``kb fetch``'s ``<language>.pdf``; None if none."""
    stem = path.stem
    for code in EDITION_CODES:
        if stem == code or stem.endswith(("_" + code, "-" + code)) or path.parent.name == code:
            return code
    return None


def _fetch_record(path: Path, language: str | None) -> dict:
    """What ``kb fetch`` recorded for this file (title, release, URL), if it was fetched."""
    from ingest.fetch import read_records

    return read_records(path.parent).get(language or "", {}) if path.stem == language else {}


def _pdf(source: SourceFile) -> Document:
    """A PDF's language comes from its name or folder when it carries an edition code (the text's
    script cannot tell ja from ja-easy); a PDF downloaded by ``kb fetch`` also gets the title,
    release and URL recorded in ``fetched.json``."""
    from ingest.pdf import load_pdf

    language = edition_from_name(source.path)
    record = _fetch_record(source.path, language) if language else {}
    return load_pdf(source.path, source_id=source.source_id, language=language,
                    title=record.get("title") or None,
                    release=record.get("release") or record.get("edition") or "",
                    url=record.get("url") or None)


def _markdown(source: SourceFile) -> Document:
    from ingest.markdown import load_markdown

    return load_markdown(source.path, source_id=source.source_id)


def _text(source: SourceFile) -> Document:
    from ingest.markdown import load_text

    return load_text(source.path, source_id=source.source_id)


def _law_html(source: SourceFile) -> Document:
    from ingest.lawhtml import is_law_html, load_law_html

    if not is_law_html(source.path):
        raise IngestError(f"{source.path}: HTML that is not an e-Gov law page is not supported")
    return load_law_html(source.path, source_id=source.source_id)


LOADERS: dict[str, Loader] = {".pdf": _pdf, ".md": _markdown, ".markdown": _markdown, ".txt": _text,
                              ".html": _law_html, ".htm": _law_html}


def collect(paths: Sequence[Path]) -> list[SourceFile]:
    """Every supported file under ``paths`` (sorted, deduplicated); a missing path is an error."""
    found: dict[str, SourceFile] = {}
    ids: dict[str, Path] = {}
    for given in map(Path, paths):
        if not given.exists():
            raise IngestError(f"{given}: no such file or folder")
        for f in _walk(given):
            key = str(f.path.resolve())
            if key in found:
                continue
            if f.source_id in ids:
                raise IngestError(f"{ids[f.source_id]} and {f.path} would both get the source id "
                                  f"{f.source_id!r}; ingest their common parent folder instead")
            found[key], ids[f.source_id] = f, f.path
    return sorted(found.values(), key=lambda f: f.source_id)


def _walk(given: Path) -> Iterator[SourceFile]:
    if given.is_file():
        if not is_questions_file(given):  # example questions are read by ingest.questions
            yield SourceFile(given, path_text(given.name))
        return
    for path in sorted(given.rglob("*")):
        if path.is_file() and path.suffix.lower() in LOADERS and not path.name.startswith("."):
            yield SourceFile(path, path_text((Path(given.resolve().name) / path.relative_to(given)).as_posix()))


def load(source: SourceFile) -> Document:
    """Load one file; raises IngestError (naming the file) if it cannot be read at all."""
    suffix = source.path.suffix.lower()
    loader = LOADERS.get(suffix)
    if loader is None:
        raise IngestError(f"{source.path}: unsupported file type {suffix or '(none)'}; "
                          f"supported: {', '.join(sorted(LOADERS))}")
    return loader(source)


@dataclass(frozen=True)
class Loaded:
    documents: list[Document]
    chunks: list[Chunk]
    reports: list[SourceReport]


def load_all(files: Sequence[SourceFile], chunking: ChunkSettings, progress: Progress | None = None,
             limits: IngestLimits | None = None) -> Loaded:
    """Load and chunk every file; unreadable files and files over a limit become reports, not
    errors. Raises IngestError when nothing at all is indexable."""
    limits = limits or default_limits()
    documents, chunks, reports = [], [], []
    for n, source in enumerate(files):
        shown = path_text(source.path)
        try:
            if n >= limits.max_files:
                raise IngestError(f"{shown}: not read; one sync reads at most max_files = {limits.max_files} "
                                  "files (KB_MAX_FILES)")
            doc = _load_limited(source, shown, limits)
        except IngestError as exc:
            reports.append(SourceReport(source.source_id, shown, error=clean_text(str(exc))))
        except Exception as exc:  # a loader bug on a hostile file must not stop the other files
            log.debug("loading %s failed", shown, exc_info=True)
            reports.append(SourceReport(source.source_id, shown, error=clean_text(
                f"{shown}: cannot be read ({type(exc).__name__}: {str(exc)[:200]})")))
        else:
            doc_chunks = chunk_document(doc, chunking.size, chunking.overlap)
            documents.append(doc)
            chunks.extend(doc_chunks)
            reports.append(SourceReport(doc.source_id, doc.path, len(doc_chunks), doc.language, doc.issues))
        if progress:
            progress("load", 1, len(files))
    if not chunks:
        reasons = "; ".join(r.error or f"{r.source_id}: no indexable text" for r in reports)
        raise IngestError(f"nothing to index: {reasons}")
    return Loaded(documents, chunks, reports)


def _load_limited(source: SourceFile, shown: str, limits: IngestLimits) -> Document:
    """``load(source)`` within the file limits; what they cut is added to the document's issues."""
    try:
        size = source.path.stat().st_size
    except OSError as exc:
        raise IngestError(f"{shown}: cannot read ({exc.strerror or exc})") from None
    if size > limits.max_file_mb * 2**20:
        raise IngestError(f"{shown}: {size / 2**20:.1f} MB, over max_file_mb = {limits.max_file_mb:g} "
                          "(KB_MAX_FILE_MB); not indexed")
    with reading(limits, shown) as guard:
        doc = load(source)
    return _printable(replace(doc, issues=(*doc.issues, *guard.all_issues())), shown)


def _printable(doc: Document, shown: str) -> Document:
    """``doc`` with every string storable as UTF-8: lone surrogates (from a broken PDF text layer
    or a file name that is not UTF-8) become U+FFFD, so SQLite, hashing and terminals accept them."""
    strings = [doc.source_id, doc.path, doc.title, doc.language, doc.release, doc.url or "",
               *(b.text for b in doc.blocks), *(h for b in doc.blocks for h in b.section_path),
               *(str(v) for v in doc.meta.values()), *(i.detail for i in doc.issues)]
    try:
        "".join(strings).encode("utf-8")
        return doc if doc.path == shown else replace(doc, path=shown)
    except UnicodeEncodeError:
        pass
    blocks = tuple(replace(b, text=clean_text(b.text), section_path=tuple(map(clean_text, b.section_path)),
                           section_id=clean_text(b.section_id) if b.section_id else b.section_id)
                   for b in doc.blocks)
    issues = tuple(PageIssue(clean_text(i.source), i.reason, clean_text(i.detail), i.page_index,
                             clean_text(i.page_label) if i.page_label else i.page_label) for i in doc.issues)
    return replace(doc, source_id=clean_text(doc.source_id), path=shown, title=clean_text(doc.title),
                   release=clean_text(doc.release), blocks=blocks, issues=issues,
                   meta={k: clean_text(str(v)) for k, v in doc.meta.items()})
