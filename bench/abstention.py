"""Calibrate when `ask` abstains, on the labelled in-scope / out-of-scope questions.

For every question it records the features the answer's ``support`` can be built from, then for each
candidate support formula picks the threshold with the best F1 for abstaining (out-of-scope = positive)
and estimates how that choice generalises with 5-fold cross-validation (threshold fitted on 4/5,
scored on the held-out 1/5).

    python bench/abstention.py --index DIR [--questions eval/guidebook_questions.jsonl]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from answer.compose import support_score  # noqa: E402
from answer.evaluate import load_questions  # noqa: E402
from bench.common import ROOT, machine  # noqa: E402


def features(kb, question: str) -> dict[str, float]:
    """The parts `ask` builds its support from, computed the way `ask` does (answer.compose)."""
    from answer.extract import extract

    settings, retriever = kb.settings, kb._retriever
    result, query = retriever.search(question, max(settings.top_k, settings.answer_passages))
    words = extract(result.hits[:settings.answer_passages], query, retriever.sentence_vectors,
                    retriever.version.keyword, max_sentences=settings.max_sentences).best_words
    # The top cosine over all retrieved hits, not only the cited ones.
    dense = max((h.dense_score for h in result.hits if h.dense_score is not None), default=0.0)
    return {"dense": dense, "words": words, "reranked": support_score(result, words) if result.reranked else 0.0}


FORMULAS = {
    "re-ranker score of the best hit": lambda f: f["reranked"],
    "dense": lambda f: f["dense"],
    "words": lambda f: f["words"],
    **{f"dense + {w} * words": (lambda f, w=w: f["dense"] + w * f["words"]) for w in (0.05, 0.1, 0.2, 0.3, 0.5)},
}


def prf(scores, labels, threshold) -> tuple[float, float, float]:
    tp = sum(1 for s, out in zip(scores, labels) if s < threshold and out)
    fp = sum(1 for s, out in zip(scores, labels) if s < threshold and not out)
    fn = sum(1 for s, out in zip(scores, labels) if s >= threshold and out)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def best_threshold(scores, labels) -> float:
    cuts = sorted(set(scores))
    candidates = [(a + b) / 2 for a, b in zip(cuts, cuts[1:])] or cuts
    return max(candidates, key=lambda t: (prf(scores, labels, t)[2], -t))


def cross_validate(scores, labels, folds=5, seed=0) -> tuple[float, float, float]:
    idx = list(range(len(scores)))
    random.Random(seed).shuffle(idx)
    tp = fp = fn = 0
    for k in range(folds):
        test = set(idx[k::folds])
        train = [i for i in idx if i not in test]
        t = best_threshold([scores[i] for i in train], [labels[i] for i in train])
        for i in test:
            abstain, out = scores[i] < t, labels[i]
            tp += abstain and out
            fp += abstain and not out
            fn += (not abstain) and out
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=None)
    ap.add_argument("--questions", type=Path, default=ROOT / "eval" / "guidebook_questions.jsonl")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from kb import KnowledgeBase

    questions = load_questions(args.questions)
    kb = KnowledgeBase.open(args.index)
    rows = [features(kb, q.question) for q in questions]
    labels = [not q.in_scope for q in questions]
    report = {"machine": machine(), "questions": len(questions), "out_of_scope": sum(labels), "formulas": {}}
    for name, formula in FORMULAS.items():
        scores = [formula(r) for r in rows]
        t = best_threshold(scores, labels)
        p, r, f = prf(scores, labels, t)
        cp, cr, cf = cross_validate(scores, labels)
        report["formulas"][name] = {"threshold": round(t, 4), "precision": p, "recall": r, "f1": f,
                                    "cv_precision": cp, "cv_recall": cr, "cv_f1": cf}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"# {report['machine']}\n# {len(questions)} questions ({sum(labels)} out of scope), index {args.index}")
    print("| support formula | threshold | P | R | F1 | 5-fold CV P | CV R | CV F1 |\n|---|---|---|---|---|---|---|---|")
    for name, m in report["formulas"].items():
        print(f"| {name} | {m['threshold']} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
              f"{m['cv_precision']:.3f} | {m['cv_recall']:.3f} | {m['cv_f1']:.3f} |")


if __name__ == "__main__":
    main()
