"""manifest.json: what an index version was built with, and the sha256 of each of its files.
Checked on every open: a version whose files do not match is never served."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kb.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from kb.files import write_json

FORMAT = 11  # 2: rows by language; 3: sentence vectors; 4: "release" column; 5: lexicon.json; 6: file checksums;
# 7: vectors in 8 bits (FAISS scalar quantiser for passages, int8 + scale for sentences);
# 8: the lexicon also translates pairs of adjacent words (index.lexicon.words_of); 9: readings.json (index.readings);
# 10: tones.json (index.tones); 11: questions.npz (index.questions)
MANIFEST = "manifest.json"
FIX = "run `kb rollback` to serve the previous version, or `kb sync` to rebuild"


def read_part(path: Path, what: str) -> dict:
    """A version's JSON object file (the lexicon, the readings, the tones), or IndexMismatchError saying to rebuild."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexMismatchError(f"{path.parent}: no {path.name}; rebuild the index with `kb sync`") from None
    except (OSError, ValueError) as exc:
        raise IndexMismatchError(f"{path}: unreadable ({exc}); rebuild the index with `kb sync`") from None
    if not isinstance(data, dict):
        raise IndexMismatchError(f"{path}: not {what}; rebuild the index with `kb sync`")
    return data


@dataclass(frozen=True)
class VersionManifest:
    model_id: str
    model: str  # the model setting that produced model_id (used when the user sets none)
    dim: int
    analyzer: str
    chunk_size: int
    chunk_overlap: int
    chunks: int
    sentences: int
    sources: int
    created: str
    build_seconds: float
    languages: dict[str, list[int]]  # edition language -> [first row, end row)
    format: int = FORMAT
    files: dict[str, str] = field(default_factory=dict)  # path in the version -> sha256, set by ``write``

    def write(self, folder: Path) -> None:
        """Write the manifest into the staged ``folder``, with the checksums of every file in it."""
        data = {**asdict(self), "files": checksums(folder)}
        write_json(folder / MANIFEST, data, atomic=False)  # into staging, published whole

    def verify(self, folder: Path) -> None:
        """Raise IndexCorruptError naming the first file of ``folder`` that is missing, extra or
        not what was published (truncated, tampered with, half-copied)."""
        found = checksums(folder)
        for name in sorted(set(self.files) | set(found)):
            if name not in found:
                problem = "is missing"
            elif name not in self.files:
                problem = "was not published with this version"
            elif found[name] != self.files[name]:
                problem = "has changed since it was published (damaged or tampered with)"
            else:
                continue
            raise IndexCorruptError(f"{folder / name} {problem}; {FIX}")

    @staticmethod
    def model_of(folder: Path) -> str | None:
        """The model setting a version was built with, read from any format (a rebuild after a format
        change keeps the index's model); None when the manifest is missing or unreadable."""
        try:
            return json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("model")
        except (OSError, ValueError, AttributeError):
            return None

    @classmethod
    def read(cls, folder: Path) -> "VersionManifest":
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexNotFoundError(f"{folder}: no {MANIFEST}; not an index version") from None
        except (OSError, ValueError) as exc:  # JSON and UTF-8 errors are ValueErrors
            raise IndexCorruptError(f"{path}: unreadable ({exc}); {FIX}") from None
        if not isinstance(data, dict):
            raise IndexCorruptError(f"{path}: not a manifest; {FIX}")
        if data.get("format") != FORMAT:
            raise IndexMismatchError(
                f"{folder}: index format {data.get('format')} but this version reads format {FORMAT}; "
                "rebuild with `kb sync`")
        try:
            manifest = cls(**data)
        except TypeError as exc:
            raise IndexMismatchError(f"{path}: unexpected fields ({exc}); rebuild with `kb sync`") from None
        if not isinstance(manifest.files, dict) or not manifest.files:
            raise IndexCorruptError(f"{path}: lists no file checksums; {FIX}")
        return manifest


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` but the manifest, by path relative to it."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        name = path.relative_to(folder).as_posix()
        if name == MANIFEST:
            continue
        try:
            with open(path, "rb") as f:
                out[name] = hashlib.file_digest(f, "sha256").hexdigest()
        except OSError as exc:
            raise IndexCorruptError(f"{path}: unreadable ({exc.strerror or exc}); {FIX}") from None
    return out
