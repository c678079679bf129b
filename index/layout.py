"""On-disk layout of an index and its atomic publication.

    ROOT/CURRENT                  name of the live version (replaced atomically with os.replace)
    ROOT/versions/v<seq>-<time>/  one version each (its files: ``index.version``)
    ROOT/staging/<name>/          versions being built; never read by readers
    ROOT/embeddings.sqlite        the embedding and token cache (``index.cache``)
    ROOT/.lock                    the writer lock (``index.lock``)

A version is built in ``staging``, fsynced, renamed into ``versions`` and only then named in
``CURRENT``. A reader resolves ``CURRENT`` once and keeps using that folder, so a build killed at
any point leaves the live index untouched, and a reader never sees a half-written version.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from kb.files import fsync_dir, write_atomic

POINTER = "CURRENT"


def fsync_tree(path: Path) -> None:
    for p in sorted(path.rglob("*")):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    for d in [path, *[p for p in path.rglob("*") if p.is_dir()]]:
        fsync_dir(d)


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
        """A fresh build folder named ``v<sequence>-<time>``: names sort in publication order
        (the writer lock makes the sequence number unique)."""
        seqs = [int(p.name[1:7]) for p in self.versions.glob("v*") if p.name[1:7].isdigit()] \
            if self.versions.is_dir() else []
        name = f"v{max(seqs, default=0) + 1:06d}-{time.strftime('%Y%m%dT%H%M%S')}"
        path = self.staging / name
        path.mkdir(parents=True)
        return path

    def publish(self, staged: Path) -> Path:
        """Make ``staged`` the live version; returns its final folder."""
        fsync_tree(staged)
        self.versions.mkdir(parents=True, exist_ok=True)
        final = self.versions / staged.name
        os.replace(staged, final)
        fsync_dir(self.versions)
        self.point_to(final)
        return final

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)

    def clean_staging(self) -> int:
        """Remove builds left by a killed writer (call only while holding the writer lock)."""
        stale = [p for p in self.staging.glob("*") if p.is_dir()] if self.staging.is_dir() else []
        for p in stale:
            shutil.rmtree(p, ignore_errors=True)
        return len(stale)

    def previous(self) -> Path | None:
        """The newest version older than the live one (what ``rollback`` returns to)."""
        live = self.current()
        older = sorted(p for p in self.versions.glob("*") if p.is_dir() and live and p.name < live.name)
        return older[-1] if older else None

    def point_to(self, version: Path) -> None:
        """Make an existing version live (rollback), atomically."""
        write_atomic(self.root / POINTER, version.name + "\n")

    def prune(self, keep: int = 2) -> list[Path]:
        """Remove all but the newest ``keep`` versions (never the live one) and stale staging dirs."""
        live = self.current()
        versions = sorted((p for p in self.versions.glob("*") if p.is_dir()), key=lambda p: p.name)
        removed = [p for p in versions[:-keep] if p != live] if keep > 0 else []
        for p in removed:
            shutil.rmtree(p, ignore_errors=True)
        return removed
