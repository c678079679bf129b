"""numpy's BLAS runs on one thread in every entry point unless the operator set it (kb.threads)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.threads import BLAS_THREADS

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in BLAS_THREADS}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("entry", ["cli", "kb", "serve.app"])
def test_blas_has_one_thread_when_numpy_is_loaded_through_an_entry_point(entry):
    pytest.importorskip("threadpoolctl")
    code = (f"import {entry}, numpy, kb; kb.KnowledgeBase; from threadpoolctl import threadpool_info; "
            "print(sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'}))")
    assert _run(code) == "[1]"


def test_an_operator_setting_is_kept():
    assert _run("import kb, os; print(os.environ['OPENBLAS_NUM_THREADS'])", OPENBLAS_NUM_THREADS="2") == "2"
