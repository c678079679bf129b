"""The network side of ``kb fetch``: which URLs may be fetched, which redirects are followed, and
the overall deadline of one download.

A download may only reach an allowed host (``FetchList.allowed_hosts``) over http(s), and a
redirect may not move it to another port of that host, nor down from https to http. ``--timeout``
bounds each read; a server that drips a byte before each timeout would still hold a download for
hours, so ``Deadline`` closes the download's sockets when its overall time (``fetch_deadline``) is up.
"""
from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.request
from contextvars import ContextVar
from typing import Any, Sequence
from urllib.parse import urlsplit

from kb.errors import FetchError

DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(FetchError):
    """One download failed; ``keep_part`` when the .part is worth resuming (network trouble)."""

    def __init__(self, reason: str, keep_part: bool = False) -> None:
        super().__init__(reason)
        self.keep_part = keep_part


def check_url(url: str, allowed_hosts: Sequence[str]) -> None:
    """Refuse anything but http(s) to an allowed host (checked before every request and redirect)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Refused(f"refused {url!r}: only http(s) URLs are fetched")
    host = (parts.hostname or "").lower()
    if host not in {h.lower() for h in allowed_hosts}:
        raise Refused(f"refused {url!r}: host {host!r} is not in allowed_hosts {list(allowed_hosts)}")


def _port(url: str) -> int | None:
    parts = urlsplit(url)
    try:
        return parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port that is no number
        return None


def check_redirect(old: str, new: str, allowed_hosts: Sequence[str]) -> None:
    """A redirect stays on an allowed host, on the same port (or moves from http's default port to
    https's), and never goes from https down to http."""
    check_url(new, allowed_hosts)
    old_scheme, new_scheme = urlsplit(old).scheme, urlsplit(new).scheme
    if old_scheme == "https" and new_scheme == "http":
        raise Refused(f"refused redirect to {new!r}: https downgraded to http")
    upgrade = (old_scheme, _port(old), new_scheme, _port(new)) == ("http", 80, "https", 443)
    if _port(new) != _port(old) and not upgrade:
        raise Refused(f"refused redirect to {new!r}: another port than {old!r}")


class _AllowlistRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, allowed_hosts: Sequence[str]) -> None:
        self.allowed_hosts = tuple(allowed_hosts)

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        try:
            check_redirect(req.full_url, newurl, self.allowed_hosts)
        except Refused:
            fp.close()  # the redirect response's socket; nothing is sent to the new URL
            raise
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# -- the overall deadline ------------------------------------------------------------------------
_ACTIVE: ContextVar["Deadline | None"] = ContextVar("madoguchi_fetch_deadline", default=None)


class Deadline:
    """``with Deadline(seconds):`` every socket the opener connects meanwhile is shut down when the
    time is up, which ends any read blocked on it at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._ends = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "Deadline":
        self._token = _ACTIVE.set(self)
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _ACTIVE.reset(self._token)
        with self._lock:
            self._sockets.clear()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        _shut(sock)

    def passed(self) -> bool:
        return self.expired or time.monotonic() > self._ends

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def active_deadline() -> Deadline | None:
    return _ACTIVE.get()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _watched(connection: type[http.client.HTTPConnection]) -> Any:
    class Watched(connection):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            super().connect()
            deadline = _ACTIVE.get()
            if deadline is not None and self.sock is not None:
                deadline.watch(self.sock)

    return Watched


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):  # type: ignore[override]
        return self.do_open(_watched(http.client.HTTPConnection), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):  # type: ignore[override]
        return self.do_open(_watched(http.client.HTTPSConnection), req, context=self._context)


def make_opener(allowed_hosts: Sequence[str]) -> urllib.request.OpenerDirector:
    """The default opener: urllib's, with redirects restricted as ``check_redirect`` says and its
    sockets under the active ``Deadline``."""
    return urllib.request.build_opener(_AllowlistRedirects(allowed_hosts), _HTTPHandler(), _HTTPSHandler())
