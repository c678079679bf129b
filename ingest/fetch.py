"""Download the official guidebook PDFs of a fetch list (``ingest.fetchlist``), verified and resumable.

Only what is listed is fetched, and only from the list's ``allowed_hosts`` (redirects included;
``ingest.fetchnet``), each download within ``deadline`` seconds in all.

Each download goes to ``<dest>/<language>.pdf.part`` and is moved into place with ``os.replace``
only after it is verified (PDF content type or magic, complete, pinned sha256 if any), so a failure
never leaves a half file where a good one was. An interrupted download keeps its ``.part`` (plus a
``.part.json`` with the server's validator) and the next run resumes it with ``Range``/``If-Range``.
``<dest>/fetched.json`` records sha256, size, URL, time and ETag/Last-Modified per language; the
next run sends a conditional GET and reports "unchanged" on 304.
"""
from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.client import HTTPException
from pathlib import Path
from typing import Any, Iterable

from ingest.fetchlist import FetchEntry, FetchList
from ingest.fetchnet import Deadline, Refused, active_deadline, check_redirect, check_url, make_opener
from kb.errors import FetchError
from kb.files import read_json, write_json
from kb.model import Progress  # here: (stage, bytes received, total bytes or 0 when unknown)


DOWNLOADED, UNCHANGED, SKIPPED, FAILED = "downloaded", "unchanged", "skipped", "failed"
DEFAULT_MAX_BYTES = 200 * 2**20
DEFAULT_DEADLINE = 900.0  # seconds for one whole download (setting fetch_deadline)
RECORD_FILE = "fetched.json"
USER_AGENT = "madoguchi-fetch/0.1 (+https://www.moj.go.jp/isa/support/portal/guidebook_all.html)"
CHUNK = 64 * 1024
PDF_MAGIC = b"%PDF-"
PDF_TYPES = {"application/pdf", "application/x-pdf"}
BINARY_TYPES = {"application/octet-stream", "binary/octet-stream"}  # accepted: the magic decides


class _Restart(Exception):
    """A resumed download cannot continue (range refused or mismatched): start again from byte 0."""


@dataclass(frozen=True)
class FetchResult:
    language: str
    status: str  # downloaded | unchanged | skipped | failed
    reason: str = ""  # one line: why skipped/failed, or how "unchanged" was decided
    path: Path | None = None  # the verified file (downloaded/unchanged)
    sha256: str = ""
    size: int = 0
    resumed_from: int = 0  # bytes kept from an earlier .part

    @property
    def ok(self) -> bool:
        return self.status in (DOWNLOADED, UNCHANGED, SKIPPED)

    def to_dict(self) -> dict[str, Any]:
        """The ``kb fetch --json`` schema."""
        return {"language": self.language, "status": self.status, "reason": self.reason,
                "path": str(self.path) if self.path else None, "sha256": self.sha256, "size": self.size}


@dataclass
class _Target:
    """The paths and prior state for one language's download."""

    entry: FetchEntry
    dest: Path
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> Path:
        return self.dest / f"{self.entry.language}.pdf"

    @property
    def part(self) -> Path:
        return self.dest / f"{self.entry.language}.pdf.part"

    @property
    def state(self) -> Path:
        return self.dest / f"{self.entry.language}.pdf.part.json"


def fetch_all(fetch_list: FetchList, dest_dir: str | Path, *, languages: Iterable[str] | None = None,
              timeout: float = 30.0, max_bytes: int = DEFAULT_MAX_BYTES,
              progress: Progress | None = None, deadline: float = DEFAULT_DEADLINE,
              opener: urllib.request.OpenerDirector | None = None) -> list[FetchResult]:
    """Fetch every edition (or only ``languages``), in list order; never raises per entry."""
    wanted = list(languages) if languages is not None else None
    if wanted is not None:
        missing = [lang for lang in wanted if lang not in fetch_list.languages()]
        if missing:
            raise FetchError(f"Unknown language(s) {missing}; the fetch list has {fetch_list.languages()}")
    opener = opener or make_opener(fetch_list.allowed_hosts)
    return [fetch_one(fetch_list, e, dest_dir, timeout=timeout, max_bytes=max_bytes,
                      progress=progress, deadline=deadline, opener=opener)
            for e in fetch_list.entries if wanted is None or e.language in wanted]


def fetch_one(fetch_list: FetchList, entry: FetchEntry | str, dest_dir: str | Path, *,
              timeout: float = 30.0, max_bytes: int = DEFAULT_MAX_BYTES,
              progress: Progress | None = None, deadline: float = DEFAULT_DEADLINE,
              opener: urllib.request.OpenerDirector | None = None) -> FetchResult:
    """Fetch one edition to ``dest_dir/<language>.pdf``; failures become a "failed" result."""
    with Deadline(deadline):
        return _fetch_one(fetch_list, entry, dest_dir, timeout, max_bytes, progress, opener)


def _fetch_one(fetch_list: FetchList, entry: FetchEntry | str, dest_dir: str | Path, timeout: float,
               max_bytes: int, progress: Progress | None,
               opener: urllib.request.OpenerDirector | None) -> FetchResult:
    entry = entry if isinstance(entry, FetchEntry) else fetch_list.get(entry)
    if not entry.url:
        return FetchResult(entry.language, SKIPPED, "no url in the fetch list")
    dest = Path(dest_dir)
    target = _Target(entry, dest, _read_json(dest / RECORD_FILE).get(entry.language) or {})
    try:
        check_url(entry.url, fetch_list.allowed_hosts)
        current = _current_sha(target)
        if entry.sha256 and current == entry.sha256:
            return FetchResult(entry.language, UNCHANGED, "existing file matches the pinned sha256",
                               target.final, current, target.final.stat().st_size)
        dest.mkdir(parents=True, exist_ok=True)
        opener = opener or make_opener(fetch_list.allowed_hosts)
        try:
            return _download(target, fetch_list, current, opener, timeout, max_bytes, progress)
        except _Restart:
            _discard_part(target)
            return _download(target, fetch_list, current, opener, timeout, max_bytes, progress)
    except _Restart as exc:
        _discard_part(target)
        return FetchResult(entry.language, FAILED, f"resume failed twice ({exc})")
    except Refused as exc:
        if not exc.keep_part:
            _discard_part(target)
        return FetchResult(entry.language, FAILED, str(exc))
    except OSError as exc:  # local disk trouble (network errors are turned into Refused earlier)
        return FetchResult(entry.language, FAILED, f"local file error: {exc}")


def _download(target: _Target, fetch_list: FetchList, current: str | None,
              opener: urllib.request.OpenerDirector, timeout: float, max_bytes: int,
              progress: Progress | None) -> FetchResult:
    entry = target.entry
    offset, validator = _resume_point(target)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/pdf, application/octet-stream"}
    conditional = False
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if validator:
            headers["If-Range"] = validator
    elif current and target.record.get("url") == entry.url and target.record.get("sha256") == current:
        # Our own earlier download, intact: let the server answer 304 instead of resending it.
        if target.record.get("etag"):
            headers["If-None-Match"] = target.record["etag"]
        if target.record.get("last_modified"):
            headers["If-Modified-Since"] = target.record["last_modified"]
        conditional = "If-None-Match" in headers or "If-Modified-Since" in headers
    try:
        resp = opener.open(urllib.request.Request(entry.url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 304 and conditional:
            _write_record(target, {**target.record, "checked_at": _now()})
            return FetchResult(entry.language, UNCHANGED, "server says not modified (304)",
                               target.final, current or "", target.final.stat().st_size)
        if exc.code == 416 and offset:
            raise _Restart("server refused the range") from None
        raise Refused(f"HTTP {exc.code} {exc.reason} from {entry.url}",
                       keep_part=exc.code >= 500) from None
    except (OSError, HTTPException) as exc:
        raise Refused(_network_reason(exc, timeout), keep_part=True) from None
    with resp:
        return _receive(target, fetch_list, resp, offset, current, timeout, max_bytes, progress)


def _receive(target: _Target, fetch_list: FetchList, resp: Any, offset: int, current: str | None,
             timeout: float, max_bytes: int, progress: Progress | None) -> FetchResult:
    entry = target.entry
    if resp.geturl() != entry.url:  # also when a custom opener followed the redirects
        check_redirect(entry.url, resp.geturl(), fetch_list.allowed_hosts)
    if resp.status == 206 and offset:
        if _range_start(resp.headers.get("Content-Range", "")) != offset:
            raise _Restart(f"server sent range {resp.headers.get('Content-Range')!r}")
    elif resp.status == 200:
        offset = 0  # full body (the range was ignored, or If-Range says the file changed)
    else:
        raise Refused(f"unexpected HTTP {resp.status} from {entry.url}")
    ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype not in PDF_TYPES | BINARY_TYPES:
        raise Refused(f"server sent {ctype or 'no content type'}, not a PDF "
                       f"(the URL may be a web page, not the file)")
    length = _int_or_none(resp.headers.get("Content-Length"))
    total = offset + length if length is not None else 0
    if total > max_bytes:
        raise Refused(f"Content-Length says {total} bytes, over the {max_bytes}-byte limit")
    write_json(target.state, {"url": entry.url, "etag": resp.headers.get("ETag") or "",
                               "last_modified": resp.headers.get("Last-Modified") or ""})
    digest, size = _stream(resp, target, offset, total, max_bytes, timeout, progress)
    if length is not None and size != total:
        raise Refused(f"connection closed after {size} of {total} bytes", keep_part=True)
    _verify(target.part, digest, entry, resumed=offset > 0)
    _commit(target, digest, size, resp)
    if current == digest:
        return FetchResult(entry.language, UNCHANGED, "server sent the same file again",
                           target.final, digest, size, offset)
    return FetchResult(entry.language, DOWNLOADED, "", target.final, digest, size, offset)


def _stream(resp: Any, target: _Target, offset: int, total: int, max_bytes: int, timeout: float,
            progress: Progress | None) -> tuple[str, int]:
    """Append the body to the .part (after its first ``offset`` bytes); return (sha256, size)."""
    digest = hashlib.sha256()
    stage = f"fetch {target.entry.language}"
    if offset:
        _hash_into(digest, target.part, limit=offset)
        with open(target.part, "r+b") as f:
            f.truncate(offset)  # drop anything past the point the server resumes from
        if progress:
            progress(stage, offset, total)
    size = offset
    read = getattr(resp, "read1", resp.read)  # whatever one receive brings: a drip cannot fill a chunk slowly
    with open(target.part, "ab" if offset else "wb") as out:
        while True:
            try:
                chunk = read(CHUNK)
            except (OSError, HTTPException) as exc:
                raise Refused(_network_reason(exc, timeout) + f" after {size} bytes",
                               keep_part=True) from None
            deadline = active_deadline()
            if deadline is not None and deadline.passed():  # (its sockets were shut: reads end empty)
                raise Refused(_deadline_reason(deadline) + f" after {size} bytes", keep_part=True)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise Refused(f"download passed the {max_bytes}-byte limit; aborted")
            out.write(chunk)
            digest.update(chunk)
            if progress:
                progress(stage, len(chunk), total)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def _verify(part: Path, digest: str, entry: FetchEntry, resumed: bool) -> None:
    """PDF magic and the pinned hash; a resumed file that fails gets one fresh try."""
    with open(part, "rb") as f:
        head = f.read(len(PDF_MAGIC))
    problem = ""
    if head != PDF_MAGIC:
        problem = f"not a PDF: the file starts with {head!r}, not %PDF-"
    elif entry.sha256 and digest != entry.sha256:
        problem = f"sha256 mismatch: got {digest}, the fetch list pins {entry.sha256}"
    if problem and resumed:
        raise _Restart(problem)
    if problem:
        raise Refused(problem)


def _commit(target: _Target, digest: str, size: int, resp: Any) -> None:
    """Move the verified .part into place, then record it (both steps atomic)."""
    os.replace(target.part, target.final)
    target.state.unlink(missing_ok=True)
    now = _now()
    _write_record(target, {
        "url": target.entry.url, "final_url": resp.geturl(), "sha256": digest, "size": size,
        "fetched_at": now, "checked_at": now,
        "etag": resp.headers.get("ETag") or "", "last_modified": resp.headers.get("Last-Modified") or "",
        "content_type": resp.headers.get("Content-Type") or "",
        "title": target.entry.title, "release": target.entry.release})


def _current_sha(target: _Target) -> str | None:
    """sha256 of the existing final file, or None if there is none."""
    if not target.final.is_file():
        return None
    digest = hashlib.sha256()
    _hash_into(digest, target.final)
    return digest.hexdigest()


def _resume_point(target: _Target) -> tuple[int, str | None]:
    """(bytes to keep, If-Range validator). Resume only when mixing versions cannot go unnoticed:
    the server's strong validator for the part is known, or the fetch list pins the sha256."""
    size = target.part.stat().st_size if target.part.is_file() else 0
    if size:
        state = _read_json(target.state)
        if state.get("url") == target.entry.url:
            etag = state.get("etag") or ""
            validator = etag if etag and not etag.startswith("W/") else state.get("last_modified")
            if validator:
                return size, validator
        if target.entry.sha256:
            return size, None
    _discard_part(target)
    return 0, None


def _discard_part(target: _Target) -> None:
    target.part.unlink(missing_ok=True)
    target.state.unlink(missing_ok=True)


def _write_record(target: _Target, record: dict[str, Any]) -> None:
    path = target.dest / RECORD_FILE
    records = _read_json(path)
    records[target.entry.language] = record
    write_json(path, dict(sorted(records.items())))


def read_records(dest_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The per-language download records in ``dest_dir/fetched.json`` ({} if none yet)."""
    return _read_json(Path(dest_dir) / RECORD_FILE)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = read_json(path, error=FetchError, missing={})
    except FetchError:
        return {}  # damaged: treated as no record, which only costs a re-download
    return data if isinstance(data, dict) else {}


def _hash_into(digest: Any, path: Path, limit: int | None = None) -> None:
    remaining = limit
    with open(path, "rb") as f:
        while remaining is None or remaining > 0:
            block = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not block:
                break
            digest.update(block)
            if remaining is not None:
                remaining -= len(block)


def _range_start(content_range: str) -> int | None:
    match = re.match(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)\s*$", content_range)
    return int(match.group(1)) if match else None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _deadline_reason(deadline: Deadline) -> str:
    return f"took longer than fetch_deadline = {deadline.seconds:g} s (KB_FETCH_DEADLINE); aborted"


def _network_reason(exc: BaseException, timeout: float) -> str:
    deadline = active_deadline()
    if deadline is not None and deadline.passed():
        return _deadline_reason(deadline)
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc.reason, str):
        exc = exc.reason  # type: ignore[assignment]
    if isinstance(exc, TimeoutError):
        return f"timed out (no data for {timeout:g} s)"
    if isinstance(exc, Refused):
        return str(exc)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"network error: {type(exc).__name__}{': ' + text if text else ''}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
