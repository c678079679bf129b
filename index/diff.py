"""What changed between two index versions, section by section (for desk staff reading a new edition)."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from index.store import ChunkStore
from index.version import open_store
from ingest.chunker import stitch


def _sections(store: ChunkStore) -> dict[tuple[str, str, str], str]:
    """(language, title, section) -> the section's text, chunk overlaps removed."""
    out: dict[tuple[str, str, str], list] = {}
    for chunk in store.all_chunks():
        key = (chunk.language, chunk.title, chunk.section_id or " > ".join(chunk.section_path) or "(no section)")
        out.setdefault(key, []).append(chunk)
    return {key: "".join(c.text for c in stitch(chunks)) for key, chunks in out.items()}


def diff_versions(old: Path, new: Path, *, context: int = 0, max_lines: int = 12) -> dict[str, Any]:
    """Sections added, removed and changed from version folder ``old`` to ``new``."""
    stores = [open_store(p) for p in (old, new)]
    try:
        a, b = (_sections(s) for s in stores)
    finally:
        for s in stores:
            s.close()
    label = lambda k: {"language": k[0], "title": k[1], "section": k[2]}  # noqa: E731
    changed = []
    for key in sorted(set(a) & set(b)):
        if a[key] != b[key]:
            lines = list(difflib.unified_diff(_lines(a[key]), _lines(b[key]), lineterm="", n=context))[2:]
            changed.append({**label(key), "diff": lines[:max_lines] + (["…"] if len(lines) > max_lines else [])})
    return {"old": old.name, "new": new.name,
            "added": [label(k) for k in sorted(set(b) - set(a))],
            "removed": [label(k) for k in sorted(set(a) - set(b))],
            "changed": changed, "unchanged": sum(1 for k in set(a) & set(b) if a[k] == b[k])}


def _lines(text: str) -> list[str]:
    # One sentence per line makes a readable diff of Japanese running text.
    return [s for s in text.replace("。", "。\n").splitlines() if s.strip()]
