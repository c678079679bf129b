"""On-disk layout of an index and its atomic publication.

    ROOT/CURRENT                  name of the live version (replaced atomically with os.replace)
    ROOT/PREVIOUS                 name of the version live before it (what ``kb rollback`` returns to)
    ROOT/versions/v<seq>-<time>/  one version each (its files: ``index.version``)
    ROOT/staging/<name>/          versions being built; never read by readers
    ROOT/embeddings.sqlite        the embedding and token cache (``index.cache``)
    ROOT/.lock                    the writer lock (``index.lock``)

A version is built in ``staging``, fsynced, renamed into ``versions`` and only then named in
``CURRENT``. A reader resolves ``CURRENT`` once and keeps using that folder, so a build killed at
any point leaves the live index untouched, and a reader never sees a half-written version.
``CURRENT`` and ``PREVIOUS`` may only name a folder directly inside ``versions``.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from kb.errors import IndexCorruptError
from kb.files import fsync_dir, write_atomic

POINTER = "CURRENT"
PREVIOUS = "PREVIOUS"


def sequence(version: Path) -> int:
    """The publication number in a version folder's name (``v000012-...`` -> 12); 0 for other names."""
    digits = version.name[1:7]
    return int(digits) if version.name.startswith("v") and digits.isdigit() else 0


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
        """The live version's folder, or None when nothing was published yet. Raises
        IndexCorruptError when ``CURRENT`` names anything but a version folder of this index."""
        name = self._read(POINTER)
        if not name:
            return None
        path = self.version_named(name)
        if path is None:
            raise IndexCorruptError(f"{self.root / POINTER} names {name[:80]!r}, which is not a version in "
                                    f"{self.versions}; run `kb rollback` or `kb sync` to point it at one")
        return path if path.is_dir() else None

    def live(self) -> Path | None:
        """``current()``, or None when ``CURRENT`` is damaged (a writer replaces it anyway)."""
        try:
            return self.current()
        except IndexCorruptError:
            return None

    def _read(self, pointer: str) -> str:
        try:
            return (self.root / pointer).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return ""
        except (OSError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"{self.root / pointer}: unreadable ({exc}); run `kb sync` to rebuild") from None

    def version_named(self, name: str) -> Path | None:
        """``versions/name`` if that is a folder directly inside ``versions`` (no ``..``, no link out)."""
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            return None
        path = self.versions / name
        try:
            inside = path.resolve().parent == self.versions.resolve()
        except (OSError, RuntimeError):
            return None
        return path if inside else None

    def new_staging(self) -> Path:
        """A fresh build folder named ``v<sequence>-<time>``: names sort in publication order
        (the writer lock makes the sequence number unique)."""
        seqs = [sequence(p) for p in self.versions.glob("v*")] if self.versions.is_dir() else []
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
        """Remove builds and pointer temp files left by a killed writer (call only while holding the
        writer lock)."""
        stale = [p for p in self.staging.glob("*") if p.is_dir()] if self.staging.is_dir() else []
        for p in stale:
            shutil.rmtree(p, ignore_errors=True)
        for tmp in [*self.root.glob(f".{POINTER}.*.tmp"), *self.root.glob(f".{PREVIOUS}.*.tmp")]:
            tmp.unlink(missing_ok=True)
        return len(stale)

    def previous(self) -> Path | None:
        """The version that was live before the live one (what ``rollback`` returns to): the one
        ``PREVIOUS`` names, else the newest version older than the live one."""
        live = self.live()
        try:
            recorded = self.version_named(self._read(PREVIOUS))
        except IndexCorruptError:
            recorded = None
        if recorded is not None and recorded.is_dir() and recorded != live:
            return recorded
        older = sorted(p for p in self.versions.glob("*") if p.is_dir() and (live is None or p.name < live.name)) \
            if self.versions.is_dir() else []
        return older[-1] if older else None

    def point_to(self, version: Path) -> None:
        """Make an existing version live, atomically (publish, rollback); the version live until now
        becomes ``PREVIOUS``, so a rollback always returns to what was served before."""
        live = self.live()
        if live is not None and live != version:
            write_atomic(self.root / PREVIOUS, live.name + "\n")
        write_atomic(self.root / POINTER, version.name + "\n")

    def prune(self, keep: int = 2) -> list[Path]:
        """Remove versions but the live one, the previous one and the newest others up to ``keep``
        versions in all."""
        kept = {p for p in (self.live(), self.previous()) if p is not None}
        versions = sorted((p for p in self.versions.glob("*") if p.is_dir()), key=lambda p: p.name, reverse=True)
        for p in versions:
            if len(kept) >= keep:
                break
            kept.add(p)
        removed = [p for p in versions if p not in kept]
        for p in removed:
            shutil.rmtree(p, ignore_errors=True)
        return removed
