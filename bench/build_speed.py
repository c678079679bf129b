"""Full-build speed of `kb sync`, one code tree against another, runs interleaved on the same machine.

    python bench/build_speed.py --tree /path/to/older/checkout --runs 2      # older tree vs this one
    python bench/build_speed.py --source ../shared/corpus/laws --runs 1

Each run syncs ``--source`` into a fresh index with that tree's `cli.py` (model already converted;
KB_MODEL_CACHE as set, else the cache `kb` uses) and reads its `--json` report. Texts per second
counts what the index holds (passages + sentences) over the embedding time, so embedding a repeated
sentence once counts as the speed-up it is; model calls are the texts actually embedded. Texts per
CPU-second (user + system of the whole sync) is the figure a busy shared machine does not distort.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, machine, model_cache  # noqa: E402



def build(tree: Path, source: Path, env: dict, keep: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cli = [sys.executable, str(tree / "cli.py")]
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([*cli, "sync", str(source), "--index", f"{tmp}/idx", "--json"], env=env,
                              capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
        report = json.loads(done.stdout)
        status = json.loads(subprocess.run([*cli, "status", "--index", f"{tmp}/idx", "--json"], env=env,
                                           capture_output=True, text=True, check=True).stdout)
        if keep is not None:
            shutil.rmtree(keep, ignore_errors=True)
            shutil.move(f"{tmp}/idx", keep)
    changes = report["changes"]["chunks"]
    held = status["chunks"] + status["sentences"]
    return {"wall_s": round(wall, 1), "embed_s": report["embed_seconds"], "chunks": status["chunks"],
            "sentences": status["sentences"], "model_calls": changes["embedded"] + changes["sentences_embedded"],
            "texts_per_s": round(held / report["embed_seconds"], 1), "cpu_s": round(cpu_s, 1),
            "texts_per_cpu_s": round(held / cpu_s, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", type=Path, action="append", default=[], help="another checkout to compare")
    ap.add_argument("--source", type=Path, default=ROOT / "data" / "guidebook")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="keep each tree's last index as KEEP/<tree folder name>")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = {**os.environ, "KB_HOME": tempfile.mkdtemp(prefix="madoguchi-build-")}
    env.setdefault("KB_MODEL_CACHE", str(model_cache()))
    trees = [*args.tree, ROOT]
    runs: dict[str, list[dict]] = {str(t): [] for t in trees}
    for _ in range(args.runs):
        for tree in trees:  # interleaved: a busy spell of the shared machine hits every tree
            runs[str(tree)].append(build(tree, args.source, env, args.keep / tree.name if args.keep else None))
    summary = {t: {"texts_per_s": round(statistics.median(r["texts_per_s"] for r in rs), 1),
                   "texts_per_cpu_s": round(statistics.median(r["texts_per_cpu_s"] for r in rs), 1),
                   "wall_s": round(statistics.median(r["wall_s"] for r in rs), 1), "runs": rs} for t, rs in runs.items()}
    out = {"machine": machine(), "source": str(args.source), "trees": summary}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"# {out['machine']}\n# {args.source}, {args.runs} run(s) per tree, interleaved")
    print("| tree | chunks + sentences | model calls | embed s | wall s | texts/s (median) | texts per CPU-s |\n"
          "|---|---|---|---|---|---|---|")
    for tree, s in summary.items():
        r = s["runs"][-1]
        print(f"| {tree} | {r['chunks']:,} + {r['sentences']:,} | {r['model_calls']:,} | "
              f"{'/'.join(str(x['embed_s']) for x in s['runs'])} | {s['wall_s']} | {s['texts_per_s']} | "
              f"{s['texts_per_cpu_s']} |")


if __name__ == "__main__":
    main()
