"""Request checks shared by the JSON API and the chat endpoints."""
from __future__ import annotations

import hmac
from typing import Any, Mapping, Optional

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


def token_client(tokens: Mapping[str, str], given: str) -> Optional[str]:
    """The name of the client whose token ``given`` is, or None. Every token is compared, in
    constant time, so neither a match's position nor a prefix can be guessed from timing."""
    found = None
    for name, token in tokens.items():
        if hmac.compare_digest(given.encode(), token.encode()):
            found = name
    return found


def bearer_client(tokens: Mapping[str, str], authorization: Optional[str]) -> Optional[str]:
    """``token_client`` for a raw ``Authorization: Bearer …`` header (the MCP endpoint's check)."""
    scheme, _, given = (authorization or "").partition(" ")
    return token_client(tokens, given.strip()) if scheme.lower() == "bearer" and given.strip() else None


def token_guard(config: ServiceConfig) -> Any:
    """A dependency: 401 unless ``Authorization: Bearer <token>`` carries KB_SERVE_TOKEN or one of
    KB_SERVE_TOKENS (when any is set)."""
    bearer = HTTPBearer(auto_error=False, description="KB_SERVE_TOKEN (or a KB_SERVE_TOKENS token), when set")
    tokens = config.tokens

    async def check(credentials: Optional[HTTPAuthorizationCredentials] = Depends(bearer)) -> None:
        if not tokens:
            return
        if credentials is None or token_client(tokens, credentials.credentials) is None:
            raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})

    return check
