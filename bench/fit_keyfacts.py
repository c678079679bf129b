"""Fit the key-sentence selector (answer/extract.py) on labelled key facts, and measure key-fact recall.

``eval/key_facts.jsonl`` names, per question, the section that answers it and the facts a desk
worker must tell (each a list of alternative verbatim strings). For the dev lines, every sentence of
the gold section in the answer edition is a training example: positive when it contains one of the
facts. The selector is a logistic model over the product's own sentence features
(``answer.extract.sentence_features``). Then ``kb.ask`` is run end to end (retrieval included) and
the share of facts its quoted sentences contain is reported per edition, for dev and, separately,
for the held-out lines (never used to fit or choose). Usage:

    python bench/fit_keyfacts.py [--index DIR] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from answer.ask import section_passage  # noqa: E402
from answer.extract import FEATURES, WEIGHTS, sentence_features  # noqa: E402
from bench.common import ROOT, fit_logistic, machine  # noqa: E402
from kb import KnowledgeBase  # noqa: E402
from kb.model import Hit  # noqa: E402

FACTS = ROOT / "eval" / "key_facts.jsonl"


def training_sentences(kb: KnowledgeBase, rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    retriever = kb._retriever
    xs, ys = [], []
    for row in rows:
        found = retriever.version.store.section(row["answer_lang"], row["section"], subsections=False)
        if not found:
            continue
        query = retriever.prepare(row["question"])
        passage = section_passage(retriever, Hit(1, 1.0, next(iter(found.values()))), row["answer_lang"], query.vector)
        spans, x = sentence_features(passage, query, retriever.sentence_vectors, retriever.version.keyword)
        text = passage.hit.chunk.text
        xs.append(x)
        ys.append([any(alt in text[a:b] for fact in row["facts"] for alt in fact) for a, b in spans])
    return np.concatenate(xs), np.concatenate([np.array(y, dtype=float) for y in ys])


def fit(x: np.ndarray, y: np.ndarray, l2: float = 0.01) -> np.ndarray:
    """Logistic regression weights in raw feature units, the bias last."""
    weights, bias = fit_logistic(x, y, l2)
    return np.r_[weights, bias]


def recall(kb: KnowledgeBase, rows: list[dict]) -> dict[str, dict[str, float]]:
    per: dict[str, list[float]] = defaultdict(list)
    sentences: list[int] = []
    for row in rows:
        answer = kb.ask(row["question"], lang=row["answer_lang"])
        text = " ".join(s.text for s in answer.sentences)
        per[row["answer_lang"]].append(sum(any(a in text for a in f) for f in row["facts"]) / len(row["facts"]))
        sentences.append(len(answer.sentences))
    every = [v for vs in per.values() for v in vs]
    out = {lang: {"n": len(v), "recall": round(sum(v) / len(v), 4)} for lang, v in sorted(per.items())}
    return {"all": {"n": len(every), "recall": round(sum(every) / len(every), 4),
                    "sentences": round(sum(sentences) / len(sentences), 2)}, **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [json.loads(line) for line in FACTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    kb = KnowledgeBase.open(args.index)
    x, y = training_sentences(kb, [r for r in rows if r["split"] == "dev"])
    fitted = fit(x, y)
    report = {"machine": machine(), "features": list(FEATURES), "fitted_weights": [round(float(w), 4) for w in fitted],
              "product_weights": WEIGHTS.tolist(), "training_sentences": int(len(y)),
              "recall (product selector, end to end)": {
                  split: recall(kb, [r for r in rows if r["split"] == split]) for split in ("dev", "heldout")}}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"# {report['machine']}\n# fit on {len(y)} sentences of the dev sections ({int(y.sum())} with a key fact)")
    print("weights: " + ", ".join(f"{f} {w:.4f}" for f, w in zip([*FEATURES, "bias"], fitted)))
    for split, m in report["recall (product selector, end to end)"].items():
        print(f"{split}: " + ", ".join(f"{lang} {v['recall']:.3f} (n={v['n']})" for lang, v in m.items())
              + f"; {m['all']['sentences']} sentences per answer")


if __name__ == "__main__":
    main()
