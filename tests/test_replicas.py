"""Replicas: serving processes that share nothing but the published index keep answering through a
`kb sync` and switch to the new version by themselves (one `kb serve`, and one with two uvicorn workers)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from kb import KnowledgeBase
from tests.conftest import JA, ROOT, write_sources

# Every process started here (and the uvicorn workers they spawn) registers the fake model first.
SITECUSTOMIZE = """
from index.embed import ModelSpec, register_model
from tests.fakes import FakeEmbedder
_fake = FakeEmbedder()
register_model("fake", ModelSpec(identity=lambda: FakeEmbedder.model_id, factory=lambda threads, batch: _fake))
"""
RELOAD_EVERY = 0.5
TOKEN = "replica-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def versions(base: str, n: int) -> set[str]:
    """The versions ``n`` fresh connections are answered from (several workers may share a port)."""
    seen = set()
    for _ in range(n):
        with httpx.Client(base_url=base, timeout=10) as client:
            seen.add(client.get("/health").json()["version"])
    return seen


def test_two_servers_answer_through_a_sync_and_both_switch_within_reload_every(tmp_path, fake_embedder):
    src = write_sources(tmp_path / "src", {"ja": JA})
    index = tmp_path / "idx"
    first = KnowledgeBase.sync([src], index=index).version
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)]),
           "KB_RELOAD_EVERY": str(RELOAD_EVERY), "KB_SERVE_TOKEN": TOKEN}
    bases, procs = [], []
    try:
        for processes in (1, 2):  # a plain `kb serve`, and one with two worker processes on one port
            port = free_port()
            procs.append(subprocess.Popen(
                [sys.executable, str(ROOT / "cli.py"), "serve", "--index", str(index), "--port", str(port),
                 "--processes", str(processes)], cwd=tmp_path, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            bases.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 120
        while not all(_healthy(b) for b in bases):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
                [p.stderr.read().decode()[-2000:] for p in procs if p.poll() is not None]
            time.sleep(0.2)
        assert all(versions(b, 4) == {first} for b in bases)

        statuses: list[int] = []
        stop = threading.Event()

        def load(base: str) -> None:  # keeps every worker busy, so each notices the new version
            # A new connection per request: a kept-alive one stays with one worker of a port.
            with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {TOKEN}"},
                              limits=httpx.Limits(max_keepalive_connections=0)) as client:
                while not stop.is_set():
                    try:
                        statuses.append(client.post("/search", json={"query": "在留カード 紛失"}).status_code)
                    except httpx.HTTPError:
                        statuses.append(0)

        clients = [threading.Thread(target=load, args=(b,), daemon=True) for b in bases for _ in range(2)]
        for c in clients:
            c.start()
        time.sleep(0.5)
        path = src / "ja" / "01.md"
        path.write_text(JA.replace("14日以内", "十四日以内"), encoding="utf-8")
        new = KnowledgeBase.sync([src], index=index).version  # publishes while both answer
        published = time.monotonic()
        while not all(versions(b, 4) == {new} for b in bases):
            assert time.monotonic() - published < RELOAD_EVERY + 1.0, [versions(b, 4) for b in bases]
            time.sleep(0.05)
        time.sleep(0.3)
        stop.set()
        for c in clients:
            c.join(timeout=30)
        assert statuses and set(statuses) == {200}, f"{len([s for s in statuses if s != 200])} errors"
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_socket_mode_is_refused_with_several_processes(index, monkeypatch):
    from kb.errors import ConfigError
    from serve.app import run

    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    with KnowledgeBase.open(index) as kb, pytest.raises(ConfigError, match="socket mode"):
        run(kb, "127.0.0.1", free_port(), processes=2, say=lambda _: None)


def test_pull_publishes_the_builders_live_version_under_its_name(tmp_path, fake_embedder):
    src = write_sources(tmp_path / "src", {"ja": JA})
    builder, replica = tmp_path / "shared-volume", tmp_path / "replica"
    first = KnowledgeBase.sync([src], index=builder).version
    assert KnowledgeBase.pull(builder, replica) == first and KnowledgeBase.pull(builder, replica) is None
    reader = KnowledgeBase.open(replica, reload_every=0.01)
    assert reader.version == first and reader.search("在留カード", k=1).hits
    path = src / "ja" / "01.md"
    path.write_text(JA.replace("14日以内", "十四日以内"), encoding="utf-8")
    second = KnowledgeBase.sync([src], index=builder).version
    assert KnowledgeBase.pull(builder, replica) == second
    time.sleep(0.05)
    assert "十四日以内" in reader.ask("在留カードをなくしたら何日以内").sentences[0].text and reader.version == second
    KnowledgeBase.rollback(builder)  # the builder goes back: the replica follows, without a copy
    assert KnowledgeBase.pull(builder, replica) == first and reader.live_version() == first
    reader.close()
    assert not list((replica / "staging").iterdir())
