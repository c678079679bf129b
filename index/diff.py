"""What changed between two index versions, section by section (for desk staff reading a new edition)."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from index.store import ChunkStore


def _sections(store: ChunkStore) -> dict[tuple[str, str, str], str]:
    """(language, title, section) -> the section's text, chunk overlaps removed."""
    out: dict[tuple[str, str, str], list] = {}
    for chunk in store.all_chunks():
        key = (chunk.language, chunk.title, chunk.section_id or " > ".join(chunk.section_path) or "(no section)")
        out.setdefault(key, []).append(chunk)
    texts = {}
    for key, chunks in out.items():
        parts, end = [], -1
        for c in sorted(chunks, key=lambda c: (c.source_id, c.char_start)):
            cut = max(0, end - c.char_start) if end > c.char_start else 0
            parts.append(c.text[cut:])
            end = max(end, c.char_end)
        texts[key] = "".join(parts)
    return texts


def diff_versions(old: Path, new: Path, *, context: int = 0, max_lines: int = 12) -> dict[str, Any]:
    """Sections added, removed and changed from version folder ``old`` to ``new``."""
    stores = [ChunkStore(p / "chunks.sqlite") for p in (old, new)]
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
