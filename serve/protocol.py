"""uvicorn's h11 protocol with a deadline for receiving each request.

uvicorn times out idle keep-alive connections but not a client that sends its request slowly: one
header byte every few seconds held a connection (and a file descriptor) open indefinitely. Here a
request's head and body must arrive within ``request_timeout`` seconds of its first byte (or of
the connection opening); otherwise the connection is closed.
"""
from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class DeadlineH11Protocol(H11Protocol):
    request_timeout = 10.0  # set per service by ``protocol_class``

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self._arm()  # a request (head or body) is still on its way
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._request_deadline is None:
            self._request_deadline = self.loop.call_later(self.request_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._request_deadline is not None:
            self._request_deadline.cancel()
            self._request_deadline = None

    def _too_slow(self) -> None:
        self._request_deadline = None
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.logger.warning("closed a connection from %s: request not received within %g s",
                                self.client[0] if self.client else "?", self.request_timeout)
            self.transport.close()


def protocol_class(request_timeout: float) -> type[DeadlineH11Protocol]:
    """The protocol for ``uvicorn.run(http=...)`` with this service's deadline."""
    return type("ServiceH11Protocol", (DeadlineH11Protocol,), {"request_timeout": request_timeout})
