"""Who may ask and how often: per-platform allow-lists of workspaces / tenants, and a per-person
rate limit (a sliding one-minute window), shared by Slack, the Teams agent and MCP."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable, Mapping

MAX_TRACKED = 10_000  # people remembered by the limiter; the least recently seen are forgotten first


@dataclass(frozen=True)
class Asker:
    """Who asks, from where: ``platform`` ("slack", "teams", "mcp"), ``tenant`` (Slack workspace id,
    Entra tenant id, MCP client name), ``user`` (that platform's user id) and ``conversation`` (the
    thread or chat whose earlier question a follow-up builds on; "" for none)."""

    platform: str
    tenant: str
    user: str
    conversation: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.platform, self.tenant, self.conversation)


class Refused(Exception):
    """A question that is not answered (tenant not allowed, too many questions); the message is
    shown to the person who asked."""


class AccessPolicy:
    """``allowed[platform]``: the tenants that may ask there; a platform without a list allows all."""

    def __init__(self, allowed: Mapping[str, frozenset[str]]) -> None:
        self.allowed = {platform: ids for platform, ids in allowed.items() if ids}

    def check(self, who: Asker) -> None:
        ids = self.allowed.get(who.platform)
        if ids is not None and who.tenant not in ids:
            raise Refused("This workspace is not allowed to use Madoguchi; ask your administrator.")


class RateLimiter:
    """At most ``per_minute`` questions per (platform, tenant, user) in any 60 seconds."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(1, int(per_minute))
        self.clock = clock
        self._seen: OrderedDict[tuple[str, str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, who: Asker) -> None:
        key = (who.platform, who.tenant, who.user)
        now = self.clock()
        with self._lock:
            times = self._seen.setdefault(key, deque())
            self._seen.move_to_end(key)
            while times and now - times[0] >= 60:
                times.popleft()
            if len(times) >= self.limit:
                wait = 60 - (now - times[0])
                raise Refused(f"Too many questions in a minute; please wait {wait:.0f} s.")
            times.append(now)
            while len(self._seen) > MAX_TRACKED:
                self._seen.popitem(last=False)
