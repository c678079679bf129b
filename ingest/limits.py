"""Limits while reading one source file (``kb.config.IngestLimits``): time, headings, lines, depth.

A loader keeps the ``SourceFile -> Document`` shape, so the limits of the file being read travel in a
context variable set by ``reading`` (``ingest.loader.load``): loaders call ``guard()`` and
``check_time()`` in their loops. A heading or line over its limit is cut and reported; a file that
reads for longer than ``parse_seconds`` stops with an IngestError, so one hostile file can neither
hang a sync (which holds the writer lock) nor stop the files after it.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import fields
from typing import Iterator

from kb.config import IngestLimits, Settings
from kb.errors import IngestError
from kb.model import PageIssue

LIMIT = "limit"  # PageIssue.reason for anything cut or left unread by a limit
MAX_REPORTS = 20  # per file; a file that breaks a limit on every line gets one summary line more


def default_limits() -> IngestLimits:
    defaults = {f.name: f.default for f in fields(Settings)}
    return IngestLimits(**{f.name: defaults[f.name] for f in fields(IngestLimits)})


class ParseTimeout(IngestError):
    """A file took longer than ``parse_seconds`` to read."""


class FileGuard:
    """The limits of the file being read, and what they cut from it (``issues``)."""

    def __init__(self, limits: IngestLimits, source: str) -> None:
        self.limits = limits
        self.source = source
        self.deadline = time.monotonic() + limits.parse_seconds
        self.issues: list[PageIssue] = []
        self._suppressed = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise ParseTimeout(f"{self.source}: reading it took longer than parse_seconds = "
                               f"{self.limits.parse_seconds:g} s; not indexed (raise KB_PARSE_SECONDS to allow it)")

    def report(self, detail: str, page_index: int | None = None, page_label: str | None = None) -> None:
        if len(self.issues) < MAX_REPORTS:
            self.issues.append(PageIssue(self.source, LIMIT, detail, page_index, page_label))
        else:
            self._suppressed += 1

    def heading(self, text: str, page_index: int | None = None) -> str:
        """``text`` cut to ``max_heading_chars`` (reported when cut)."""
        return self._clip(text, self.limits.max_heading_chars, "heading", "KB_MAX_HEADING_CHARS", page_index)

    def line(self, text: str, page_index: int | None = None) -> str:
        """``text`` cut to ``max_line_chars`` (reported when cut)."""
        return self._clip(text, self.limits.max_line_chars, "line", "KB_MAX_LINE_CHARS", page_index)

    def _clip(self, text: str, limit: int, what: str, env: str, page_index: int | None) -> str:
        if len(text) <= limit:
            return text
        self.report(f"a {len(text)}-character {what} was cut to {limit} characters ({env})", page_index)
        return text[:limit].rstrip()

    def all_issues(self) -> list[PageIssue]:
        if not self._suppressed:
            return list(self.issues)
        return [*self.issues, PageIssue(self.source, LIMIT, f"{self._suppressed} more limit reports not shown")]


_ACTIVE: ContextVar[FileGuard | None] = ContextVar("madoguchi_file_guard", default=None)


def guard() -> FileGuard:
    """The guard of the file being read; outside ``reading`` (a loader called directly), a fresh one
    with the default limits whose reports nobody reads."""
    active = _ACTIVE.get()
    return active if active is not None else FileGuard(default_limits(), "")


def check_time() -> None:
    """Raise ParseTimeout when the file being read is over its time (cheap: call it in loops)."""
    active = _ACTIVE.get()
    if active is not None:
        active.check_time()


@contextmanager
def reading(limits: IngestLimits, source: str) -> Iterator[FileGuard]:
    """Read one file under ``limits``: its loader's ``guard()`` is the guard yielded here."""
    current = FileGuard(limits, source)
    token = _ACTIVE.set(current)
    try:
        yield current
    finally:
        _ACTIVE.reset(token)
