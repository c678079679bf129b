"""The bot core shared by Slack, the Teams agent and MCP: who may ask, follow-up context per
conversation, the call into the knowledge base, and the audit record of every answer.

Follow-ups: a question in a conversation the bot already answered (a Slack thread, a Teams chat)
is asked together with the conversation's earlier question(s), plainly concatenated
("<previous>\\n<new>"), not labelled ("前の質問: …"): both retrieval legs score content words, and
labels would add the same noise words to every query and skew the query-language guess. The
context is clipped from the front, so a long conversation keeps only its most recent part
(``CONTEXT_CHARS``). Context lives in memory only: a restart forgets open conversations.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Hashable, Optional

from answer.render.text import LANGUAGE_NAMES
from kb.model import Answer, Chunk
from serve.access import AccessPolicy, Asker, RateLimiter
from serve.audit import EventLog, answered_event
from serve.config import ServiceConfig
from serve.runner import KBRunner

CONTEXT_CHARS = 400  # earlier question text kept in front of a follow-up


class ConversationMemory:
    """The last question per conversation key, least recently used dropped first."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, max_age: Optional[float] = None) -> Optional[str]:
        """The remembered question, or None (also when it is older than ``max_age`` seconds)."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if max_age is not None and time.monotonic() - item[1] > max_age:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: Hashable, question: str) -> None:
        with self._lock:
            self._items[key] = (question, time.monotonic())
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)


def with_context(previous: Optional[str], question: str, limit: int) -> str:
    """The query for a follow-up: the earlier question(s), clipped from the front, then the new one."""
    if not previous:
        return question
    room = min(CONTEXT_CHARS, limit - len(question) - 1)
    return f"{previous[-room:]}\n{question}" if room > 0 else question


def _log_path(setting: Path | None | bool, default: Path) -> Path | None:
    return None if setting is False else (setting if isinstance(setting, Path) else default)


class BotCore:
    """Answers for every chat front end, with the same access rules, limits, context and audit."""

    def __init__(self, runner: KBRunner, config: ServiceConfig) -> None:
        chat = config.chat
        self.runner = runner
        self.kb = runner.kb
        self.memory = ConversationMemory()
        self.access = AccessPolicy({"slack": chat.slack_teams, "teams": chat.teams_tenants})
        self.limiter = RateLimiter(chat.rate_per_minute)
        home = self.kb.settings.home
        self.audit = EventLog(_log_path(chat.audit_log, home / "audit.jsonl"))
        self.feedback = EventLog(_log_path(chat.feedback_log, home / "feedback.jsonl"))
        self.log_queries = config.log_queries
        self.follow_up_seconds = chat.follow_up_seconds
        self._editions: tuple[str, list[str]] = ("", [])

    def _admit(self, who: Asker, question: str, max_age: Optional[float]) -> str:
        """Check access and the rate limit (``Refused``), then add the conversation's context."""
        self.access.check(who)
        self.limiter.take(who)
        previous = self.memory.get(who.key, max_age) if who.conversation else None
        return with_context(previous, question, self.kb.settings.max_query_chars)

    def _record(self, who: Asker, answer: Answer, started: float) -> Answer:
        if who.conversation:  # remembered before it is posted: a quick reply finds its context
            self.memory.put(who.key, answer.query)
        self.audit.write(answered_event(who, answer, (time.perf_counter() - started) * 1e3,
                                        log_queries=self.log_queries))
        return answer

    def ask(self, who: Asker, question: str, *, lang: Optional[str] = None,
            max_age: Optional[float] = None) -> Answer:
        """For listeners on worker threads (Slack): the answer to ``question`` in ``who``'s conversation."""
        query = self._admit(who, question, max_age)
        started = time.perf_counter()
        return self._record(who, self.runner.call_sync(self.kb.ask, query, lang=lang), started)

    async def ask_async(self, who: Asker, question: str, *, lang: Optional[str] = None,
                        max_age: Optional[float] = None) -> Answer:
        """``ask`` for handlers on the event loop (Teams agent, MCP)."""
        query = self._admit(who, question, max_age)
        started = time.perf_counter()
        return self._record(who, await self.runner.call(self.kb.ask, query, lang=lang), started)

    async def section(self, section_id: str, language: str) -> list[Chunk]:
        return await self.runner.call(self.kb.section, section_id, language)

    def editions(self) -> list[str]:
        """Edition languages in the live index, in the order buttons show them (cached per version)."""
        if self._editions[0] != self.kb.version:
            order = {code: i for i, code in enumerate(LANGUAGE_NAMES)}
            langs = sorted(self.kb.status().languages, key=lambda lang: (order.get(lang, len(order)), lang))
            self._editions = (self.kb.version, langs)
        return self._editions[1]

    def languages_for(self, answer: Answer) -> list[str]:
        """Editions that have the answer's top section, besides the one it is quoted from."""
        block = next((b for b in answer.blocks if b.section_id), None)
        if answer.abstained or block is None:
            return []
        shown = answer.sources[block.source - 1].chunk.language if 0 < block.source <= len(answer.sources) else ""
        have = set(block.also_in)
        return [lang for lang in self.editions() if lang in have and lang != shown]

    def record_feedback(self, who: Asker, data: dict, question: Optional[str] = None) -> None:
        """Helpful / not helpful, with the cited sections from the card's action data."""
        event = {"event": "feedback", "platform": who.platform, "tenant": who.tenant, "user": who.user,
                 "helpful": bool(data.get("helpful")), "verdict": str(data.get("verdict", "")),
                 "edition": str(data.get("edition", "")),
                 "sections": [str(s) for s in data.get("sections", [])][:20]}
        if self.log_queries and question:
            event["question"] = question
        self.feedback.write(event)
