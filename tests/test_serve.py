"""The HTTP service: endpoints and schemas, limits, auth, errors, access-log privacy, live reload."""
from __future__ import annotations

import json
import logging
import time

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kb import KnowledgeBase
from kb.errors import IndexNotFoundError
from serve.app import create_app
from tests.conftest import JA, VI, write_sources
from serve.config import ServiceConfig
from serve.schemas import AskResponse, SearchResponse

SECRET_QUESTION = "在留カードをなくしたらどうすればいいですか 山田花子"  # stands in for personal data


@pytest.fixture
def make_client(index):
    """``make_client(**ServiceConfig fields)`` -> a started TestClient; closed after the test."""
    opened: list[tuple[TestClient, KnowledgeBase]] = []

    def make(*, reload_every: float = 0, raise_errors: bool = True, max_query_chars: int = 2000,
             **config) -> TestClient:
        kb = KnowledgeBase.open(index, reload_every=reload_every, max_query_chars=max_query_chars)
        client = TestClient(create_app(kb, ServiceConfig(**config)), raise_server_exceptions=raise_errors)
        client.__enter__()
        opened.append((client, kb))
        return client

    yield make
    for client, kb in opened:
        client.__exit__(None, None, None)
        kb.close()


def without_timings(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "timings_ms"}


def test_search_and_ask_return_the_cli_json_schema(make_client, index):
    client = make_client()
    response = client.post("/search", json={"query": "在留カード 紛失", "k": 3})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    data = response.json()
    SearchResponse.model_validate(data)  # extra="forbid": the documented schema matches the real one
    with KnowledgeBase.open(index) as kb:
        assert without_timings(data) == without_timings(kb.search("在留カード 紛失", 3).to_dict())
    assert data["hits"][0]["citation"]["section_id"] == "1.1.3"

    answer = client.post("/ask", json={"query": "在留カードをなくしたらどうする", "lang": "vi"}).json()
    AskResponse.model_validate(answer)
    assert answer["sources"][0]["citation"]["language"] == "vi" and "14 ngày" in answer["sentences"][0]["text"]
    assert all(s["citations"] for s in answer["sentences"])


def test_search_options_mode_languages_and_lang(make_client):
    client = make_client()
    hits = client.post("/search", json={"query": "thẻ cư trú 14 ngày", "languages": ["vi"]}).json()["hits"]
    assert hits and {h["citation"]["language"] for h in hits} == {"vi"}
    hits = client.post("/search", json={"query": "在留カード", "lang": "ja", "mode": "keyword"}).json()["hits"]
    assert hits and {h["citation"]["language"] for h in hits} == {"ja"}
    assert all(h["dense_score"] is None or h["keyword_score"] is not None for h in hits)


@pytest.mark.parametrize("path, body, status", [
    ("/search", {"query": "在留カード", "k": 0}, 422),
    ("/search", {"query": "在留カード", "k": 51}, 422),
    ("/search", {"query": "x" * 101}, 422),  # over max_query_chars=100
    ("/search", {"query": ""}, 422),
    ("/search", {"query": "在留カード", "mode": "fuzzy"}, 422),
    ("/search", {"query": "在留カード", "unknown": 1}, 422),
    ("/search", {"query": "在留カード", "lang": "../etc"}, 422),
    ("/ask", {"query": "在留カード", "mode": "dense"}, 422),  # /ask has no mode
    ("/ask", {"k": 3}, 422),
    ("/search", {"query": "   "}, 400),  # QueryError from the library
    ("/search", {"query": "在留カード", "languages": ["ko"]}, 400),  # no such edition
])
def test_request_limits_give_json_errors(make_client, path, body, status):
    response = make_client(max_query_chars=100).post(path, json=body)
    assert response.status_code == status, response.text
    data = response.json()
    assert data["error"] and data["request_id"]
    assert "x" * 101 not in response.text  # errors say where and why, without echoing the question


def test_malformed_and_oversized_bodies(make_client):
    client = make_client(max_body_bytes=1000)
    response = client.post("/search", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "error" in response.json()
    response = client.post("/search", json={"query": "あ" * 2000})
    assert response.status_code == 413 and "error" in response.json()


def test_bearer_token(make_client):
    client = make_client(token="s3cret-token")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"},
                    {"Authorization": "Bearer s3cret-token-longer"}):
        response = client.post("/search", json={"query": "在留カード"}, headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] == "missing or invalid bearer token"
    assert client.get("/status").status_code == 401
    good = {"Authorization": "Bearer s3cret-token"}
    assert client.post("/search", json={"query": "在留カード"}, headers=good).status_code == 200
    assert client.post("/ask", json={"query": "在留カード"}, headers=good).status_code == 200
    assert client.get("/status", headers=good).status_code == 200
    assert client.get("/health").status_code == 200  # liveness probes carry no secret


def test_library_errors_map_to_status_codes_without_tracebacks(make_client, monkeypatch):
    client = make_client(raise_errors=False)
    kb = client.app.state.runner.kb

    def missing(*a, **kw):
        raise IndexNotFoundError("no published index at /srv/idx")

    monkeypatch.setattr(kb, "search", missing)
    response = client.post("/search", json={"query": "在留カード"})
    assert response.status_code == 503 and response.json()["error"] == "no published index at /srv/idx"

    def broken(*a, **kw):
        raise RuntimeError("secret internals /home/user/.ssh")

    monkeypatch.setattr(kb, "ask", broken)
    response = client.post("/ask", json={"query": "在留カード"})
    assert response.status_code == 500 and response.json()["error"] == "internal error"
    assert "RuntimeError" not in response.text and "Traceback" not in response.text and ".ssh" not in response.text
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_slow_calls_time_out_with_504(make_client, monkeypatch):
    client = make_client(timeout=0.3)
    kb = client.app.state.runner.kb
    monkeypatch.setattr(kb, "search", lambda *a, **kw: time.sleep(2))
    started = time.monotonic()
    response = client.post("/search", json={"query": "在留カード"})
    assert response.status_code == 504 and "0.3 s" in response.json()["error"]
    assert time.monotonic() - started < 1.5


def access_records(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "madoguchi.access"]


def test_access_log_has_no_question_text_by_default(make_client, caplog):
    client = make_client()
    with caplog.at_level(logging.DEBUG):
        client.post("/ask", json={"query": SECRET_QUESTION}, headers={"X-Request-ID": "req-123"})
        client.post("/search", json={"query": SECRET_QUESTION, "k": 0})  # a 422 is not logged with it either
    [ok, bad] = access_records(caplog)
    assert ok == {"method": "POST", "path": "/ask", "status": 200, "ms": ok["ms"], "client": "testclient",
                  "request_id": "req-123"}
    assert bad["status"] == 422 and "query" not in bad and len(bad["request_id"]) == 32
    assert all("山田" not in r.getMessage() for r in caplog.records)  # no logger at all saw it


def test_access_log_includes_questions_when_opted_in(make_client, caplog, monkeypatch):
    monkeypatch.setenv("KB_SERVE_LOG_QUERIES", "1")
    client = make_client(**{"log_queries": ServiceConfig.from_env().log_queries})
    with caplog.at_level(logging.INFO, logger="madoguchi.access"):
        client.post("/search", json={"query": SECRET_QUESTION})
    [record] = access_records(caplog)
    assert record["query"] == SECRET_QUESTION and record["status"] == 200


def test_health_status_and_docs(make_client):
    client = make_client()
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["version"].startswith("v000001")
    status = client.get("/status").json()
    assert status["serving_version"] == status["live_version"] == status["version"] == health["version"]
    assert status["languages"] == {"ja": 2, "vi": 1} and status["chunks"] == 3
    spec = client.get("/openapi.json").json()
    assert {"/search", "/ask", "/health", "/status"} <= set(spec["paths"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 200


def test_a_newly_published_version_is_served_without_restart(make_client, index, tmp_path):
    client = make_client(reload_every=0.2)
    first = client.post("/search", json={"query": "在留期間の更新", "languages": ["ja"]}).json()
    assert any("3か月前" in h["text"] for h in first["hits"])
    changed = JA.replace("満了の3か月前から", "満了の6か月前から")
    KnowledgeBase.sync([write_sources(tmp_path / "src2", {"ja": changed, "vi": VI})], index=index)
    time.sleep(0.3)
    second = client.post("/search", json={"query": "在留期間の更新", "languages": ["ja"]}).json()
    assert any("6か月前" in h["text"] for h in second["hits"])
    assert not any("3か月前" in h["text"] for h in second["hits"])
    status = client.get("/status").json()
    assert status["serving_version"] == status["live_version"] and status["serving_version"].startswith("v000002")


def test_concurrent_requests_share_one_knowledge_base(make_client):
    from concurrent.futures import ThreadPoolExecutor

    client = make_client(workers=2)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: client.post("/ask", json={"query": f"在留カード {i}"}).status_code,
                              range(24)))
    assert codes == [200] * 24


def test_service_config_from_env_and_secrets_hidden():
    config = ServiceConfig.from_env({"KB_SERVE_TOKEN": "zz-token-zz", "KB_SERVE_TIMEOUT": "2.5",
                                     "TEAMS_SHARED_SECRET": "c2VjcmV0", "KB_SERVE_LOG_QUERIES": "0"})
    assert config.token == "zz-token-zz" and config.timeout == 2.5 and not config.log_queries and not config.slack_http
    assert "zz-token-zz" not in repr(config) and "c2VjcmV0" not in repr(config)
    from kb.errors import ConfigError

    with pytest.raises(ConfigError, match="KB_SERVE_TIMEOUT"):
        ServiceConfig.from_env({"KB_SERVE_TIMEOUT": "soon"})


def test_kb_serve_command_wires_the_app(index, monkeypatch):
    import uvicorn

    from cli import app

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda service, **kw: seen.update(app=service, **kw))
    monkeypatch.setenv("TEAMS_SHARED_SECRET", "c2VjcmV0")
    result = CliRunner().invoke(app, ["serve", "--index", str(index), "--port", "8123"])
    assert result.exit_code == 0, result.output
    paths = set(seen["app"].openapi()["paths"])
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    assert {"/search", "/ask", "/health", "/status", "/teams"} <= paths and "/slack/events" not in paths
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "x")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    CliRunner().invoke(app, ["serve", "--index", str(index)])
    assert "/slack/events" in seen["app"].openapi()["paths"]


def test_a_chunked_body_over_the_limit_is_a_413(make_client):
    client = make_client(max_body_bytes=65536)

    def chunks():
        yield b'{"query": "'
        for _ in range(160):  # 10 MB, sent without a Content-Length
            yield b"a" * 65536
        yield b'"}'

    response = client.post("/search", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "65536" in response.json()["error"]


def test_a_client_sending_its_request_slowly_is_disconnected(index):
    import socket
    import threading

    import uvicorn

    from serve.protocol import protocol_class

    kb = KnowledgeBase.open(index)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(kb, ServiceConfig()), host="127.0.0.1", port=port,
                                           log_level="critical", http=protocol_class(0.5)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 10
        while not server.started:
            assert time.time() < deadline
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port)) as fine:  # a whole request: answered, kept alive
            fine.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert fine.recv(4096).startswith(b"HTTP/1.1 200")
        with socket.create_connection(("127.0.0.1", port)) as slow:
            slow.settimeout(5)
            started = time.time()
            slow.sendall(b"GET /health HTTP/1.1\r\n")
            time.sleep(0.3)
            slow.sendall(b"Host: x\r\n")  # still trickling in: the deadline counts from the first byte
            assert slow.recv(4096) == b"" and time.time() - started < 3
        with socket.create_connection(("127.0.0.1", port)) as silent:
            silent.settimeout(5)
            assert silent.recv(4096) == b""  # connected, never sent a byte
    finally:
        server.should_exit = True
        thread.join(10)
        kb.close()
