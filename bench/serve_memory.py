"""Peak memory of a `kb serve` worker under requests, and what each part costs.

    python bench/serve_memory.py --index IDX                      # this tree's `kb serve` on IDX
    python bench/serve_memory.py --index IDX --tree OLD --tree-index OLD_IDX   # and an older tree's
    python bench/serve_memory.py --index IDX --processes 2        # per worker of a 2-process server

Starts the server, sends ``--requests`` /ask and /search calls (Japanese, English, Vietnamese
questions, 2 clients), then reads each worker's /proc status: peak RSS (VmHWM), and now: anonymous
memory (the process's own) and file-backed pages (memory-mapped model and index files, shared by
every process that maps them and dropped by the kernel under pressure). ``--parts`` measures, in a
fresh process, what the tokenizer, the ONNX session, the open index and the first questions add.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, machine, model_cache  # noqa: E402
from bench.load_serve import free_port, wait_healthy  # noqa: E402
from bench.query_latency import QUERIES  # noqa: E402

TOKEN = "memory-bench"


def proc_memory(pid: int) -> dict[str, float]:
    """MiB: VmHWM (peak RSS), VmRSS, RssAnon, RssFile, and Pss (proportional: a page shared by n
    mappings or processes counts 1/n; each thread's MeCab tagger maps the dictionary again, which RSS
    counts once per mapping) of a live process."""
    out = {}
    for name in ("status", "smaps_rollup"):
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            key = line.split(":")[0]
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "Pss", "Pss_Anon", "Pss_File"):
                out[key] = round(int(line.split()[1]) / 1024, 1)
    return out


def workers_of(pid: int) -> list[int]:
    """The server itself, or its worker processes when it supervises some."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if "python" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="ignore")] \
        or [pid]


def serve_peak(tree: Path, index: Path, env: dict, requests: int, processes: int) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, str(tree / "cli.py"), "serve", "--index", str(index), "--port", str(port)]
    if processes > 1:
        cmd += ["--processes", str(processes)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import httpx

        wait_healthy(base, proc, 300)
        time.sleep(1.0)  # let every worker finish opening
        budget = [requests]
        lock = threading.Lock()

        def client(n: int) -> None:
            with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
                i = n
                while True:
                    with lock:
                        if budget[0] <= 0:
                            return
                        budget[0] -= 1
                    c.post("/ask" if i % 2 else "/search", json={"query": QUERIES[i % len(QUERIES)]}).raise_for_status()
                    i += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        workers = workers_of(proc.pid)
        return {"workers": [proc_memory(w) for w in workers],
                "supervisor": proc_memory(proc.pid) if workers != [proc.pid] else None}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


PARTS = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
index, cache = Path(sys.argv[2]), Path(sys.argv[3])
def mem():
    d = {l.split(":")[0]: int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith(("VmRSS", "RssAnon", "RssFile"))}
    return d
steps, last = [], mem()
def step(name):
    global last
    now = mem()
    steps.append([name, round(now["VmRSS"] - last["VmRSS"], 1), round(now["RssAnon"] - last["RssAnon"], 1), round(now["VmRSS"], 1)])
    last = now
step("python")
import numpy, faiss, onnxruntime, fastapi, uvicorn, fugashi  # noqa
from kb import KnowledgeBase
import serve.app  # noqa
step("imports (numpy, faiss, onnxruntime, fastapi, uvicorn, fugashi, kb, serve)")
from index.embed.e5convert import converted_dir
from index.embed.registry import export_name
folder = cache / export_name(converted_dir(cache), "onnx-int8")  # the export this tree reads
tables = folder / "e5_tokenizer.npz"
if tables.exists():
    from index.embed.unigram import E5Tokenizer
    tok = E5Tokenizer(tables, 512)
else:
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
step("tokenizer (" + ("plain Python tables" if tables.exists() else "tokenizers, tokenizer.json") + ")")
import onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.log_severity_level = 3
o.add_session_config_entry("session.intra_op.allow_spinning", "0")
sess = ort.InferenceSession(str(folder / "model.onnx"), o, providers=["CPUExecutionProvider"])
step("ONNX session (" + folder.name + ")")
del sess, tok
from index.version import open_version
version = open_version(index)
step("index opened (open_version)")
kb = KnowledgeBase.open(index)
step("KnowledgeBase.open (its own tokenizer + session)")
kb.ask("在留カードをなくしたらどうすればいいですか")
step("first Japanese ask")
kb.ask("I lost my residence card")
step("first English ask (language identification model)")
for q in ["国民健康保険に入る手続", "How do I pay resident tax?", "Tôi bị mất thẻ cư trú"] * 5:
    kb.ask(q)
step("15 more asks")
print(json.dumps(steps))
"""


def parts(tree: Path, index: Path, env: dict) -> list:
    done = subprocess.run([sys.executable, "-c", PARTS, str(tree), str(index), env["KB_MODEL_CACHE"]], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--tree", type=Path, help="another checkout to measure the same way")
    ap.add_argument("--tree-index", type=Path, help="an index in the other tree's format")
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--parts", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = {**os.environ, "KB_SERVE_TOKEN": TOKEN}
    env.setdefault("KB_MODEL_CACHE", str(model_cache()))
    runs = ([(args.tree, args.tree_index)] if args.tree else []) + [(ROOT, args.index)]
    report = {"machine": machine(), "requests": args.requests, "processes": args.processes, "trees": {}}
    for tree, index in runs:
        entry = serve_peak(tree, index, env, args.requests, args.processes)
        if args.parts:
            entry["parts"] = parts(tree, index, env)
        report["trees"][str(tree)] = entry
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"# {report['machine']}\n# {args.requests} requests (/ask and /search, ja/en/vi), {args.processes} process(es)")
    print("| tree | index | worker | peak RSS (VmHWM) MiB | now: RSS anonymous / file-backed | PSS |\n"
          "|---|---|---|---|---|---|")
    for (tree, index), entry in zip(runs, report["trees"].values()):
        rows = [(str(n + 1), w) for n, w in enumerate(entry["workers"])]
        for name, w in rows + ([("supervisor", entry["supervisor"])] if entry["supervisor"] else []):
            print(f"| {tree} | {index} | {name} | {w['VmHWM']} | {w['RssAnon']} / {w['RssFile']} | {w.get('Pss')} |")
        for name, rss, anon, total in entry.get("parts", []):
            print(f"|  | part | {name} | +{rss} (anonymous +{anon}) | total {total} |")


if __name__ == "__main__":
    main()
