"""Request checks shared by the JSON API and the chat endpoints."""
from __future__ import annotations

import hmac
from typing import Any, Optional

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serve.config import ServiceConfig
from serve.logs import QUERY_KEY


def accept_query(request: Request, query: str, limit: int) -> str:
    """Enforce the knowledge base's question length limit (setting ``max_query_chars``) as a 422,
    and hand the text to the access log (opt-in only)."""
    if len(query) > limit:
        raise RequestValidationError([{"loc": ("body", "query"), "type": "string_too_long",
                                       "msg": f"at most {limit} characters, got {len(query)}"}])
    request.scope[QUERY_KEY] = query
    return query


def token_guard(config: ServiceConfig) -> Any:
    """A dependency: 401 unless ``Authorization: Bearer <KB_SERVE_TOKEN>`` (when a token is set)."""
    bearer = HTTPBearer(auto_error=False, description="KB_SERVE_TOKEN, when the service has one")
    expected = config.token.encode() if config.token else None

    async def check(credentials: Optional[HTTPAuthorizationCredentials] = Depends(bearer)) -> None:
        if expected is None:
            return
        given = credentials.credentials.encode() if credentials else b""
        if not hmac.compare_digest(given, expected):  # constant time: no guessing byte by byte
            raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})

    return check
