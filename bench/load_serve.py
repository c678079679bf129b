"""Load test of `kb serve`: concurrent clients on loopback while a re-index publishes a new version.

    python bench/load_serve.py                               # index built from data/guidebook/ja
    python bench/load_serve.py --clients 8 --duration 30 --endpoint mix --json
    python bench/load_serve.py --clients 8 --endpoint agents    # /ask, MCP tools/call, Teams agent messages

Starts `kb serve` as its own process (clients and server don't share a GIL), runs ``--clients``
threads for ``--duration`` seconds (or ``--requests`` in all), and at ``--reindex-at`` of the run
edits one source file and runs `kb sync`, which publishes a new version; the service should pick
it up within ``--reload-every`` seconds without errors. Uses the real model from the cache `kb`
itself uses (bench.common.model_cache), converting it there on first use.

``--endpoint agents`` rotates three kinds of request: ``/ask``, an MCP ``tools/call`` of ``ask`` on
/mcp (one stateless JSON-RPC POST, as an agent sends it), and a Teams agent message on /api/messages
(the agent in its loopback-only anonymous mode; its typing indicator and card go to a fake Bot
Connector in this process). Per-kind figures are reported; a bot turn counts as an error unless its
card reached the connector.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, machine, model_cache  # noqa: E402
from bench.query_latency import QUERIES, percentile  # noqa: E402
from bench.load_agents import KINDS, Connector, agent_request  # noqa: E402

CLI = [sys.executable, str(ROOT / "cli.py")]
ADDED = "\n\n（改訂）在留カードの再交付申請は、オンラインでも受け付けています。\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float) -> dict:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"kb serve exited with code {proc.returncode}")
        try:
            return httpx.get(f"{base}/health", timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.25)
    raise SystemExit(f"kb serve did not become healthy within {timeout:.0f} s")


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: list[tuple[float, float, int, str]] = []  # (start s, latency ms, status (0 = exception), kind)
        self.versions: list[tuple[float, str | None, str]] = []  # (offset s, CURRENT on disk, /health version)

    def add(self, start: float, ms: float, status: int, kind: str = "") -> None:
        with self.lock:
            self.samples.append((start, ms, status, kind))


def client_loop(base: str, endpoint: str, t0: float, stop: threading.Event, budget: list[int],
                rec: Recorder, n: int, token: str | None, connector: Connector | None = None) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=base, timeout=30, headers=headers) as client:
        i = n
        while not stop.is_set():
            with rec.lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            path = endpoint if endpoint != "mix" else ("/ask" if i % 2 else "/search")
            kind = KINDS[i % len(KINDS)] if endpoint == "agents" else path
            query = QUERIES[i % len(QUERIES)]
            started = time.perf_counter()
            try:
                if endpoint == "agents":
                    status = agent_request(client, kind, query, n, connector)
                else:
                    status = client.post(path, json={"query": query}).status_code
            except httpx.HTTPError:
                status = 0
            rec.add(started - t0, (time.perf_counter() - started) * 1e3, status, kind)
            i += 1


def watch_versions(base: str, index: Path, t0: float, stop: threading.Event, rec: Recorder) -> None:
    """Every 0.1 s: the version published on disk and the one the service answers from."""
    import httpx

    from index.layout import IndexLayout

    layout = IndexLayout(index)
    while not stop.is_set():
        live = layout.current()
        try:
            served = httpx.get(f"{base}/health", timeout=5).json()["version"]
        except httpx.HTTPError:
            served = "?"
        rec.versions.append((time.perf_counter() - t0, live.name if live else None, served))
        stop.wait(0.1)


def summarize(samples: list[tuple[float, float, int, str]], seconds: float) -> dict:
    ok = [ms for _, ms, status, _ in samples if status == 200]
    return {"requests": len(samples), "errors": sum(1 for s in samples if s[2] != 200),
            "throughput_rps": round(len(samples) / seconds, 2) if seconds > 0 else 0.0,
            "p50_ms": round(statistics.median(ok), 1) if ok else None,
            "p95_ms": round(percentile(ok, 0.95), 1) if ok else None,
            "p99_ms": round(percentile(ok, 0.99), 1) if ok else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=ROOT / "data" / "guidebook" / "ja")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of load (upper bound)")
    ap.add_argument("--requests", type=int, default=100_000, help="requests in all (upper bound)")
    ap.add_argument("--endpoint", choices=("/ask", "/search", "mix", "agents"), default="/ask")
    ap.add_argument("--reindex-at", type=float, default=0.4, help="fraction of --duration; <0: no re-index")
    ap.add_argument("--reload-every", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2, help="KB_SERVE_WORKERS (threads per process)")
    ap.add_argument("--processes", type=int, default=1, help="KB_SERVE_PROCESSES (kb serve --processes)")
    ap.add_argument("--startup-timeout", type=float, default=600.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="madoguchi-load-"))
    env = {**os.environ, "KB_HOME": str(work / "home"), "KB_RELOAD_EVERY": str(args.reload_every),
           "KB_SERVE_WORKERS": str(args.workers), "KB_SERVE_PROCESSES": str(args.processes),
           "KB_SERVE_TOKEN": "load-test-token",
           # the bots' per-person limit would refuse a load test; the Teams agent runs without Entra
           "KB_CHAT_RATE_PER_MINUTE": "1000000", "KB_TEAMS_ANONYMOUS": "1", "KB_SERVE_AUDIT_LOG": "off"}
    env.setdefault("KB_MODEL_CACHE", str(model_cache()))
    src, index = work / "src", work / "index"
    shutil.copytree(args.source, src)
    proc = server_log = None
    connector = Connector() if args.endpoint == "agents" else None
    try:
        t = time.perf_counter()
        subprocess.run([*CLI, "sync", str(src), "--index", str(index), "--json"], env=env, check=True,
                       capture_output=True, timeout=args.startup_timeout)
        build_s = time.perf_counter() - t
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        # The server's log goes to a file: a pipe nobody reads fills up and blocks the server's next write.
        server_log = open(work / "serve.log", "wb")
        proc = subprocess.Popen([*CLI, "serve", "--index", str(index), "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=server_log)
        first = wait_healthy(base, proc, args.startup_timeout)["version"]

        import httpx

        for q in QUERIES:  # warm-up: first calls pay lazy loading
            httpx.post(f"{base}/ask", json={"query": q}, timeout=60,
                       headers={"Authorization": "Bearer load-test-token"}).raise_for_status()
        rec, stop, budget = Recorder(), threading.Event(), [args.requests]
        t0 = time.perf_counter()
        threads = [threading.Thread(target=client_loop, args=(base, args.endpoint, t0, stop, budget, rec, n,
                                                              "load-test-token", connector), daemon=True)
                   for n in range(args.clients)]
        threads.append(threading.Thread(target=watch_versions, args=(base, index, t0, stop, rec), daemon=True))
        for th in threads:
            th.start()
        reindex: dict = {}
        if args.reindex_at >= 0:
            time.sleep(args.duration * args.reindex_at)
            target = sorted(src.rglob("*.md"))[0]  # a file of the first edition when editions are folders
            target.write_text(target.read_text(encoding="utf-8") + ADDED, encoding="utf-8")
            reindex["start_s"] = round(time.perf_counter() - t0, 2)
            done = subprocess.run([*CLI, "sync", str(src), "--index", str(index), "--json"], env=env,
                                  capture_output=True, text=True, timeout=args.startup_timeout, check=True)
            reindex["sync_exit_s"] = round(time.perf_counter() - t0, 2)
            report = json.loads(done.stdout)
            reindex.update(version=report["version"], embedded=report["embedded"])
        deadline = t0 + args.duration
        while time.perf_counter() < deadline and any(th.is_alive() for th in threads[:-1]):
            time.sleep(0.1)
        stop.set()
        for th in threads:
            th.join(timeout=60)
        seconds = time.perf_counter() - t0
        status = httpx.get(f"{base}/status", headers={"Authorization": "Bearer load-test-token"}, timeout=60).json()
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if connector is not None:
            connector.close()
        if server_log is not None:
            server_log.close()
            if proc is not None and sys.exc_info()[0] is not None:  # failing: show why the server failed
                sys.stderr.write((work / "serve.log").read_text(errors="replace")[-4000:])
        shutil.rmtree(work, ignore_errors=True)

    if reindex:
        new = reindex["version"]
        published = next((t for t, live, _ in rec.versions if live == new), reindex["sync_exit_s"])
        served = next((t for t, _, v in rec.versions if v == new), None)
        end = served or reindex["sync_exit_s"]
        reindex.update(published_s=round(published, 2), served_s=round(served, 2) if served else None,
                       switch_after_publish_s=round(served - published, 2) if served else None)
        reindex["during"] = summarize([x for x in rec.samples if reindex["start_s"] <= x[0] <= end],
                                      end - reindex["start_s"])
    out = {"machine": machine(), "chunks": status["chunks"], "model": status["model"], "build_s": round(build_s, 1),
           "clients": args.clients, "workers": args.workers, "processes": args.processes, "endpoint": args.endpoint, "seconds": round(seconds, 1),
           "first_version": first, "final_version": status["serving_version"],
           "live_version": status["live_version"], "overall": summarize(rec.samples, seconds), "reindex": reindex,
           "kinds": {kind: summarize([x for x in rec.samples if x[3] == kind], seconds)
                     for kind in sorted({x[3] for x in rec.samples})}}
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return
    o = out["overall"]
    print(f"# {out['machine']}\n# {out['chunks']} chunks, model {out['model']}; {args.clients} clients -> "
          f"{args.endpoint}, {args.processes} process(es) x {args.workers} threads, {out['seconds']} s")
    print("| window | requests | errors | req/s | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|---|")
    rows = [("whole run", o)] + ([("during re-index", reindex["during"])] if reindex else [])
    rows += [(f"{kind} (whole run)", r) for kind, r in out["kinds"].items()] if len(out["kinds"]) > 1 else []
    for name, r in rows:
        print(f"| {name} | {r['requests']} | {r['errors']} | {r['throughput_rps']} | {r['p50_ms']} | "
              f"{r['p95_ms']} | {r['p99_ms']} |")
    if reindex:
        print(f"re-index (`kb sync`, {reindex['embedded']} passage(s) embedded): started {reindex['start_s']} s, "
              f"{reindex['version']} published at {reindex['published_s']} s, served from {reindex['served_s']} s "
              f"(+{reindex['switch_after_publish_s']} s); final serving {out['final_version']} "
              f"(live {out['live_version']})")


if __name__ == "__main__":
    main()
