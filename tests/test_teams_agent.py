"""The Teams agent through the real Microsoft 365 Agents SDK: its JWT decorator and CloudAdapter get
locally made activities with locally signed tokens; replies go to a fake Bot Connector on loopback.

The SDK has no test-issuer setting: it fetches signing keys from Microsoft's JWKS URL with PyJWT's
``PyJWKClient``. The tests put a ``PyJWKClient`` for a loopback JWKS server into the SDK's client
cache under that URL, so the SDK's own checks (RS256 signature, audience = app id, issuer, tenant
binding, service URL) run unchanged and nothing leaves the machine. Outgoing tokens come from a
local token provider in the SDK's generic ``ConnectionManager`` instead of MSAL.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from kb import KnowledgeBase
from kb.errors import ConfigError
from serve.app import create_app
from serve.chatconfig import ChatConfig
from serve.config import ServiceConfig
from tests.cards import assert_valid_card

APP_ID = "00000000-1111-2222-3333-444444444444"
TENANT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
OUTGOING = "local-outgoing-token"
AGENTS_SDK = {"CONNECTIONS": {"SERVICE_CONNECTION": {"SETTINGS": {"CLIENTID": APP_ID, "TENANTID": TENANT}}}}


class LoopbackHTTP:
    """A loopback HTTP server: GET /keys is the JWKS, POSTs are Bot Connector calls (recorded)."""

    def __init__(self, jwks: dict) -> None:
        self.posts: list[tuple[str, dict, str]] = []  # (path, activity, Authorization header)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._reply(jwks)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                fake.posts.append((self.path, json.loads(raw or b"{}"), self.headers.get("authorization", "")))
                self._reply({"id": f"reply-{len(fake.posts)}"})

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def activities(self) -> list[dict]:
        return [a for path, a, _ in self.posts if "/v3/conversations/" in path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LocalTokens:
    """An ``AccessTokenProviderBase`` that hands out a fixed token instead of asking Entra (MSAL)."""

    def __init__(self, configuration) -> None:
        self._configuration = configuration

    @property
    def configuration(self):
        return self._configuration

    async def get_access_token(self, resource_url: str, scopes: list[str], force_refresh: bool = False) -> str:
        return OUTGOING


@pytest.fixture(scope="module")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def teams(index, signing_key, monkeypatch, tmp_path):
    """(client, connector, sign, asked): a started service with the agent, its fake connector, a
    token signer and the queries the knowledge base received."""
    from microsoft_agents.hosting.core import ConnectionManager
    from microsoft_agents.hosting.core.authorization.authentication_constants import AuthenticationConstants
    from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import (
        JwtTokenValidator, _JwkClientCacheEntry)

    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    connector = LoopbackHTTP({"keys": [{**public, "kid": "test-key", "use": "sig", "alg": "RS256"}]})
    cache = JwtTokenValidator._jwk_client_manager._cache
    # Bot Framework's key URL, and the one the SDK uses for any other issuer with our tenant: both
    # answered from loopback, so a token with a foreign issuer is refused by the issuer check itself.
    for url in (AuthenticationConstants.PUBLIC_ABS_JWKS_URL,
                f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"):
        monkeypatch.setitem(cache, url, _JwkClientCacheEntry(jwt.PyJWKClient(f"{connector.url}/keys"), threading.Lock()))

    def sign(key=signing_key, **claims) -> str:
        now = int(time.time())
        payload = {"iss": AuthenticationConstants.AGENTS_SDK_TOKEN_ISSUER, "aud": APP_ID, "nbf": now - 10,
                   "exp": now + 600, "serviceurl": connector.url, **claims}
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "test-key"})

    def make(chat: ChatConfig | None = None, **config) -> TestClient:
        kb = KnowledgeBase.open(index)
        real_ask = kb.ask
        kb.ask = lambda query, *a, **kw: asked.append(query) or real_ask(query, *a, **kw)
        opened.append(kb)
        manager = ConnectionManager(provider_factory=LocalTokens, **AGENTS_SDK)
        app = create_app(kb, ServiceConfig(chat=chat or ChatConfig(agents_sdk=AGENTS_SDK), **config),
                         teams_connections=manager)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    asked: list[str] = []
    opened: list[KnowledgeBase] = []
    clients: list[TestClient] = []
    yield make, connector, sign, asked
    for client in clients:
        client.__exit__(None, None, None)
    for kb in opened:
        kb.close()
    connector.close()


def activity(connector_url: str, text: str | None = "在留カードをなくした", *, kind: str = "personal",
             conversation: str = "a:chat-1", value: dict | None = None, **extra) -> dict:
    body = {"type": "message", "id": f"m{time.monotonic_ns()}", "channelId": "msteams", "serviceUrl": connector_url,
            "from": {"id": "29:desk-user", "name": "Desk", "aadObjectId": "user-aad-1"},
            "recipient": {"id": f"28:{APP_ID}", "name": "Madoguchi"},
            "conversation": {"id": conversation, "conversationType": kind, "tenantId": TENANT},
            "channelData": {"tenant": {"id": TENANT}}, "locale": "ja-JP", **extra}
    if text is not None:
        body["text"] = text
    if value is not None:
        body["value"] = value
    return body


def post(client: TestClient, body: dict, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/messages", json=body, headers=headers)


def cards(activities: list[dict]) -> list[dict]:
    return [a["attachments"][0]["content"] for a in activities if a.get("attachments")]


def test_activities_without_a_valid_token_are_refused(teams):
    make, connector, sign, asked = teams
    client = make()
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = activity(connector.url)
    for token in (None, "not-a-jwt", sign(key=other_key), sign(aud="someone-else"),
                  sign(exp=int(time.time()) - 3600), sign(iss="https://evil.example")):
        response = post(client, body, token)
        assert response.status_code == 401, (token, response.text)
    assert connector.activities() == [] and asked == []


def test_a_chat_message_gets_typing_then_a_cited_card_with_language_actions(teams):
    make, connector, sign, asked = teams
    response = post(make(), activity(connector.url), sign())
    assert response.status_code == 202
    typing, reply = connector.activities()
    assert typing["type"] == "typing" and reply["type"] == "message"
    assert all(auth == f"Bearer {OUTGOING}" for _, _, auth in connector.posts if "/v3/" in _)
    assert reply["conversation"]["id"] == "a:chat-1" and reply["replyToId"]
    [card] = cards([reply])
    assert_valid_card(card)
    assert asked == ["在留カードをなくした"]
    text = json.dumps(card, ensure_ascii=False)
    assert "1.1.3 (3) 紛失" in text and "14日以内" in text  # a heading per section, then its quotes
    sources = [b["text"] for b in card["body"] if b.get("text", "").startswith("**[1]**")]
    assert sources and "1.1.3" in sources[0] and "p. 1" in sources[0]
    [action_set] = [b for b in card["body"] if b["type"] == "ActionSet"]
    [show] = action_set["actions"]
    assert show == {"type": "Action.Submit", "title": "Tiếng Việt",
                    "data": {"verb": "show_edition", "section_id": "1.1.3", "language": "vi"}}
    verbs = [(a["type"], a.get("verb"), a.get("data", {}).get("helpful")) for a in card["actions"]]
    assert ("Action.Execute", "feedback", True) in verbs and ("Action.Execute", "feedback", False) in verbs
    assert "在留カード" not in json.dumps([a.get("data") for a in card["actions"]], ensure_ascii=False)


def test_pressing_tieng_viet_returns_the_vietnamese_section(teams):
    make, connector, sign, _ = teams
    client = make()
    post(client, activity(connector.url), sign())
    card = cards(connector.activities())[0]
    data = next(b for b in card["body"] if b["type"] == "ActionSet")["actions"][0]["data"]
    # Teams sends an Action.Submit as a message activity whose value is the action's data, without text.
    assert post(client, activity(connector.url, None, value=data), sign()).status_code == 202
    shown = cards(connector.activities())[-1]
    assert_valid_card(shown)
    text = json.dumps(shown, ensure_ascii=False)
    assert "Tiếng Việt · 1.1.3" in text and "14 ngày" in text and "Hướng dẫn (vi, t)" in text


def test_feedback_is_answered_in_place_and_recorded_without_the_question(teams, isolated_home):
    make, connector, sign, _ = teams
    client = make()
    post(client, activity(connector.url), sign())
    card = cards(connector.activities())[0]
    helpful = next(a for a in card["actions"] if a.get("verb") == "feedback" and a["data"]["helpful"])
    invoke = activity(connector.url, None, type="invoke", name="adaptiveCard/action",
                      value={"action": {"type": "Action.Execute", "verb": "feedback", "data": helpful["data"]},
                             "trigger": "manual"})
    response = post(client, invoke, sign())
    assert response.status_code == 200
    assert response.json()["statusCode"] == 200 and "Thank you" in response.json()["value"]
    [line] = (isolated_home / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    event = json.loads(line)
    assert event["helpful"] is True and "ja:1.1.3" in event["sections"] and event["tenant"] == TENANT
    assert "question" not in event and "在留" not in line
    audit = json.loads((isolated_home / "audit.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert audit["platform"] == "teams" and audit["user"] == "user-aad-1" and "question" not in audit


def test_channel_mention_follow_up_and_new_topic(teams):
    make, connector, sign, asked = teams
    client = make()
    thread = "19:desk@thread.tacv2;messageid=1700000000000"
    mention = {"type": "mention", "text": "<at>Madoguchi</at>", "mentioned": {"id": f"28:{APP_ID}", "name": "Madoguchi"}}
    first = activity(connector.url, "<at>Madoguchi</at> 在留カードをなくした", kind="channel", conversation=thread,
                     entities=[mention])
    assert post(client, first, sign()).status_code == 202
    post(client, activity(connector.url, "<at>Madoguchi</at> 期限は？", kind="channel", conversation=thread,
                          entities=[mention]), sign())
    assert asked == ["在留カードをなくした", "在留カードをなくした\n期限は？"]  # mention gone, context kept
    post(client, activity(connector.url, None, kind="channel", conversation=thread, value={"verb": "new_topic"}), sign())
    post(client, activity(connector.url, "手数料は？", kind="groupChat", conversation="19:group@thread.v2"), sign())
    post(client, activity(connector.url, "手数料は？", kind="channel", conversation=thread), sign())
    assert asked[2:] == ["手数料は？", "手数料は？"]  # another chat has its own context; new topic forgot it


def test_tenants_not_on_the_allow_list_are_told_so(teams):
    make, connector, sign, asked = teams
    client = make(ChatConfig(agents_sdk=AGENTS_SDK, teams_tenants=frozenset({"another-tenant"})))
    post(client, activity(connector.url), sign())
    replies = [a for a in connector.activities() if a["type"] == "message"]
    assert "not allowed" in replies[-1]["text"] and asked == []


def test_rate_limit_per_person(teams):
    make, connector, sign, asked = teams
    client = make(ChatConfig(agents_sdk=AGENTS_SDK, rate_per_minute=2))
    for _ in range(3):
        post(client, activity(connector.url, conversation=f"a:{time.monotonic_ns()}"), sign())
    replies = [a for a in connector.activities() if a["type"] == "message"]
    assert len(asked) == 2 and "Too many questions" in replies[-1]["text"]


def test_anonymous_mode_is_for_loopback_only(teams):
    make, connector, _, asked = teams
    chat = ChatConfig(teams_anonymous=True)
    with pytest.raises(ConfigError, match="local development only"):
        chat.check_bind("0.0.0.0")
    chat.check_bind("127.0.0.1")
    assert not ChatConfig(agents_sdk=AGENTS_SDK).teams_anonymous
    client = make(chat)
    assert post(client, activity(connector.url), None).status_code == 202  # the Agents Playground's way
    assert cards(connector.activities()) and asked == ["在留カードをなくした"]
