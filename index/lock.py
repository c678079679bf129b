"""One writer per index: an advisory lock on ``INDEX/.lock``.

``flock`` is released by the kernel when the holding process dies, so a lock left by a killed sync
is never stale: the file may remain, but the next writer can take it. The holder's pid is written
into the file only to name it in the error message.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from kb.errors import IndexLockedError, IndexWriteError


@contextmanager
def writer_lock(root: Path) -> Iterator[None]:
    path = root / ".lock"
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise IndexWriteError(f"{path}: cannot create the writer lock ({exc.strerror or exc}); "
                              "check that the index folder is writable") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise IndexLockedError(f"another ingest or sync (pid {holder}) is writing {root}; "
                                   "wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
