"""Language editions: which editions a query searches, and the same section in another edition.

The embedding model finds cross-lingual matches but favours text in the query's own language, so
each edition is searched on its own, the question's first (``editions_for``), and the section model
(``answer.sections``) weighs their evidence on one scale. Editions are aligned by section number: the
guidebook numbers chapters, sections and subsections identically in every language (``aligned``).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from index.version import IndexVersion
from ingest.language import guess_language
from kb.errors import QueryError
from kb.model import Chunk

BASE = "ja"  # the original; every translated edition is aligned to it


def editions_for(query: str, available: Mapping[str, Sequence[int]],
                 languages: Sequence[str] | None = None) -> list[str | None]:
    """The editions to search separately (each is evidence for the sections it has: every edition
    by default, the question's own first)."""
    if languages:
        chosen = [lang for lang in dict.fromkeys(languages) if lang in available]
        if not chosen:
            raise QueryError(f"No edition in {list(languages)} in this index; available: {sorted(available)}")
        return chosen
    lang = guess_language(query)
    return sorted(available, key=lambda e: (e != lang, e != BASE, e))


def aligned(version: IndexVersion, chunk: Chunk, language: str,
            vector: np.ndarray | None = None) -> list[Chunk]:
    """Chunks of ``chunk``'s section in ``language``'s edition, best match first (by cosine to
    ``vector`` when given: the question's, or the passage's own to find its translation; else in
    reading order); empty when that edition lacks the section."""
    if chunk.language == language:
        return [chunk]
    if not chunk.section_id:
        return []
    found = version.store.section(language, chunk.section_id, subsections=False)
    rows = list(found)
    if vector is not None and len(rows) > 1:
        order = np.argsort(-(version.vectors.vectors(rows) @ vector), kind="stable")
        rows = [rows[i] for i in order]
    return [found[r] for r in rows]


def coverage_report(version: IndexVersion) -> dict[str, dict[str, list[str]]]:
    """Per edition: sections missing compared with Japanese, and sections only that edition has."""
    ids = version.store.section_ids()
    base = ids.get(BASE, set())
    key = lambda s: [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in s.split(".")]  # noqa: E731
    # numbered sections in number order, law articles (第三条) after them
    return {lang: {"sections": sorted(secs, key=key), "missing": sorted(base - secs, key=key),
                   "only_here": sorted(secs - base, key=key)}
            for lang, secs in sorted(ids.items()) if lang != BASE}
