"""The MCP server, driven by the official `mcp` client: `kb mcp` over stdio (a real subprocess) and
/mcp in `kb serve` over streamable HTTP (a real uvicorn server on loopback), bearer token included."""
from __future__ import annotations

import asyncio
import json
import os
import sys

import httpx
import pytest

from kb import KnowledgeBase
from serve.app import create_app
from serve.chatconfig import ChatConfig
from serve.config import ServiceConfig
from tests.conftest import ROOT
from tests.servers import fake_kb_command, uvicorn_server

TOKEN = "mcp-test-token-0123456789"
TOOLS = {"ask", "search", "show_section", "list_editions"}


def stdio_params(command: list[str], env: dict[str, str]):
    from mcp.client.stdio import StdioServerParameters

    return StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=str(ROOT))


def fake_env(home) -> dict[str, str]:
    return {"KB_HOME": str(home), "KB_MODEL": "fake", "KB_ABSTAIN_BELOW": "0", "KB_UNSURE_BELOW": "0", "KB_MODEL_CACHE": os.environ["KB_MODEL_CACHE"]}


async def session_report(server) -> dict:
    """List everything and call every tool through one client session; returns what came back."""
    from mcp import Client

    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        asked = await client.call_tool("ask", {"question": "在留カードをなくした"})
        in_vi = await client.call_tool("ask", {"question": "在留カードをなくした", "lang": "vi"})
        searched = await client.call_tool("search", {"question": "在留カード 紛失", "k": 3})
        shown = await client.call_tool("show_section", {"section_id": "1.1.3", "lang": "vi"})
        editions = await client.call_tool("list_editions", {})
        bad = await client.call_tool("ask", {"question": "在留カード", "lang": "../etc"})
        resource = await client.read_resource("guidebook://vi/1.1.3")
    return {"tools": tools, "templates": templates, "ask": asked, "ask_vi": in_vi, "search": searched,
            "show": shown, "editions": editions, "bad": bad, "resource": resource}


def check_report(report: dict) -> None:
    tools = report["tools"]
    assert set(tools) == TOOLS
    ask_doc = tools["ask"].description
    assert "section" in ask_doc and "page" in ask_doc and "not_found" in ask_doc and "own knowledge" in ask_doc
    assert tools["ask"].annotations.read_only_hint is True
    assert tools["ask"].input_schema["required"] == ["question"]
    assert "guidebook://{lang}/{section_id}" in report["templates"]

    data = report["ask"].structured_content
    assert not report["ask"].is_error and data["verdict"] == "answered" and data["abstained"] is False
    top = data["sections"][0]
    assert top["section_id"] == "1.1.3" and top["printed_page"] == "1" and top["edition"] == "ja"
    assert top["title"] == "(3) 紛失" and any("14日以内" in s for s in top["quoted_sentences"])
    assert "pdf_page" in top and "url" in top and data["how_to_cite"]
    assert json.loads(report["ask"].content[0].text) == data  # the same result as text for older clients

    vi = report["ask_vi"].structured_content["sections"][0]
    assert vi["edition"] == "vi" and any("14 ngày" in s for s in vi["quoted_sentences"])
    hits = report["search"].structured_content["hits"]
    assert hits[0]["section_id"] == "1.1.3" and hits[0]["rank"] == 1 and len(hits) <= 3
    shown = report["show"].structured_content
    assert shown["found"] and shown["edition"] == "vi" and "14 ngày" in shown["text"]
    editions = {e["edition"]: e for e in report["editions"].structured_content["editions"]}
    assert set(editions) == {"ja", "vi"} and editions["vi"]["name"] == "Tiếng Việt"
    assert "1.2" in editions["vi"]["missing_vs_ja"]
    assert report["bad"].is_error  # a bad edition is a tool error the agent can read, not a crash
    [contents] = report["resource"].contents
    assert contents.mime_type == "text/markdown" and "14 ngày" in contents.text and "1.1.3" in contents.text


def test_kb_mcp_over_stdio(index, tmp_path):
    command = fake_kb_command("mcp", "--index", str(index))
    report = asyncio.run(session_report(stdio_params(command, fake_env(tmp_path / "home"))))
    check_report(report)
    audit = (tmp_path / "home" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(audit[0])  # who asked when and what was cited, without the question
    assert first["platform"] == "mcp" and first["tenant"] == "stdio" and "ja:1.1.3" in first["sections"]
    assert "question" not in first and "在留" not in audit[0]


@pytest.fixture
def mcp_http(index):
    kb = KnowledgeBase.open(index)
    config = ServiceConfig(token=TOKEN, chat=ChatConfig(tokens={"copilot": "copilot-token-0123456789"}))
    with uvicorn_server(create_app(kb, config)) as base:
        yield base
    kb.close()


def http_client(token: str | None):
    import httpx2

    return httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=30)


def test_mcp_over_http_needs_the_bearer_token(mcp_http):
    from mcp.client.streamable_http import streamable_http_client

    url = f"{mcp_http}/mcp"
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = httpx.post(url, json=hello, headers={**headers, **auth})
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] == "missing or invalid bearer token"

    async def refused() -> None:
        from mcp import Client

        async with http_client(None) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                await client.list_tools()

    with pytest.raises(BaseException):  # the real client gives up: 401 before any MCP exchange
        asyncio.run(refused())

    async def with_token() -> dict:
        async with http_client(TOKEN) as http:
            return await session_report(streamable_http_client(url, http_client=http))

    check_report(asyncio.run(with_token()))


def test_mcp_http_and_stdio_return_the_same_answer(mcp_http, index, tmp_path):
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def ask(server) -> dict:
        async with Client(server) as client:
            return (await client.call_tool("ask", {"question": "在留カードをなくした"})).structured_content

    async def over_http() -> dict:
        async with http_client("copilot-token-0123456789") as http:  # a KB_SERVE_TOKENS client
            return await ask(streamable_http_client(f"{mcp_http}/mcp", http_client=http))

    stdio = asyncio.run(ask(stdio_params(fake_kb_command("mcp", "--index", str(index)), fake_env(tmp_path / "h"))))
    assert asyncio.run(over_http()) == stdio


@pytest.mark.integration
def test_kb_mcp_with_the_real_model_cites_the_residence_card_section(sample_index, tmp_path):
    """Acceptance: the real `kb mcp` command, real model, sample guidebook."""
    from tests.conftest import MODEL_CACHE

    env = {"KB_HOME": str(tmp_path / "home"), "KB_MODEL_CACHE": str(MODEL_CACHE)}
    command = [sys.executable, str(ROOT / "cli.py"), "mcp", "--index", str(sample_index)]

    async def run() -> dict:
        from mcp import Client

        async with Client(stdio_params(command, env)) as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            return (await client.call_tool("ask", {"question": "在留カードをなくした"})).structured_content

    data = asyncio.run(run())
    assert data["verdict"] != "not_found" and data["sections"]
    top = data["sections"][0]
    assert top["section_id"] == "1.1.3" and top["printed_page"] and top["quoted_sentences"]
