"""Find source files under the paths a user gives, load each with the loader for its suffix, chunk.

Loaders (``LOADERS``, by file suffix): ``.pdf`` (pypdf), ``.md``/``.markdown``, ``.txt``, and e-Gov
law HTML (``.html``/``.htm``). A loader is ``load(source) -> Document`` raising IngestError when
the file cannot be read at all. Source ids are paths from the folder given, starting with its name
(``ja/01_nyukoku_zairyu.md`` for the folder ``data/guidebook/ja``), or the file name for a file
given directly, so the same tree ingested from another machine gets the same ids. Two files that
would share an id are an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ingest.chunker import chunk_document
from kb.config import ChunkSettings
from kb.errors import IngestError
from kb.model import Chunk, Document, Progress
from kb.reports import SourceReport


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
        yield SourceFile(given, given.name)
        return
    for path in sorted(given.rglob("*")):
        if path.is_file() and path.suffix.lower() in LOADERS and not path.name.startswith("."):
            yield SourceFile(path, (Path(given.resolve().name) / path.relative_to(given)).as_posix())


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


def load_all(files: Sequence[SourceFile], chunking: ChunkSettings, progress: Progress | None = None) -> Loaded:
    """Load and chunk every file; unreadable files become reports, not errors. Raises IngestError
    when nothing at all is indexable."""
    documents, chunks, reports = [], [], []
    for source in files:
        try:
            doc = load(source)
        except IngestError as exc:
            reports.append(SourceReport(source.source_id, str(source.path), error=str(exc)))
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
