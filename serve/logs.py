"""The outermost layer, as one pure ASGI middleware: request id, body limit, last-resort 500, access log.

One JSON line per request on ``madoguchi.access``: method, path, status, ms, client, request id.
The question text is personal data (consultations name people, visas, illnesses), so it is logged
only when the operator opts in (``KB_SERVE_LOG_QUERIES=1``); the path never carries it (POST bodies).
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any, Awaitable, Callable, MutableMapping

from starlette.requests import ClientDisconnect

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("madoguchi.access")
log = logging.getLogger("madoguchi.serve")
QUERY_KEY = "madoguchi.query"  # endpoints put the question here; only logged when opted in
REQUEST_ID_KEY = "madoguchi.request_id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # a client's X-Request-ID is echoed only if harmless


class BodyTooLarge(Exception):
    pass


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, *, log_queries: bool = False, max_body_bytes: int = 65536) -> None:
        self.app = app
        self.log_queries = log_queries
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope[REQUEST_ID_KEY] = request_id
        state = {"status": 500, "started": False, "too_large": False}

        async def send_wrapper(message: Message) -> None:
            if state["too_large"]:
                return  # the app's answer to a read it could not finish (FastAPI makes it a 400): 413 instead
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:  # a chunked body has no Content-Length to refuse up front
                state["too_large"] = True
                raise BodyTooLarge
            return message

        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = 0
        try:
            if length > self.max_body_bytes:
                raise BodyTooLarge
            await self.app(scope, receive_wrapper, send_wrapper)
            if state["too_large"]:
                raise BodyTooLarge
        except BodyTooLarge:
            if state["started"]:
                raise
            state["too_large"] = False
            await _send_json(send_wrapper, 413, {"error": f"request body over {self.max_body_bytes} bytes",
                                                 "request_id": request_id})
        except ClientDisconnect:
            state["status"] = 499  # the client went away (or was too slow) before its request arrived
        except Exception:
            # Handled here rather than by Starlette's ServerErrorMiddleware (which sits outside this
            # one) so the 500 carries the request id too. The traceback goes to the server log only.
            log.exception("unexpected error (request %s)", request_id)
            if state["started"]:
                raise
            await _send_json(send_wrapper, 500, {"error": "internal error", "request_id": request_id})
        finally:
            self._log(scope, state["status"], started, request_id)

    def _log(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        client = scope.get("client")
        record: dict[str, Any] = {
            "method": scope.get("method"), "path": scope.get("path"), "status": status,
            "ms": round((time.perf_counter() - started) * 1e3, 2),
            "client": client[0] if client else None, "request_id": request_id,
        }
        if self.log_queries and scope.get(QUERY_KEY) is not None:
            record["query"] = scope[QUERY_KEY]
        access_log.info(json.dumps(record, ensure_ascii=False))


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def configure_logging(level: int = logging.INFO) -> None:
    """Access lines as bare JSON on stdout; other service messages on stderr. Quiets slack_bolt's
    INFO logs, which print a rejected request's body (a question) on a bad signature."""
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.propagate = False
    access_log.setLevel(level)
    logging.getLogger("madoguchi").setLevel(level)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("slack_bolt").setLevel(logging.WARNING)
