"""Local stand-ins and runners for tests: a real uvicorn server on loopback, and the `kb` command
with the fake embedder (a subprocess cannot see a model registered in the test process)."""
from __future__ import annotations

import socket
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
# `python -c FAKE_KB mcp --index …`: the real CLI, with the "fake" model registered first.
FAKE_KB = ("import sys; sys.path.insert(0, %r); from index.embed import ModelSpec, register_model; "
           "from tests.fakes import FakeEmbedder; fake = FakeEmbedder(); "
           "register_model('fake', ModelSpec(identity=lambda: FakeEmbedder.model_id, "
           "factory=lambda threads, batch: fake)); import cli; sys.argv[0] = 'kb'; cli.main()" % str(ROOT))


def fake_kb_command(*args: str) -> list[str]:
    return [sys.executable, "-c", FAKE_KB, *args]


@contextmanager
def uvicorn_server(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread (lifespan included); yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
