"""Warm query latency per stage, and cold `kb ask` process time, on an index.

    python bench/query_latency.py                 # the default index (sample guidebook)
    python bench/query_latency.py --index DIR --runs 200
    python bench/query_latency.py --index DIR --tree OLD --tree-index OLD_DIR   # cold runs of both, alternating
    python bench/query_latency.py --questions eval/consultations.jsonl          # each question once

The default cycles the 12 questions below, so per-process memos (a sentence's tokens, a glossary
term's vector) are warm after the first round; ``--questions`` asks each question of a file once,
in order, so a memo helps only as far as different questions share sections, as at a desk.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, machine  # noqa: E402

QUERIES = [
    "在留カードをなくしたらどうすればいいですか", "引っ越したら何をしなければなりませんか",
    "国民健康保険に入る手続", "年金の脱退一時金はいつまでに請求しますか", "子どもが生まれたときの届出",
    "I lost my residence card", "How do I pay resident tax?", "Tôi bị mất thẻ cư trú",
    "地震のときはどこに避難しますか", "ごみの出し方がわかりません", "確定申告の期間は", "救急車を呼ぶ番号",
]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=120)
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--tree", type=Path, help="another checkout whose cold `kb ask` alternates with this one's")
    ap.add_argument("--tree-index", type=Path, help="an index in the other checkout's format")
    ap.add_argument("--questions", type=Path, help="JSON Lines with a 'question' field: ask each once instead")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from kb import KnowledgeBase

    started = time.perf_counter()
    kb = KnowledgeBase.open(args.index)
    open_s = time.perf_counter() - started
    for q in QUERIES:  # warm-up
        kb.search(q)
    if args.questions:
        timed = [json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    else:
        timed = [QUERIES[i % len(QUERIES)] for i in range(args.runs)]
    stages: dict[str, list[float]] = {}
    for question in timed:
        t0 = time.perf_counter()
        answer = kb.ask(question)
        stages.setdefault("ask (wall)", []).append((time.perf_counter() - t0) * 1e3)
        for name, ms in answer.timings_ms.items():
            stages.setdefault(name, []).append(ms)
    status = kb.status().to_dict()
    kb.close()

    # Cold processes alternate a Japanese and an English question: an English one also loads the
    # language model that routes it to its edition.
    trees = [(ROOT, args.index, "")] + ([(args.tree, args.tree_index, f" ({args.tree})")] if args.tree else [])
    cold: dict[str, list[float]] = {f"{lang}{tag}": [] for lang in ("ja", "en") for _, _, tag in trees}
    for _ in range(args.cold_runs):
        for lang, question in (("ja", QUERIES[0]), ("en", QUERIES[5])):
            for tree, index, tag in trees:
                cmd = [sys.executable, str(tree / "cli.py"), "ask", question, "--json"]
                if index:
                    cmd += ["--index", str(index)]
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                cold[f"{lang}{tag}"].append(time.perf_counter() - t0)

    report = {"machine": machine(), "index": status["index"], "chunks": status["chunks"], "model": status["model"],
              "open_seconds": round(open_s, 3), "questions": str(args.questions or "built-in, cycled"),
              "runs": len(timed),
              "warm_ms": {k: {"p50": round(statistics.median(v), 2), "p95": round(percentile(v, 0.95), 2)}
                          for k, v in stages.items()},
              "cold_ask_seconds": {lang: {"median": round(statistics.median(runs), 2), "runs": [round(c, 2) for c in runs]}
                                   for lang, runs in cold.items() if runs}}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"# {report['machine']}\n# index {report['index']}: {report['chunks']} chunks, model {report['model']}")
    print(f"open (model + index, warm cache): {open_s:.2f} s; {len(timed)} asks of {report['questions']}")
    print("| stage | p50 ms | p95 ms |\n|---|---|---|")
    for k, v in report["warm_ms"].items():
        print(f"| {k} | {v['p50']} | {v['p95']} |")
    for lang, runs in report["cold_ask_seconds"].items():
        print(f"cold `kb ask` process, {lang} question: median {runs['median']} s over {args.cold_runs} runs {runs['runs']}")


if __name__ == "__main__":
    main()
