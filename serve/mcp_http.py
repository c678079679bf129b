"""``/mcp`` in ``kb serve``: the MCP server over streamable HTTP, behind the service's bearer tokens.

Stateless with JSON responses: every POST carries a whole exchange, so any worker behind any proxy
can answer it and no SSE stream has to survive a proxy's buffering. A request without a valid
``Authorization: Bearer`` token gets the same 401 as /search and /ask. With no token configured the
service only listens on loopback, and the SDK's DNS-rebinding check then admits loopback hosts only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from serve.conversation import BotCore
from serve.errors import error_response
from serve.guards import bearer_client
from serve.mcp_server import CLIENT_KEY, build_server

LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


class BearerGuard:
    """ASGI wrapper: 401 unless the request carries one of ``tokens``; the token's name goes into the
    scope's state for the tools (audit, rate limit per client)."""

    def __init__(self, app: ASGIApp, tokens: Mapping[str, str]) -> None:
        self.app = app
        self.tokens = dict(tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = "local"
        if self.tokens:
            authorization = Request(scope).headers.get("authorization")
            name = bearer_client(self.tokens, authorization) or ""
            if not name:
                response = error_response(Request(scope), 401, "missing or invalid bearer token")
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, send)
                return
        scope.setdefault("state", {})[CLIENT_KEY] = name
        await self.app(scope, receive, send)


@dataclass
class MCPEndpoint:
    """The ASGI app to route at /mcp and the session manager whose ``run()`` the app's lifespan enters."""

    app: BearerGuard
    manager: Any


class _Handler:  # an object, not a bound method: Starlette then routes to it as a plain ASGI app
    def __init__(self, manager: Any) -> None:
        self.manager = manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.manager.handle_request(scope, receive, send)


def mcp_endpoint(core: BotCore, tokens: Mapping[str, str], *, max_body_bytes: int) -> MCPEndpoint:
    from mcp.server.transport_security import TransportSecuritySettings

    server = build_server(core)
    security = TransportSecuritySettings(enable_dns_rebinding_protection=not tokens,
                                         allowed_hosts=LOOPBACK_HOSTS, allowed_origins=LOOPBACK_ORIGINS)
    server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, json_response=True,
                               transport_security=security, max_request_body_size=max_body_bytes)
    return MCPEndpoint(BearerGuard(_Handler(server.session_manager), tokens), server.session_manager)
