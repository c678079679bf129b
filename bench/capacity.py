"""Capacity of `kb serve`: throughput and latency per endpoint as concurrent clients grow.

    python bench/capacity.py --index IDX                           # /search, /ask, /teams, /mcp; 1-8 clients
    python bench/capacity.py --index IDX --processes 2 --clients 2 4 8 16 --seconds 20

One server (``--processes`` worker processes, ``KB_SERVE_WORKERS`` threads each) on an existing index,
keep-alive clients on the same machine (they use CPU too: figures are a floor for a dedicated
server). For each endpoint and client count: requests per second, p50/p95/p99, errors. The capacity
of an endpoint is the highest throughput whose p95 stays within ``--p95-ms`` (150). /teams is the
Microsoft Teams bot path (signed webhook -> ask -> Adaptive Card in the reply); /mcp is one stateless
MCP ``tools/call`` of ``ask``; a Slack message costs the same ask and a Block Kit rendering, but answers
through Slack's API, so it is not timed here. The per-person chat rate limit is lifted for the run.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, machine, model_cache  # noqa: E402
from bench.load_serve import free_port, wait_healthy  # noqa: E402
from bench.query_latency import QUERIES, percentile  # noqa: E402

TOKEN = "capacity-bench"
TEAMS_SECRET = base64.b64encode(b"capacity-bench-teams-secret-0123").decode()


def request_for(endpoint: str, question: str) -> tuple[bytes, dict[str, str]]:
    if endpoint == "/teams":
        from serve.teams import signature, teams_key

        body = json.dumps({"type": "message", "text": f"<at>Madoguchi</at> {question}"}).encode()
        return body, {"Authorization": f"HMAC {signature(teams_key(TEAMS_SECRET), body)}",
                      "Content-Type": "application/json"}
    if endpoint == "/mcp":
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "ask", "arguments": {"question": question}}}
        return json.dumps(body).encode(), {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
                                           "Accept": "application/json, text/event-stream"}
    return json.dumps({"query": question}).encode(), {"Authorization": f"Bearer {TOKEN}",
                                                      "Content-Type": "application/json"}


def window(base: str, endpoint: str, clients: int, seconds: float) -> dict:
    import httpx

    samples: list[tuple[float, int]] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(n: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as c:
            i = n
            while time.perf_counter() < stop:
                body, headers = request_for(endpoint, QUERIES[i % len(QUERIES)])
                started = time.perf_counter()
                try:
                    status = c.post(endpoint, content=body, headers=headers).status_code
                except httpx.HTTPError:
                    status = 0
                with lock:
                    samples.append(((time.perf_counter() - started) * 1e3, status))
                i += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    ok = [ms for ms, status in samples if status == 200]
    return {"clients": clients, "requests": len(samples), "errors": len(samples) - len(ok),
            "rps": round(len(samples) / elapsed, 1), "p50": round(statistics.median(ok), 1) if ok else None,
            "p95": round(percentile(ok, 0.95), 1) if ok else None, "p99": round(percentile(ok, 0.99), 1) if ok else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--endpoints", nargs="+", default=["/search", "/ask", "/teams", "/mcp"])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2, help="KB_SERVE_WORKERS: kb calls at once per process")
    ap.add_argument("--p95-ms", type=float, default=150.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = {**os.environ, "KB_SERVE_TOKEN": TOKEN, "TEAMS_SHARED_SECRET": TEAMS_SECRET,
           "KB_SERVE_WORKERS": str(args.workers), "KB_CHAT_RATE_PER_MINUTE": "1000000"}
    env.setdefault("KB_MODEL_CACHE", str(model_cache()))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--index", str(args.index), "--port",
                             str(port), "--processes", str(args.processes)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results: dict[str, list[dict]] = {}
    try:
        wait_healthy(base, proc, 300)
        for endpoint in args.endpoints:  # warm-up: every worker pays its lazy loading here
            window(base, endpoint, max(args.clients), 3.0)
        for endpoint in args.endpoints:
            results[endpoint] = [window(base, endpoint, n, args.seconds) for n in args.clients]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    capacity = {e: max((r["rps"] for r in rs if r["p95"] is not None and r["p95"] <= args.p95_ms and not r["errors"]),
                       default=0.0) for e, rs in results.items()}
    cores = os.cpu_count() or 1
    out = {"machine": machine(), "index": str(args.index), "processes": args.processes, "workers": args.workers,
           "seconds": args.seconds, "p95_ms": args.p95_ms, "results": results, "capacity_rps": capacity,
           "capacity_rps_per_core": {e: round(v / cores, 1) for e, v in capacity.items()}}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"# {out['machine']}\n# {args.index}; {args.processes} process(es) x {args.workers} threads; "
          f"{args.seconds:g} s per window; clients on the same machine")
    print("| endpoint | clients | req/s | p50 ms | p95 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|")
    for endpoint, rs in results.items():
        for r in rs:
            print(f"| {endpoint} | {r['clients']} | {r['rps']} | {r['p50']} | {r['p95']} | {r['p99']} | {r['errors']} |")
    for endpoint, rps in capacity.items():
        print(f"capacity {endpoint}: {rps} req/s at p95 <= {args.p95_ms:g} ms ({rps / cores:.1f} per core, {cores} cores)")


if __name__ == "__main__":
    main()
