"""Runs blocking knowledge-base calls off the event loop, bounded in concurrency and time."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from kb import KnowledgeBase

T = TypeVar("T")


class CallTimeout(Exception):
    """A knowledge-base call did not finish within the service timeout (-> 504)."""


class KBRunner:
    """The shared KnowledgeBase behind a fixed-size thread pool.

    A dedicated executor (not anyio's default limiter) because a timed-out call keeps running in
    its thread: the executor keeps counting it, so timeouts can't pile up more CPU work than
    ``workers``; calls still queued when their deadline passes are cancelled before they start.
    """

    def __init__(self, kb: KnowledgeBase, *, workers: int, timeout: float) -> None:
        self.kb = kb
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kb")

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in the pool; CallTimeout after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))
        try:
            return await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
            raise CallTimeout(f"the knowledge base did not answer within {self.timeout:g} s") from None

    def call_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """For callers already on a worker thread (Slack listeners): same pool, same timeout."""
        from concurrent.futures import TimeoutError as FutureTimeout

        future = self._pool.submit(fn, *args, **kwargs)
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            future.cancel()
            raise CallTimeout(f"the knowledge base did not answer within {self.timeout:g} s") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
