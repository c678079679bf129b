"""The Teams outgoing webhook: HMAC verification exactly as Teams signs, Adaptive Card replies."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os

import pytest
from fastapi.testclient import TestClient

from kb import KnowledgeBase
from kb.errors import ConfigError
from serve.app import create_app
from serve.config import ServiceConfig
from serve.teams import CARD, question_text, teams_key
from tests.cards import assert_valid_card

SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()  # as Teams shows it


@pytest.fixture
def teams(index):  # noqa: F811
    with KnowledgeBase.open(index) as kb:
        with TestClient(create_app(kb, ServiceConfig(teams_shared_secret=SECRET))) as http:
            yield http


def activity(text: str) -> bytes:
    return json.dumps({"type": "message", "id": "1", "text": text, "from": {"id": "29:1", "name": "Desk"},
                       "conversation": {"id": "19:abc"}, "channelData": {}}, ensure_ascii=False).encode()


def auth(body: bytes, secret: str = SECRET) -> dict:
    digest = hmac.new(base64.b64decode(secret), body, hashlib.sha256).digest()
    return {"Authorization": "HMAC " + base64.b64encode(digest).decode(), "Content-Type": "application/json"}


def test_valid_signature_gets_an_adaptive_card(teams):
    body = activity("<at>Madoguchi</at> 在留カードをなくしたらどうする")
    response = teams.post("/teams", content=body, headers=auth(body))
    assert response.status_code == 200
    data = response.json()
    assert data["type"] == "message" and data["attachments"][0]["contentType"] == CARD
    card = data["attachments"][0]["content"]
    assert_valid_card(card)
    assert card["body"][0]["text"] == "在留カードをなくしたらどうする"  # the mention is gone
    assert "14日以内" in json.dumps(card, ensure_ascii=False)
    assert any(b.get("text", "").startswith("**[1]** 1.1.3 ") and "p. 1" in b["text"] for b in card["body"])
    assert "actions" not in card  # an outgoing webhook's card can only open URLs


def test_forged_missing_and_tampered_signatures_get_401(teams):
    body = activity("<at>Madoguchi</at> 在留カード")
    other = base64.b64encode(os.urandom(32)).decode()
    for headers in (auth(body, other), {"Content-Type": "application/json"},
                    {"Authorization": auth(body)["Authorization"].replace("HMAC", "Bearer")},
                    {"Authorization": "HMAC "}):
        response = teams.post("/teams", content=body, headers=headers)
        assert response.status_code == 401 and "HMAC" in response.json()["error"]
    tampered = activity("<at>Madoguchi</at> 年金")
    assert teams.post("/teams", content=tampered, headers=auth(body)).status_code == 401


def test_empty_question_and_bad_body(teams):
    body = activity("<at>Madoguchi</at>&nbsp;")
    data = teams.post("/teams", content=body, headers=auth(body)).json()
    assert data["type"] == "message" and "Ask me a question" in data["text"]
    body = b"not json"
    assert teams.post("/teams", content=body, headers=auth(body)).status_code == 400


def test_question_text_and_secret_checks():
    assert question_text("<at>Madoguchi</at>&nbsp;<p>在留カード&amp;住民票</p>") == "在留カード&住民票"
    assert question_text("<at>Mado Guchi</at> hello <at>Other</at>") == "hello"
    with pytest.raises(ConfigError, match="TEAMS_SHARED_SECRET"):
        teams_key("not base64!")


def test_a_signed_body_nested_30000_deep_is_a_400_not_a_500(teams):
    body = b'{"text": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    response = teams.post("/teams", content=body, headers=auth(body))
    assert response.status_code == 400 and "nested" in response.json()["error"]
