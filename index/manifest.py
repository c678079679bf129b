"""manifest.json: what an index version was built with. Checked on every open."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from kb.errors import IndexMismatchError, IndexNotFoundError
from kb.files import write_json

FORMAT = 5  # 2: chunks sorted by language, with row ranges; 3: sentence vectors; 4: "release" column;
# 5: lexicon.json
MANIFEST = "manifest.json"


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

    def write(self, folder: Path) -> None:
        write_json(folder / MANIFEST, asdict(self), atomic=False)  # into staging, published whole

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
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexMismatchError(f"{path}: unreadable ({exc}); rebuild with `kb sync`") from None
        if data.get("format") != FORMAT:
            raise IndexMismatchError(
                f"{folder}: index format {data.get('format')} but this version reads format {FORMAT}; "
                "rebuild with `kb sync`")
        try:
            return cls(**data)
        except TypeError as exc:
            raise IndexMismatchError(f"{path}: unexpected fields ({exc}); rebuild with `kb sync`") from None
