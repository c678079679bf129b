"""Microsoft Teams outgoing webhook: ``POST /teams`` answers an @mention with an Adaptive Card.

Teams signs each request: ``Authorization: HMAC <base64(HMAC-SHA256(key=base64decode(secret),
msg=raw body))>``, where ``secret`` is the security token shown once when the webhook is created.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from answer.render import to_teams_card
from kb.errors import ConfigError, QueryError
from serve.guards import accept_query
from serve.config import ServiceConfig
from serve.runner import KBRunner

CARD = "application/vnd.microsoft.card.adaptive"
_MENTION = re.compile(r"<at>.*?</at>", re.S)
_TAG = re.compile(r"<[^>]+>")


def teams_key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("TEAMS_SHARED_SECRET is not base64; paste the security token Teams showed "
                          "when the outgoing webhook was created") from None


def signature(key: bytes, body: bytes) -> str:
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def verify(key: bytes, body: bytes, authorization: str | None) -> bool:
    scheme, _, given = (authorization or "").partition(" ")
    if scheme != "HMAC" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), signature(key, body).encode())


def question_text(text: str) -> str:
    """The question without the ``<at>BotName</at>`` mention and the HTML Teams wraps it in."""
    return " ".join(html.unescape(_TAG.sub(" ", _MENTION.sub(" ", text))).split())


def message(text: str) -> dict[str, Any]:
    return {"type": "message", "text": text}


def teams_router(runner: KBRunner, config: ServiceConfig) -> APIRouter:
    key = teams_key(config.teams_shared_secret or "")
    router = APIRouter()

    @router.post("/teams", tags=["chat"], response_model=None)
    async def teams(request: Request) -> JSONResponse:
        """Outgoing-webhook endpoint: verified HMAC, reply = Adaptive Card (`to_teams_card`)."""
        body = await request.body()  # the exact bytes Teams signed
        if not verify(key, body, request.headers.get("authorization")):
            raise HTTPException(401, "invalid or missing Teams HMAC signature")
        try:
            activity = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HTTPException(400, "body is not JSON") from None
        except RecursionError:  # signed, but nested deeper than any activity
            raise HTTPException(400, "body is JSON nested too deeply") from None
        text = activity.get("text") if isinstance(activity, dict) else None
        text = question_text(text if isinstance(text, str) else "")
        query = accept_query(request, text, runner.kb.settings.max_query_chars)
        if not query:
            return JSONResponse(message("Ask me a question after the mention, e.g. @Madoguchi 在留カードをなくした"))
        try:
            answer = await runner.call(runner.kb.ask, query)
        except QueryError as exc:  # shown in the channel, where the staff member can rephrase
            return JSONResponse(message(str(exc)))
        return JSONResponse({"type": "message", "attachments": [{"contentType": CARD,
                                                                 "content": to_teams_card(answer)}]})

    return router
