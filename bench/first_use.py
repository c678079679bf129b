"""First use from nothing: model conversion, ONNX export, the sample index, one answer; peak memory.

    python bench/first_use.py                      # this tree
    python bench/first_use.py --tree OLD           # and an older checkout, one after the other

Runs `cli.py ask` with an empty KB_HOME and model cache, and samples every 0.1 s the RSS of the whole
process tree (the export steps may run in child processes): the peak of the sum is what the machine
must have free, the peak of one process what a process-memory limit must allow.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, machine  # noqa: E402


def tree_rss(pid: int) -> tuple[int, int]:
    """(sum, largest) RSS in bytes of ``pid`` and all its descendants."""
    total = largest = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            rss = int(Path(f"/proc/{p}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
        total += rss
        largest = max(largest, rss)
    return total, largest


def first_use(tree: Path) -> dict:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "KB_HOME": home, "KB_MODEL_CACHE": f"{home}/models"}
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(tree / "cli.py"), "ask", "在留カードをなくしたらどうすればいいですか",
                                 "--json"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak_sum = peak_one = 0
        while proc.poll() is None:
            total, largest = tree_rss(proc.pid)
            peak_sum, peak_one = max(peak_sum, total), max(peak_one, largest)
            time.sleep(0.1)
        return {"tree": str(tree), "exit": proc.returncode, "seconds": round(time.perf_counter() - started, 1),
                "peak_tree_mb": round(peak_sum / 2**20), "peak_process_mb": round(peak_one / 2**20)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", type=Path, action="append", default=[])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    runs = [first_use(t) for t in [*args.tree, ROOT]]
    if args.json:
        print(json.dumps({"machine": machine(), "runs": runs}, indent=2))
        return
    print(f"# {machine()}\n| tree | exit | seconds | peak RSS, whole process tree | peak RSS, one process |\n|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['tree']} | {r['exit']} | {r['seconds']} | {r['peak_tree_mb']} MB | {r['peak_process_mb']} MB |")


if __name__ == "__main__":
    main()
