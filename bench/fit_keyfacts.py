"""Fit the key-sentence selector (answer/extract.py) on labelled key facts, and measure key-fact recall.

``eval/key_facts.jsonl`` names, per question, the section that answers it and the facts a desk
worker must tell (each a list of alternative verbatim strings). For the dev lines, every sentence of
the gold section in the answer edition is a training example: positive when it contains one of the
facts. The selector is a logistic model over the product's own sentence features
(``answer.extract.sentence_features``); its 5-fold cross-validated recall with the gold section given
is reported at 3, 4 and 5 sentences (what sentence choice alone can do). Then ``kb.ask`` is run end to end (retrieval included) and
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


def gold_sections(kb: KnowledgeBase, rows: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per row with its gold section in the answer edition: (the section's sentence features,
    a facts x sentences mask of which sentence contains which fact)."""
    retriever = kb._retriever
    out = []
    for row in rows:
        found = retriever.version.store.section(row["answer_lang"], row["section"], subsections=False)
        if not found:
            continue
        query = retriever.prepare(row["question"])
        passage = section_passage(retriever, Hit(1, 1.0, next(iter(found.values()))), row["answer_lang"], query.vector)
        spans, x = sentence_features(passage, query, retriever.sentence_vectors, retriever.version.keyword)
        text = passage.hit.chunk.text
        out.append((x, np.array([[any(alt in text[a:b] for alt in fact) for a, b in spans] for fact in row["facts"]],
                                dtype=bool).reshape(len(row["facts"]), len(spans))))
    return out


def training_sentences(groups: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Every sentence of the gold sections, positive when it contains one of the facts."""
    return (np.concatenate([x for x, _ in groups]),
            np.concatenate([facts.any(0) for _, facts in groups]).astype(float))


def cross_validated(groups: list[tuple[np.ndarray, np.ndarray]], budgets=(3, 4, 5), folds: int = 5) -> dict[int, float]:
    """Key-fact recall of the selector alone (gold section given), fitted on the other folds' rows,
    at each sentence budget: what sentence choice can do, apart from retrieval."""
    found = dict.fromkeys(budgets, 0)
    total = 0
    for f in range(folds):
        train = [g for i, g in enumerate(groups) if i % folds != f]
        w = fit(*training_sentences(train))
        for x, facts in (g for i, g in enumerate(groups) if i % folds == f):
            order = np.argsort(-(x @ w[:-1] + w[-1]), kind="stable")
            total += len(facts)
            for k in budgets:
                found[k] += int(facts[:, order[:k]].any(1).sum())
    return {k: round(v / max(1, total), 4) for k, v in found.items()}


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
    groups = gold_sections(kb, [r for r in rows if r["split"] == "dev"])
    x, y = training_sentences(groups)
    fitted = fit(x, y)
    report = {"machine": machine(), "features": list(FEATURES), "fitted_weights": [round(float(w), 4) for w in fitted],
              "product_weights": WEIGHTS.tolist(), "training_sentences": int(len(y)),
              "dev, gold section given, 5-fold CV recall by budget": cross_validated(groups),
              "recall (product selector, end to end)": {
                  split: recall(kb, [r for r in rows if r["split"] == split]) for split in ("dev", "heldout")}}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"# {report['machine']}\n# fit on {len(y)} sentences of the dev sections ({int(y.sum())} with a key fact)")
    print("weights: " + ", ".join(f"{f} {w:.4f}" for f, w in zip([*FEATURES, "bias"], fitted)))
    print("dev, gold section given, 5-fold CV: " + ", ".join(
        f"{k} sentences {v:.3f}" for k, v in report["dev, gold section given, 5-fold CV recall by budget"].items()))
    for split, m in report["recall (product selector, end to end)"].items():
        print(f"{split}: " + ", ".join(f"{lang} {v['recall']:.3f} (n={v['n']})" for lang, v in m.items())
              + f"; {m['all']['sentences']} sentences per answer")


if __name__ == "__main__":
    main()
