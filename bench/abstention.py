"""Fit and calibrate when `ask` abstains: the support models of answer/support.py.

For every question of the training files (in and out of scope, every language), the product's own
search gives the question's vector and the section ranking. Two logistic regressions (L2,
standardised inputs) predict "the guidebook answers it": the scope model over the question's vector
and the ranking features, and the fallback over the ranking features alone. Reported for each: 5-fold cross-validated AUC and
reliability (ECE over 10 bins), precision/recall of abstaining (out of scope = positive) and the
share of answerable questions abstained or marked unsure at the product thresholds, for the training
questions (cross-validated) and for each check file (never used to fit or to choose). ``--write``
saves the fitted scope model to answer/scope.json. Usage:

    python bench/abstention.py [--index DIR] [--check ../shared/eval/consultations/dev.jsonl] [--write] [--json]
    python bench/abstention.py --check eval/scope_questions.jsonl@heldout   # one split of a file
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from answer import support  # noqa: E402
from answer.evaluate import load_questions  # noqa: E402
from bench.common import ROOT, fit_logistic as fit, machine  # noqa: E402
from kb import KnowledgeBase  # noqa: E402

TRAIN = [(ROOT / "eval" / "consultations.jsonl", "dev"), (ROOT / "eval" / "guidebook_questions.jsonl", None),
         (ROOT / "eval" / "scope_questions.jsonl", "train")]


def examples(kb: KnowledgeBase, path: Path, split: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(question vectors, ranking features, answerable) per question."""
    vs, xs, ys = [], [], []
    for q in load_questions(path, split):
        found = kb._retriever.search(q.question, kb.settings.answer_passages)
        vs.append(support.scope_inputs(found.query.vector, found.sections))
        xs.append(support.features(found.sections))
        ys.append(1.0 if q.in_scope else 0.0)
    return np.array(vs), np.array(xs), np.array(ys)


def prob(x: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(x @ weights + bias, -50, 50)))


def cross_validated(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    order = list(range(len(y)))
    random.Random(1).shuffle(order)
    out = np.zeros(len(y))
    for f in range(5):
        test = order[f::5]
        held = set(test)
        w, b = fit(x[[i for i in order if i not in held]], y[[i for i in order if i not in held]], l2)
        out[test] = prob(x[test], w, b)
    return out


def auc(p: np.ndarray, y: np.ndarray) -> float:
    pos, neg = p[y == 1], p[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: |mean predicted - share answerable| per bin, weighted by size."""
    edges = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[edges == b].mean() - y[edges == b].mean()) * (edges == b).sum()
                     for b in range(bins) if (edges == b).any()) / len(p))


def abstention(p: np.ndarray, y: np.ndarray, below: float) -> dict[str, float]:
    abstained = p < below
    tp = int((abstained & (y == 0)).sum())
    fp = int((abstained & (y == 1)).sum())
    fn = int((~abstained & (y == 0)).sum())
    return {"precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
            "recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
            "answerable_abstained": round(fp / max(1, int((y == 1).sum())), 3),
            "unsure_or_abstained_answerable": 0.0}


def report_for(p: np.ndarray, y: np.ndarray, lo: float, hi: float) -> dict[str, float]:
    out = abstention(p, y, lo)
    out["unsure_or_abstained_answerable"] = round(float(((p < hi) & (y == 1)).sum()) / max(1, int(y.sum())), 3)
    out.update(auc=round(auc(p, y), 3), ece=round(ece(p, y), 3), n=len(y), out_of_scope=int((y == 0).sum()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path)
    ap.add_argument("--check", action="append", default=[], help="a JSON Lines file, or FILE@SPLIT for one split")
    ap.add_argument("--l2", type=float, default=0.1, help="L2 strength of the scope model")
    ap.add_argument("--write", action="store_true", help="save the fitted scope model to answer/scope.json")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    kb = KnowledgeBase.open(args.index)
    parts = [examples(kb, p, s) for p, s in TRAIN]
    v, x, y = (np.concatenate([part[i] for part in parts]) for i in range(3))
    checks = {arg: examples(kb, Path(arg.rsplit("@", 1)[0]), arg.rsplit("@", 1)[1] if "@" in arg else None)
              for arg in args.check}
    lo, hi = kb.settings.abstain_below, kb.settings.unsure_below
    scope_w, scope_b = fit(v, y, args.l2)
    rank_w, rank_b = fit(x, y, 0.05)
    results = {"scope model, training, 5-fold CV": report_for(cross_validated(v, y, args.l2), y, lo, hi),
               "ranking features, training, 5-fold CV": report_for(cross_validated(x, y, 0.05), y, lo, hi)}
    for path, (cv, cx, cy) in checks.items():
        results[f"scope model, {path}"] = report_for(prob(cv, scope_w, scope_b), cy, lo, hi)
        results[f"ranking features, {path}"] = report_for(prob(cx, rank_w, rank_b), cy, lo, hi)
    report = {"machine": machine(), "model_id": kb._retriever.embedder.model_id, "features": list(support.FEATURES),
              "ranking_weights": [round(float(w), 4) for w in rank_w], "ranking_bias": round(rank_b, 4),
              "thresholds": {"abstain_below": lo, "unsure_below": hi}, "training": len(y),
              "out_of_scope": int((y == 0).sum()), "results": results}
    if args.write:
        support.SCOPE_FILE.write_text(json.dumps({
            "model_id": report["model_id"], "bias": round(scope_b, 6), "l2": args.l2,
            "ranking_features": list(support.FEATURES),
            "fitted_on": [f"{p.relative_to(ROOT)}{f' ({s})' if s else ''}" for p, s in TRAIN],
            "weights": [round(float(w), 6) for w in scope_w]}, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"# {report['machine']}\n# {len(y)} training questions, {int((y == 0).sum())} out of scope; "
          f"model {report['model_id']}")
    print("ranking weights: " + ", ".join(f"{f} {w:.4f}" for f, w in zip(support.FEATURES, rank_w)) +
          f"; bias {rank_b:.4f}")
    print(f"thresholds: abstain below {lo}, unsure below {hi}")
    print("| model, set | P | R | answerable abstained | answerable unsure or abstained | AUC | ECE | n (out of scope) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m in results.items():
        print(f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['answerable_abstained']:.3f} | "
              f"{m['unsure_or_abstained_answerable']:.3f} | {m['auc']:.3f} | {m['ece']:.3f} | {m['n']} ({m['out_of_scope']}) |")


if __name__ == "__main__":
    main()
