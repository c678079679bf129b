"""The slow fuzz run: tests/test_fuzz.py with the "fuzz" hypothesis profile (random, not the suite's
fixed cases), 2,000 cases per property unless ``--examples`` says otherwise.

    python -m bench.fuzz --examples 500
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="cases per property")
    args = parser.parse_args()
    env = {**os.environ, "KB_FUZZ_PROFILE": "fuzz", "KB_FUZZ_EXAMPLES": str(args.examples)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_fuzz.py",
                           "--hypothesis-show-statistics"], cwd=ROOT, env=env)
    print(f"fuzz: {args.examples} cases per property, {time.perf_counter() - started:.0f} s, "
          f"{'all passed' if done.returncode == 0 else 'FAILURES'}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
