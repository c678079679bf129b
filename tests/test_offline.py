"""No outbound connection unless configured (issue 14, finding 3): `kb sync`, `kb ask` and `kb serve`
run with every proxy variable pointed at a local listener that counts connections, and, where strace
is installed, with every connect() traced."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from kb.offline import QUIET_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[1]
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def test_telemetry_is_off_before_onnxruntime_is_imported():
    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENVIRONMENT}
    code = ("import sys, os; import index.embed.onnx_runtime, ingest.loader, cli; import onnxruntime; "
            "print(' '.join(os.environ.get(k, '-') for k in sorted(%r)))" % sorted(QUIET_ENVIRONMENT))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [QUIET_ENVIRONMENT[k] for k in sorted(QUIET_ENVIRONMENT)]


def test_an_operator_setting_is_kept():
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "0"}
    done = subprocess.run([sys.executable, "-c", "import kb, os; print(os.environ['ORT_DISABLE_TELEMETRY'])"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "0"


class Listener:
    """A TCP listener that counts (and drops) every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.seen: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(1)
            try:
                self.seen.append(conn.recv(200))
            except OSError:
                self.seen.append(b"")
            conn.close()


def _outbound(trace: Path) -> list[str]:
    """connect() calls to anything but loopback and local sockets, from an strace -f log."""
    lines = trace.read_text(errors="replace").splitlines() if trace.exists() else []
    calls = [ln for ln in lines if "connect(" in ln and ("AF_INET" in ln)]
    return [ln for ln in calls if not re.search(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"', ln)]


@pytest.mark.integration
def test_sync_ask_and_serve_make_no_outbound_connection(tmp_path):
    from tests.conftest import MODEL_CACHE

    listener = Listener()
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text("# 第1章 在留\n## 1 在留カード\n在留カードをなくしたときは、14日以内に再交付を申請します。\n",
                              encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENVIRONMENT and not k.startswith("KB_")}
    env.update({name: f"http://127.0.0.1:{listener.port}" for name in PROXY_VARIABLES})
    env.pop("NO_PROXY", None), env.pop("no_proxy", None)
    env.update(KB_HOME=str(tmp_path / "home"), KB_MODEL_CACHE=str(MODEL_CACHE), PYTHONPATH=str(ROOT))
    strace = shutil.which("strace")

    def kb(*args: str, trace: str) -> list[str]:
        prefix = [strace, "-f", "-qq", "-e", "trace=connect", "-o", str(tmp_path / trace)] if strace else []
        return [*prefix, sys.executable, "-c", "import cli; cli.main()", *args]

    index = str(tmp_path / "idx")
    for trace, args in (("sync", ("sync", str(src), "--index", index)),
                        ("ask", ("ask", "在留カードをなくした", "--index", index, "--json"))):
        done = subprocess.run(kb(*args, trace=trace), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(kb("serve", "--index", index, "--port", str(port), trace="serve"), cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30) as client:
            deadline = time.time() + 120
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.time() < deadline and server.poll() is None, "kb serve did not start"
                time.sleep(0.2)
            assert client.post("/ask", json={"query": "在留カードをなくした"}).status_code == 200
            time.sleep(2)  # room for anything the server would send in the background
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server, and strace around it
        server.wait(timeout=60)
    time.sleep(0.5)
    assert listener.seen == []
    for trace in ("sync", "ask", "serve"):
        assert _outbound(tmp_path / trace) == [], trace
