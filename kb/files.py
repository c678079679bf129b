"""Small file helpers every stage shares: atomic replacement and JSON reads with one-line errors."""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from kb.errors import KBError


def path_text(path: str | Path) -> str:
    """A path as text that can be printed and stored: a name whose bytes are not UTF-8 (Shift_JIS
    names from zips made on Windows) is decoded as cp932, else with U+FFFD for the bad bytes."""
    text = str(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    parts = []
    for part in text.split("/"):
        raw = part.encode("utf-8", "surrogateescape") if _escaped_only(part) else None
        if raw is None:
            parts.append(clean_text(part))
            continue
        for encoding in ("utf-8", "cp932"):
            try:
                parts.append(raw.decode(encoding))
                break
            except UnicodeDecodeError:
                continue
        else:
            parts.append(raw.decode("utf-8", "replace"))
    return "/".join(parts)


def _escaped_only(text: str) -> bool:
    """Every surrogate in ``text`` stands for one undecodable byte (Python's surrogateescape)."""
    return all("\udc80" <= ch <= "\udcff" for ch in text if "\ud800" <= ch <= "\udfff")


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (which no file, database or terminal accepts) as U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: str | bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old file or the new one, never a
    part: written to a temp sibling, flushed, then renamed over it (``durable`` also fsyncs)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def read_json(path: Path, *, error: type[KBError] = KBError, missing: Any = None) -> Any:
    """The JSON in ``path``, ``missing`` if there is no such file, or ``error`` naming the file."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return missing
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise error(f"cannot read {path}: {exc}") from None


def write_json(path: Path, data: Any, *, atomic: bool = True) -> None:
    """``data`` as indented UTF-8 JSON; atomically unless the caller's folder is itself staged."""
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if atomic:
        write_atomic(path, text)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
