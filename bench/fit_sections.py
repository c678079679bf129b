"""Fit the section model's weights (answer/sections.py) on labelled guidebook questions.

For every in-scope question of the training files, the product's own code (``HybridRetriever.
section_evidence``) lists the candidate sections over every edition with their features; the model
is a conditional logit (a softmax over each question's candidates; a several-part question's gold
sections share the probability mass), L2-regularised, fitted with L-BFGS on standardised features.
It reports the fit on the training questions, a 5-fold cross-validation over them, and the check
sets (never used to fit). Usage:

    python bench/fit_sections.py                         # fit on the default dev files, report
    python bench/fit_sections.py --check ../shared/eval/consultations/dev.jsonl
    python bench/fit_sections.py --index DIR --json

Held-out questions (``"split": "heldout"``) are never read unless named with --check, and then only
reported.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from answer.evaluate import Question, load_questions, matches  # noqa: E402
from answer.metrics import summarize  # noqa: E402
from answer.sections import FEATURES, WEIGHTS  # noqa: E402
from bench.common import ROOT, fit_softmax, machine  # noqa: E402
from kb import KnowledgeBase  # noqa: E402
from kb.model import Chunk  # noqa: E402

TRAIN = [(ROOT / "eval" / "consultations.jsonl", "dev"), (ROOT / "eval" / "guidebook_questions.jsonl", None)]


def key_chunk(key: str) -> Chunk:
    """A stand-in chunk for a section key, so gold targets match as ``kb eval`` matches them."""
    return Chunk(key, key.split("#")[0], "", "", "", "", (), key if "#" not in key else key.split("#", 1)[1])


def examples(kb: KnowledgeBase, questions: list[Question]) -> list[tuple[Question, list[str], np.ndarray, np.ndarray]]:
    """(question, candidate keys, features, gold mask) per in-scope question."""
    out = []
    retriever = kb._retriever
    for q in questions:
        if not q.in_scope:
            continue
        scored = retriever.section_evidence(q.question)
        gold = np.array([any(matches(g, key_chunk(k)) for g in q.gold if isinstance(g, str)) for k in scored.keys])
        out.append((q, scored.keys, scored.features, gold))
    return out


def fit(data, l2: float = 0.05) -> np.ndarray:
    """Weights in raw feature units (standardised while fitting)."""
    return fit_softmax([(x, g) for _, _, x, g in data], l2)


def evaluate(data, weights: np.ndarray) -> dict[str, float]:
    """R@1, R@5, cover@5 of the reordered candidates (a gold not among them is a miss)."""
    lists, golds = [], []
    for q, keys, x, g in data:
        order = np.argsort(-(x @ weights), kind="stable")
        gold_ids = [i for i in range(len(q.gold))]
        ranked = []
        for i in order[:10]:
            chunk = key_chunk(keys[i])
            hit = next((n for n, gold in enumerate(q.gold) if isinstance(gold, str) and matches(gold, chunk)), None)
            ranked.append(f"miss{i}" if hit is None or hit in ranked else hit)
        lists.append(ranked)
        golds.append(set(gold_ids))
    m = summarize(lists, golds)
    return {k: round(m[k], 4) for k in ("n", "R@1", "R@5", "cover@5", "MRR@10")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, help="index folder (default: the default index, the sample)")
    ap.add_argument("--check", type=Path, action="append", default=[], help="extra question files to report")
    ap.add_argument("--train", action="append", default=[], metavar="FILE[@SPLIT]",
                    help="more training questions (default: only the files in TRAIN)")
    ap.add_argument("--l2", type=float, default=0.05)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    kb = KnowledgeBase.open(args.index)
    sources = TRAIN + [(Path(p), s or None) for p, _, s in (t.partition("@") for t in args.train)]
    train = [x for path, split in sources for x in examples(kb, load_questions(path, split))]
    checks = {str(p): examples(kb, load_questions(p)) for p in args.check}
    fitted = fit(train, args.l2)
    folds = list(train)
    random.Random(1).shuffle(folds)
    cv = [evaluate(folds[i::5], fit([x for j in range(5) if j != i for x in folds[j::5]], args.l2))
          for i in range(5)]
    report = {"machine": machine(), "features": list(FEATURES), "fitted_weights": [round(float(w), 4) for w in fitted],
              "product_weights": WEIGHTS.tolist(), "train": len(train),
              "results": {"train fitted": evaluate(train, fitted), "train product": evaluate(train, WEIGHTS),
                          "5-fold CV (fitted on 4/5)": {k: round(sum(c[k] for c in cv) / 5, 4) for k in cv[0]},
                          **{f"{p} fitted": evaluate(d, fitted) for p, d in checks.items()},
                          **{f"{p} product": evaluate(d, WEIGHTS) for p, d in checks.items()}}}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"# {report['machine']}\n# fit on {len(train)} questions: " + ", ".join(
        f"{p.name}{f' ({s})' if s else ''}" for p, s in sources))
    print("weights: " + ", ".join(f"{f} {w:.4f}" for f, w in zip(FEATURES, fitted)))
    print("| set | R@1 | R@5 | cover@5 | MRR@10 | n |\n|---|---|---|---|---|---|")
    for name, m in report["results"].items():
        print(f"| {name} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['cover@5']:.3f} | {m['MRR@10']:.3f} | {m['n']} |")


if __name__ == "__main__":
    main()
