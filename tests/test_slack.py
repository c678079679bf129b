"""The Slack bot over HTTP, driven by locally signed requests against a fake Slack Web API on loopback."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

import pytest
from fastapi.testclient import TestClient

from kb import KnowledgeBase
from serve.app import create_app
from serve.config import ServiceConfig
from serve.conversation import BotCore, ConversationMemory, with_context
from serve.slack import clean, fresh, socket_mode_handler

SIGNING_SECRET = "test-signing-secret"
ROOT_TS = "1700000000.000100"


class FakeSlack:
    """Records Web API calls (and response_url posts); answers like Slack would, minimally."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.cond = threading.Condition()
        self._ts = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                if "json" in (self.headers.get("content-type") or ""):
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                method = self.path.rsplit("/", 1)[-1]
                reply = fake.reply(method, args)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reply(self, method: str, args: dict) -> dict:
        with self.cond:
            self.calls.append((method, args))
            self.cond.notify_all()
            if method == "chat.postMessage" and args.get("channel") == "CNOTIN":
                return {"ok": False, "error": "not_in_channel"}
            if method == "auth.test":
                return {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "user": "madoguchi"}
            self._ts += 1
            return {"ok": True, "channel": args.get("channel"), "ts": f"1700000100.{self._ts:06d}"}

    def posts(self) -> list[dict]:
        return [args for method, args in self.calls if method == "chat.postMessage"]

    def wait_posts(self, n: int, timeout: float = 10) -> list[dict]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.posts()) >= n, timeout)
        return self.posts()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack(index):  # noqa: F811
    from slack_sdk import WebClient

    fake = FakeSlack()
    kb = KnowledgeBase.open(index)
    asked: list[str] = []
    real_ask = kb.ask
    kb.ask = lambda query, *a, **kw: asked.append(query) or real_ask(query, *a, **kw)
    client = WebClient(token="xoxb-test", base_url=f"{fake.url}/api/", timeout=5)
    config = ServiceConfig(slack_signing_secret=SIGNING_SECRET, slack_bot_token="xoxb-test")
    with TestClient(create_app(kb, config, slack_client=client)) as http:
        yield http, fake, asked
    fake.close()
    kb.close()


def signed(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
           content_type: str = "application/json") -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}", "Content-Type": content_type}


def event(kind: str, text: str, ts: str, thread_ts: str | None = None, **extra) -> str:
    ev = {"type": kind, "user": "U1", "text": text, "ts": ts, "channel": "C1", "event_ts": ts, **extra}
    if thread_ts:
        ev["thread_ts"] = thread_ts
    return json.dumps({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": f"Ev{ts}", "event_time": int(time.time()), "event": ev,
                       "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}]})


def post_event(http: TestClient, body: str):
    return http.post("/slack/events", content=body.encode(), headers=signed(body))


def text_of(post: dict) -> str:
    return json.dumps(post.get("blocks") or [], ensure_ascii=False) + post.get("text", "")


def test_mention_is_answered_in_the_thread_with_citations_and_edition_buttons(slack):
    http, fake, asked = slack
    response = post_event(http, event("app_mention", "<@UBOT> 在留カードをなくしたらどうする", ROOT_TS))
    assert response.status_code == 200
    [post] = fake.wait_posts(1)
    assert post["channel"] == "C1" and post["thread_ts"] == ROOT_TS
    assert asked == ["在留カードをなくしたらどうする"]  # the mention is stripped
    blocks = post["blocks"]
    assert "14日以内" in blocks[0]["text"]["text"] and "*[1]*" in blocks[0]["text"]["text"]
    sources = next(b for b in blocks if b["type"] == "context")["elements"][0]["text"]
    assert "*Sources*" in sources and "[1] ガイド [ja, t] § 1.1.3" in sources and "p. 1" in sources
    [actions] = [b for b in blocks if b["type"] == "actions"]
    [button] = actions["elements"]  # only the vi edition has section 1.1.3 besides ja
    assert button["action_id"] == "show_edition:vi" and button["text"]["text"] == "Show in Tiếng Việt"
    value = json.loads(button["value"])
    assert value["section_id"] == "1.1.3" and value["language"] == "vi" and value["chunk_id"]


def test_a_retried_delivery_is_not_answered_twice(slack):
    http, fake, asked = slack
    body = event("app_mention", "<@UBOT> 在留カードをなくしたらどうする", ROOT_TS)
    assert post_event(http, body).status_code == 200
    fake.wait_posts(1)
    retry = http.post("/slack/events", content=body.encode(), headers={**signed(body), "X-Slack-Retry-Num": "1",
                                                                     "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code == 200 and retry.headers["X-Slack-No-Retry"] == "1"
    time.sleep(0.5)
    assert len(fake.posts()) == 1 and len(asked) == 1


def test_follow_up_in_the_thread_keeps_the_previous_question(slack):
    http, fake, asked = slack
    post_event(http, event("app_mention", "<@UBOT> 在留カードをなくした", ROOT_TS))
    fake.wait_posts(1)
    post_event(http, event("message", "再交付の期限は？", "1700000000.000200", thread_ts=ROOT_TS))
    posts = fake.wait_posts(2)
    assert len(posts) == 2 and posts[1]["thread_ts"] == ROOT_TS
    assert asked[1] == "在留カードをなくした\n再交付の期限は？"
    # Messages the bot must ignore: its own, other threads, top-level chatter, and mentions
    # (those arrive again as app_mention and are answered once).
    post_event(http, event("message", "answer", "1700000000.000300", thread_ts=ROOT_TS, bot_id="BBOT"))
    post_event(http, event("message", "関係ない話", "1700000000.000400", thread_ts="1690000000.000001"))
    post_event(http, event("message", "在留カード", "1700000000.000500"))
    post_event(http, event("message", "<@UBOT> 手数料は？", "1700000000.000600", thread_ts=ROOT_TS))
    post_event(http, event("app_mention", "<@UBOT> 手数料は？", "1700000000.000600", thread_ts=ROOT_TS))
    posts = fake.wait_posts(3)
    time.sleep(0.5)  # anything wrongly answered would have been posted by now
    assert len(fake.posts()) == 3 and fake.posts()[2]["thread_ts"] == ROOT_TS
    assert asked[2] == "在留カードをなくした\n再交付の期限は？\n手数料は？"


def test_show_edition_button_posts_the_aligned_passage(slack):
    http, fake, _ = slack
    post_event(http, event("app_mention", "<@UBOT> 在留カードをなくした", ROOT_TS))
    [answer] = fake.wait_posts(1)
    button = next(b for b in answer["blocks"] if b["type"] == "actions")["elements"][0]
    payload = {"type": "block_actions", "user": {"id": "U1"}, "team": {"id": "T1"}, "api_app_id": "A1",
               "token": "x", "trigger_id": "1.2.3", "response_url": f"{fake.url}/respond",
               "container": {"type": "message", "message_ts": "1700000100.000001", "channel_id": "C1",
                             "thread_ts": ROOT_TS, "is_ephemeral": False},
               "channel": {"id": "C1", "name": "desk"},
               "message": {"type": "message", "ts": "1700000100.000001", "thread_ts": ROOT_TS, "text": "..."},
               "actions": [{**button, "block_id": "editions", "action_ts": str(time.time())}]}
    body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)})
    response = http.post("/slack/events", content=body.encode(),
                         headers=signed(body, content_type="application/x-www-form-urlencoded"))
    assert response.status_code == 200
    shown = fake.wait_posts(2)[1]
    assert shown["channel"] == "C1" and shown["thread_ts"] == ROOT_TS
    assert "14 ngày" in text_of(shown) and "Hướng dẫn [vi, t]" in text_of(shown)


def test_slash_command_posts_an_answer_whose_thread_takes_follow_ups(slack):
    http, fake, asked = slack
    body = urlencode({"command": "/madoguchi", "text": "在留カードをなくした", "channel_id": "C1", "user_id": "U1",
                      "team_id": "T1", "response_url": f"{fake.url}/respond", "trigger_id": "1.2.3"})
    response = http.post("/slack/events", content=body.encode(),
                         headers=signed(body, content_type="application/x-www-form-urlencoded"))
    assert response.status_code == 200
    [post] = fake.wait_posts(1)
    assert post["channel"] == "C1" and "thread_ts" not in post
    assert "<@U1> asked: 在留カードをなくした" in post["blocks"][0]["elements"][0]["text"]
    assert "14日以内" in text_of(post)
    memory = http.app.state.core.memory
    deadline = time.monotonic() + 10
    while memory.get(("slack", "T1", "C1:1700000100.000001")) is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the answer's ts is remembered once chat.postMessage has returned
    post_event(http, event("message", "手数料は？", "1700000100.000900", thread_ts="1700000100.000001"))
    assert fake.wait_posts(2)[1]["thread_ts"] == "1700000100.000001"
    assert asked[-1] == "在留カードをなくした\n手数料は？"


def test_slash_command_answers_privately_where_the_bot_is_not_a_member(slack):
    http, fake, _ = slack
    body = urlencode({"command": "/madoguchi", "text": "在留カードをなくした", "channel_id": "CNOTIN", "user_id": "U1",
                      "team_id": "T1", "response_url": f"{fake.url}/respond", "trigger_id": "1.2.3"})
    assert http.post("/slack/events", content=body.encode(),
                     headers=signed(body, content_type="application/x-www-form-urlencoded")).status_code == 200
    with fake.cond:
        fake.cond.wait_for(lambda: any(m == "respond" for m, _ in fake.calls), 10)
    [reply] = [args for method, args in fake.calls if method == "respond"]
    assert reply["response_type"] == "ephemeral" and "14日以内" in text_of(reply)


def test_forged_and_replayed_requests_are_rejected(slack):
    http, fake, asked = slack
    body = event("app_mention", "<@UBOT> 在留カード", ROOT_TS)
    forged = http.post("/slack/events", content=body.encode(), headers=signed(body, secret="not-the-secret"))
    assert forged.status_code == 401
    old = int(time.time()) - 6 * 60  # correctly signed, but captured six minutes ago
    replayed = http.post("/slack/events", content=body.encode(), headers=signed(body, timestamp=old))
    assert replayed.status_code == 401
    unsigned = http.post("/slack/events", content=body.encode(), headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    tampered = http.post("/slack/events", content=body.replace('"C1"', '"C2"').encode(), headers=signed(body))
    assert tampered.status_code == 401
    time.sleep(0.3)
    assert fake.posts() == [] and asked == []


def test_url_verification_challenge(slack):
    http, _, _ = slack
    body = json.dumps({"token": "x", "challenge": "abc123", "type": "url_verification"})
    response = http.post("/slack/events", content=body.encode(), headers=signed(body))
    assert response.status_code == 200 and response.json() == {"challenge": "abc123"}


def test_helpers():
    assert clean("<@UBOT>  在留カード <@U2|bob> を なくした") == "在留カード を なくした"
    assert with_context(None, "q", 100) == "q"
    assert with_context("a" * 1000, "q", 2000) == "a" * 400 + "\nq"  # context clipped from the front
    assert with_context("prev", "q" * 1999, 2000) == "q" * 1999  # no room left: the new question alone
    memory = ConversationMemory(size=2)
    memory.put(("C", "1"), "a")
    memory.put(("C", "2"), "b")
    memory.get(("C", "1"))
    memory.put(("C", "3"), "c")  # evicts the least recently used thread "2"
    assert memory.get(("C", "2")) is None and memory.get(("C", "1")) == "a"
    assert memory.get(("C", "1"), max_age=0) is None  # too old for a chat's follow-up: forgotten
    now = time.time()
    assert fresh(str(int(now)), now) and not fresh(str(int(now) - 301), now) and not fresh("x", now)
    assert not fresh(None, now) and not fresh(str(int(now) + 400), now)


def test_socket_mode_handler_is_built_without_connecting(index):  # noqa: F811
    from serve.runner import KBRunner

    with KnowledgeBase.open(index) as kb:
        runner = KBRunner(kb, workers=1, timeout=5)
        config = ServiceConfig(slack_app_token="xapp-test", slack_bot_token="xoxb-test")
        handler = socket_mode_handler(BotCore(runner, config), config)
        assert handler.app_token == "xapp-test" and not handler.client.is_connected()
        runner.close()


def test_a_retry_is_verified_too(slack):
    http, fake, asked = slack
    body = event("app_mention", "<@UBOT> 在留カードをなくしたらどうする", ROOT_TS)
    forged = {**signed(body, secret="not-the-secret"), "X-Slack-Retry-Num": "1"}
    assert http.post("/slack/events", content=body.encode(), headers=forged).status_code == 401
    time.sleep(0.3)
    assert fake.posts() == [] and asked == []


def test_a_retry_of_a_delivery_that_never_arrived_is_answered(slack):
    http, fake, asked = slack
    body = event("app_mention", "<@UBOT> 在留カードをなくしたらどうする", ROOT_TS)
    retry = http.post("/slack/events", content=body.encode(), headers={**signed(body), "X-Slack-Retry-Num": "2",
                                                                     "X-Slack-Retry-Reason": "http_error"})
    assert retry.status_code == 200
    [post] = fake.wait_posts(1)
    assert post["thread_ts"] == ROOT_TS and asked == ["在留カードをなくしたらどうする"]


def test_a_signed_deeply_nested_body_is_a_400(slack):
    http, fake, _ = slack
    body = '{"type": "event_callback", "event": ' + "[" * 30_000 + "]" * 30_000 + "}"
    assert http.post("/slack/events", content=body.encode(), headers=signed(body)).status_code == 400
