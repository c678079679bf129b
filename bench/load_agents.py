"""The agent side of bench/load_serve.py: MCP tool calls and Teams agent messages as load, and the
fake Bot Connector (loopback) that receives the Teams agent's replies."""
from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KINDS = ("/ask", "mcp", "teams")
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}


class Connector:
    """Answers the Bot Connector calls of the Teams agent and remembers which conversations got a card."""

    def __init__(self) -> None:
        self.cards: set[str] = set()
        self.lock = threading.Lock()
        connector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                activity = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                if activity.get("attachments"):
                    with connector.lock:
                        connector.cards.add(activity.get("conversation", {}).get("id", ""))
                data = b'{"id": "1"}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._ids = itertools.count()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def conversation(self, client: int) -> str:
        return f"a:load-{client}-{next(self._ids)}"  # a fresh chat each time: no follow-up context

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def teams_activity(connector: Connector, conversation: str, text: str) -> dict[str, Any]:
    return {"type": "message", "id": "1", "channelId": "msteams", "serviceUrl": connector.url, "text": text,
            "from": {"id": "29:load", "aadObjectId": conversation}, "recipient": {"id": "28:madoguchi"},
            "conversation": {"id": conversation, "conversationType": "personal", "tenantId": "load-tenant"}}


def agent_request(client: Any, kind: str, query: str, n: int, connector: Any) -> int:
    """One request of ``kind``; 200 when it fully worked (for Teams: the card reached the connector)."""
    if kind == "/ask":
        return client.post("/ask", json={"query": query}).status_code
    if kind == "mcp":
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "ask",
                                                                             "arguments": {"question": query}}}
        response = client.post("/mcp", json=call, headers=MCP_HEADERS)
        ok = response.status_code == 200 and not response.json().get("result", {}).get("isError", True)
        return 200 if ok else (response.status_code if response.status_code != 200 else 500)
    conversation = connector.conversation(n)
    # anonymous mode: an empty Authorization header replaces the client's bearer token
    response = client.post("/api/messages", json=teams_activity(connector, conversation, query),
                           headers={"Authorization": ""})
    with connector.lock:
        delivered = conversation in connector.cards
    return 200 if response.status_code == 202 and delivered else (response.status_code if response.status_code != 202 else 500)
