"""Records kept on the server as JSON Lines: the audit log (who asked when, through what, which
sections were cited) and the feedback log (helpful / not helpful per cited section).

Neither holds the question text unless KB_SERVE_LOG_QUERIES=1: consultations name people, visas
and illnesses. Each line is written whole under a lock, so concurrent requests never interleave.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from kb.model import Answer

log = logging.getLogger("madoguchi.audit")


class EventLog:
    """Appends one JSON object per line to ``path`` (None: nothing is written)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: dict[str, Any]) -> None:
        if self.path is None:
            return
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **event}, ensure_ascii=False)
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as exc:  # a full disk must not stop the desk from getting answers
            log.error("cannot write %s: %s", self.path, exc)


def cited_sections(answer: Answer) -> list[str]:
    """``["ja:1.1.3", "vi:1.1.3"]``: edition and section of every source, in source order."""
    return [f"{h.chunk.language}:{h.chunk.section_id or h.chunk.source_id}" for h in answer.sources]


def answered_event(who: Any, answer: Answer, ms: float, *, log_queries: bool) -> dict[str, Any]:
    event = {"event": "ask", "platform": who.platform, "tenant": who.tenant, "user": who.user,
             "verdict": answer.verdict, "edition": answer.edition, "sections": cited_sections(answer),
             "ms": round(ms, 1)}
    if log_queries:
        event["question"] = answer.query
    return event
