"""On-disk layout of an index and its atomic publication.

    ROOT/CURRENT            name of the live version (replaced atomically with os.replace)
    ROOT/versions/<name>/   manifest.json, chunks.sqlite, vectors.faiss, keyword/
    ROOT/staging/<name>/    versions being built; never read by readers

A version is built in ``staging``, fsynced, renamed into ``versions`` and only then named in
``CURRENT``. A reader resolves ``CURRENT`` once and keeps using that folder, so a build killed at
any point leaves the live index untouched, and a reader never sees a half-written version.
"""
from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

POINTER = "CURRENT"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    for p in sorted(path.rglob("*")):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    for d in [path, *[p for p in path.rglob("*") if p.is_dir()]]:
        _fsync_dir(d)


class IndexLayout:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.versions = self.root / "versions"
        self.staging = self.root / "staging"

    def current(self) -> Path | None:
        """The live version's folder, or None when nothing was published yet."""
        try:
            name = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        path = self.versions / name
        return path if name and path.is_dir() else None

    def new_staging(self) -> Path:
        name = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        path = self.staging / name
        path.mkdir(parents=True)
        return path

    def publish(self, staged: Path) -> Path:
        """Make ``staged`` the live version; returns its final folder."""
        fsync_tree(staged)
        self.versions.mkdir(parents=True, exist_ok=True)
        final = self.versions / staged.name
        os.replace(staged, final)
        _fsync_dir(self.versions)
        tmp = self.root / f".{POINTER}.{uuid.uuid4().hex[:8]}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(final.name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / POINTER)
        _fsync_dir(self.root)
        return final

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)

    def prune(self, keep: int = 2) -> list[Path]:
        """Remove all but the newest ``keep`` versions (never the live one) and stale staging dirs."""
        live = self.current()
        versions = sorted((p for p in self.versions.glob("*") if p.is_dir()), key=lambda p: p.name)
        removed = [p for p in versions[:-keep] if p != live] if keep > 0 else []
        for p in removed:
            shutil.rmtree(p, ignore_errors=True)
        return removed
