"""numpy's BLAS on one thread unless the operator says otherwise, set before numpy loads.

Imported by the ``kb`` package right after ``kb.offline``. A question's matrices are small (a few
thousand rows by 384), and OpenBLAS's own threads (one per core by default) then spin against the
serving threads for the same cores: on the 2-core VM, 8 clients on the 9-edition sample went from
51.9 to 55.5 answers a second (p95 220 -> 181 ms) and one client's p50 from 18.0 to 16.7 ms with
one BLAS thread; and one process per core then scales (``kb serve --processes 2``: 104 answers a
second, p95 151 ms, where 2 processes each with per-core BLAS threads gave 41). The embedding
model's threads are set separately (the ``threads`` setting). A program that loads numpy before
``kb`` keeps numpy's default.
"""
from __future__ import annotations

import os

BLAS_THREADS = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

for _name, _value in BLAS_THREADS.items():
    os.environ.setdefault(_name, _value)
