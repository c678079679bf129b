"""manifest.json: what an index version was built with. Checked on every open."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from kb.errors import IndexMismatchError, IndexNotFoundError

FORMAT = 3  # 2: chunks sorted by language, with per-language row ranges; 3: sentence vectors
NAME = "manifest.json"


@dataclass(frozen=True)
class Manifest:
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
        (folder / NAME).write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), encoding="utf-8")

    @staticmethod
    def model_of(folder: Path) -> str | None:
        """The model setting a version was built with, read from any format (a rebuild after a format
        change keeps the index's model); None when the manifest is missing or unreadable."""
        try:
            return json.loads((folder / NAME).read_text(encoding="utf-8")).get("model")
        except (OSError, ValueError, AttributeError):
            return None

    @classmethod
    def read(cls, folder: Path) -> "Manifest":
        path = folder / NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexNotFoundError(f"{folder}: no {NAME}; not an index version") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexMismatchError(f"{path}: unreadable ({exc}); rebuild with `kb ingest`") from None
        if data.get("format") != FORMAT:
            raise IndexMismatchError(
                f"{folder}: index format {data.get('format')} but this version reads format {FORMAT}; "
                "rebuild with `kb ingest`")
        try:
            return cls(**data)
        except TypeError as exc:
            raise IndexMismatchError(f"{path}: unexpected fields ({exc}); rebuild with `kb ingest`") from None
