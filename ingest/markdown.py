"""Markdown and plain-text sources: headings become the section path.

Markdown may start with TOML front matter between ``+++`` lines (title, language, release (or its former name edition), url,
sample, notice); without a title, the first heading is the document's title. ``<!-- page: N -->`` comments set the printed page label of what follows, so a
sample shaped like the printed guidebook cites pages like the real one. A blockquote before the
first heading is the document's notice: kept in ``meta``, not indexed.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from ingest.headings import NUMERAL, section_id
from ingest.limits import check_time, guard
from kb.errors import IngestError
from kb.model import Block, Document

_PAGE = re.compile(r"^<!--\s*page:\s*([^\s>]+)\s*-->\s*$")
_TEXT_HEADING = re.compile(rf"^第\s*{NUMERAL}\s*[章節]\s*\S")


def heading_of(line: str) -> tuple[int, str] | None:
    """(level, text) of an ATX heading line (``## 1 在留カード ##``), else None. Parsed by hand:
    the regex this replaces backtracked for minutes on ``# a`` + 10,000 spaces + ``b``."""
    level = len(line) - len(line.lstrip("#"))
    if not 1 <= level <= 6 or len(line) == level or not line[level].isspace():
        return None
    text = line[level:].strip()
    closed = text.rstrip("#").rstrip()  # an optional closing run of #
    text = re.sub(r"[ \t]{2,}", " ", closed or text)
    return (level, text) if text else None


def read_text_file(path: Path) -> str:
    """Read a UTF-8 text file, turning every failure into an IngestError that names the file."""
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise IngestError(f"{path}: not UTF-8 text; convert it to UTF-8 first") from None
    if not text.strip():
        raise IngestError(f"{path}: the file is empty")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_front_matter(text: str, path: Path) -> tuple[dict, str]:
    if not text.startswith("+++\n"):
        return {}, text
    end = text.find("\n+++", 4)
    if end < 0:
        raise IngestError(f"{path}: front matter opened with +++ but never closed")
    try:
        meta = tomllib.loads(text[4:end])
    except tomllib.TOMLDecodeError as exc:
        raise IngestError(f"{path}: front matter is not valid TOML ({exc})") from None
    return meta, text[end + 4:].lstrip("\n")


def load_markdown(path: Path, *, source_id: str | None = None, title: str | None = None,
                  language: str | None = None, release: str | None = None,
                  url: str | None = None) -> Document:
    """Load a ``.md`` file; arguments override front matter, which overrides defaults."""
    meta, body = split_front_matter(read_text_file(path), path)
    blocks, notice = _markdown_blocks(body)
    return _document(path, blocks, meta, notice, source_id, title, language, release, url)


def load_text(path: Path, *, source_id: str | None = None, title: str | None = None,
              language: str | None = None, release: str | None = None,
              url: str | None = None) -> Document:
    """Load a ``.txt`` file: paragraphs split at blank lines; ``第N章/節`` lines are headings."""
    text = read_text_file(path)
    path_stack: list[str] = []
    blocks: list[Block] = []
    limits = guard()
    for para in re.split(r"\n\s*\n", text):
        check_time()
        lines = [limits.line(ln.strip()) for ln in para.strip().split("\n") if ln.strip()]
        while lines and _TEXT_HEADING.match(lines[0]) and len(lines[0]) <= 60:
            heading = lines.pop(0)
            level = 0 if "章" in heading[:6] else 1
            path_stack = path_stack[:level] + [heading]
        if lines:
            section = tuple(path_stack)
            blocks.append(Block("\n".join(lines), section, section_id(section)))
    return _document(path, blocks, {}, "", source_id, title, language, release, url)


def _markdown_blocks(body: str) -> tuple[list[Block], str]:
    headings: list[tuple[int, str]] = []  # (level, text) stack
    page: str | None = None
    blocks: list[Block] = []
    notice: list[str] = []
    para: list[str] = []
    para_kind = "text"

    def flush() -> None:
        nonlocal para, para_kind
        text = "\n".join(para).strip()
        if text:
            section = tuple(h for _, h in headings)
            blocks.append(Block(text, section, section_id(section), None, page, para_kind))
        para, para_kind = [], "text"

    limits = guard()
    for line in body.split("\n"):
        check_time()
        stripped = limits.line(line.strip())
        if m := _PAGE.match(stripped):
            flush()
            page = m.group(1)
        elif heading := heading_of(stripped):
            flush()
            level, text = heading
            headings = [(lv, h) for lv, h in headings if lv < level] + [(level, limits.heading(text))]
        elif not stripped:
            flush()
        elif stripped.startswith(">") and not headings and not blocks:
            notice.append(stripped.lstrip("> ").strip())
        else:
            kind = "table" if stripped.startswith("|") else "text"
            if para and kind != para_kind:
                flush()
            para_kind = kind
            if kind == "table" and re.fullmatch(r"\|?[\s:|-]+\|?", stripped):
                continue  # the |---|---| separator row carries no text
            para.append(stripped)
    flush()
    return blocks, " ".join(notice)


def _document(path: Path, blocks: list[Block], meta: dict, notice: str, source_id: str | None,
              title: str | None, language: str | None, release: str | None,
              url: str | None) -> Document:
    extra = {k: str(v) for k, v in meta.items()
             if k not in {"title", "language", "release", "edition", "url"}}
    if notice and "notice" not in extra:
        extra["notice"] = notice
    return Document(
        source_id=source_id or path.name,
        path=str(path),
        title=title or str(meta.get("title") or _first_heading(blocks) or path.stem),
        language=language or str(meta.get("language") or "") or _guess(blocks),
        release=release or str(meta.get("release") or meta.get("edition") or ""),
        blocks=tuple(blocks),
        url=url or meta.get("url"),
        meta=extra,
    )


def _first_heading(blocks: list[Block]) -> str | None:
    """The outermost heading above the first text: a document's title when its front matter has none."""
    return next((b.section_path[0] for b in blocks if b.section_path), None)


def _guess(blocks: list[Block]) -> str:
    from ingest.language import guess_language

    return guess_language(" ".join(b.text for b in blocks[:20]))
