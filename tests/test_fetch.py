"""ingest.fetch against local HTTP servers on 127.0.0.1 (no internet): verification, limits,
host allowlist, resume, unchanged detection, and the shipped manifest."""
from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from reportlab.pdfgen import canvas

from ingest.fetch import DOWNLOADED, FAILED, SKIPPED, UNCHANGED, FetchResult, fetch_all, fetch_one, read_records
from ingest.fetchlist import FetchEntry, FetchList, find_pdf_links, load_fetch_list, parse_fetch_list
from kb.errors import FetchError

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 1.0  # seconds; the slow endpoint waits longer than this
LIMIT = 100_000  # bytes; the test PDF is far smaller, the "grow" stream far larger


def _make_pdf() -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=0)
    for page in range(3):
        c.drawString(72, 720, f"Guidebook on Living and Working - test page {page + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


PDF = _make_pdf()
SHA = hashlib.sha256(PDF).hexdigest()
HALF = len(PDF) // 2
ETAG = '"v1"'
HTML = b"<!DOCTYPE html><html><body>Not the guidebook</body></html>"


class _State:
    """What the servers saw, and the switch that releases the slow endpoint at teardown."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()
        self.flaky_cut = True
        self.other_port = 0
        self.port_target = 0


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = {
                "/good.pdf": self._pdf,
                "/octet.pdf": lambda: self._send(200, "application/octet-stream", PDF),
                "/octet-html.pdf": lambda: self._send(200, "application/octet-stream", HTML),
                "/page.pdf": lambda: self._send(200, "text/html; charset=utf-8", HTML),
                "/huge.pdf": self._huge, "/grow.pdf": self._grow, "/slow.pdf": self._slow,
                "/flaky.pdf": self._flaky, "/norange.pdf": lambda: self._send(200, "application/pdf", PDF),
                "/redirect-away.pdf": lambda: self._redirect(f"http://127.0.0.2:{state.other_port}/good.pdf"),
                "/redirect-home.pdf": lambda: self._redirect("/good.pdf"),
                "/redirect-port.pdf": lambda: self._redirect(f"http://127.0.0.1:{state.port_target}/good.pdf"),
                "/drip.pdf": self._drip, "/drip-head.pdf": self._drip_head,
            }.get(self.path)
            if route is None:
                self._send(404, "text/plain", b"not found")
            else:
                route()

        def _send(self, code: int, ctype: str, body: bytes, extra: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _pdf(self) -> None:
            """ETag, 304 on If-None-Match, single byte ranges honouring If-Range."""
            if self.headers.get("If-None-Match") == ETAG:
                self.send_response(304)
                self.send_header("ETag", ETAG)
                self.end_headers()
                return
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if_range = self.headers.get("If-Range")
            if match and (if_range is None or if_range == ETAG):
                start = int(match.group(1))
                if start >= len(PDF):
                    self._send(416, "text/plain", b"")
                    return
                self._send(206, "application/pdf", PDF[start:], {
                    "ETag": ETAG, "Content-Range": f"bytes {start}-{len(PDF) - 1}/{len(PDF)}"})
                return
            self._send(200, "application/pdf", PDF, {"ETag": ETAG,
                                                     "Last-Modified": "Mon, 02 Feb 2026 00:00:00 GMT"})

        def _huge(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Content-Length", str(10**12))
            self.end_headers()
            self.wfile.write(PDF[:100])

        def _grow(self) -> None:
            """No Content-Length (HTTP/1.0, body ends at close) and far more than the limit."""
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.end_headers()
            self.wfile.write(PDF)
            for _ in range(3 * LIMIT // 8192):
                self.wfile.write(b"\0" * 8192)

        def _slow(self) -> None:
            state.release.wait(10)  # released at teardown so the thread ends promptly
            self._send(200, "application/pdf", PDF)

        def _flaky(self) -> None:
            """First full request: promise the whole file, send half, hang up. Then behave."""
            if state.flaky_cut and "Range" not in self.headers:
                state.flaky_cut = False
                self.send_response(200)
                self.send_header("Content-Type", "application/pdf")
                self.send_header("Content-Length", str(len(PDF)))
                self.send_header("ETag", ETAG)
                self.end_headers()
                self.wfile.write(PDF[:HALF])
                return
            self._pdf()

        def _drip(self) -> None:
            """A byte every 0.1 s: never silent for --timeout, never done."""
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Content-Length", str(len(PDF)))
            self.end_headers()
            for byte in PDF:
                if state.release.wait(0.1):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

        def _drip_head(self) -> None:
            """The status line and headers themselves, a byte every 0.1 s."""
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n" + b"X-Pad: " + b"a" * 500 + b"\r\n\r\n"
            for byte in head:
                if state.release.wait(0.1):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # client hang-ups are expected here
        pass


def _serve(host: str, state: _State) -> _QuietServer:
    server = _QuietServer((host, 0), _handler(state))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture
def servers(monkeypatch):
    """(main state, main base URL, other state): main on 127.0.0.1, 'other' on 127.0.0.2 (disallowed)."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    main_state, other_state = _State(), _State()
    main = _serve("127.0.0.1", main_state)
    try:
        other = _serve("127.0.0.2", other_state)
    except OSError:
        main.shutdown()
        main.server_close()
        pytest.skip("127.0.0.2 is not a loopback address here")
    main_state.other_port = other.server_address[1]
    yield main_state, f"http://127.0.0.1:{main.server_address[1]}", other_state
    main_state.release.set()
    for server in (main, other):
        server.shutdown()
        server.server_close()


def _manifest(*editions: FetchEntry, hosts: tuple[str, ...] = ("127.0.0.1",)) -> FetchList:
    return FetchList(allowed_hosts=hosts, entries=editions)


def _fetch(entry: Edition, dest: Path, **kw) -> FetchResult:
    kw.setdefault("timeout", TIMEOUT)
    kw.setdefault("max_bytes", LIMIT)
    return fetch_one(_manifest(entry), entry, dest, **kw)


def test_good_download_is_verified_and_recorded(servers, tmp_path):
    state, base, _ = servers
    result = _fetch(FetchEntry("ja", f"{base}/good.pdf", title="T", release="8th"), tmp_path)
    assert (result.status, result.sha256, result.size) == (DOWNLOADED, SHA, len(PDF))
    assert (tmp_path / "ja.pdf").read_bytes() == PDF
    assert not list(tmp_path.glob("*.part*")) and not list(tmp_path.glob("*.tmp"))
    record = read_records(tmp_path)["ja"]
    assert record["sha256"] == SHA and record["size"] == len(PDF) and record["url"] == f"{base}/good.pdf"
    assert record["etag"] == ETAG and record["fetched_at"] and record["release"] == "8th"
    assert json.loads((tmp_path / "fetched.json").read_text()) == {"ja": record}


def test_second_run_is_unchanged_via_etag(servers, tmp_path):
    state, base, _ = servers
    entry = FetchEntry("ja", f"{base}/good.pdf")
    assert _fetch(entry, tmp_path).status == DOWNLOADED
    again = _fetch(entry, tmp_path)
    assert again.status == UNCHANGED and "304" in again.reason and again.sha256 == SHA
    assert state.requests[-1][1]["if-none-match"] == ETAG
    assert (tmp_path / "ja.pdf").read_bytes() == PDF


def test_pinned_sha_matching_the_file_needs_no_request(servers, tmp_path):
    state, base, _ = servers
    (tmp_path / "ja.pdf").write_bytes(PDF)
    result = _fetch(FetchEntry("ja", f"{base}/good.pdf", sha256=SHA), tmp_path)
    assert result.status == UNCHANGED and "pinned" in result.reason
    assert state.requests == []


def test_edited_file_is_fetched_again(servers, tmp_path):
    """A local file that no longer matches its record is not trusted for a conditional GET."""
    state, base, _ = servers
    entry = FetchEntry("ja", f"{base}/good.pdf")
    _fetch(entry, tmp_path)
    (tmp_path / "ja.pdf").write_bytes(b"%PDF-tampered")
    assert _fetch(entry, tmp_path).status == DOWNLOADED
    assert "if-none-match" not in state.requests[-1][1]
    assert (tmp_path / "ja.pdf").read_bytes() == PDF


def test_sha256_mismatch_is_refused(servers, tmp_path):
    _, base, _ = servers
    result = _fetch(FetchEntry("ja", f"{base}/good.pdf", sha256="0" * 64), tmp_path)
    assert result.status == FAILED and "sha256 mismatch" in result.reason
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path, reason", [
    ("/page.pdf", "text/html, not a PDF"),
    ("/octet-html.pdf", "starts with"),
    ("/huge.pdf", "over the 100000-byte limit"),
    ("/grow.pdf", "passed the 100000-byte limit"),
    ("/slow.pdf", "timed out"),
    ("/missing.pdf", "HTTP 404"),
])
def test_bad_responses_fail_with_a_reason_and_leave_no_file(servers, tmp_path, path, reason):
    _, base, _ = servers
    result = _fetch(FetchEntry("ja", base + path), tmp_path)
    assert result.status == FAILED and reason in result.reason, result.reason
    assert "\n" not in result.reason
    assert not (tmp_path / "ja.pdf").exists() and not (tmp_path / "ja.pdf.part").exists()
    assert "ja" not in read_records(tmp_path)


def test_failure_keeps_the_previous_good_file(servers, tmp_path):
    _, base, _ = servers
    _fetch(FetchEntry("ja", f"{base}/good.pdf"), tmp_path)
    result = _fetch(FetchEntry("ja", f"{base}/page.pdf"), tmp_path)
    assert result.status == FAILED
    assert (tmp_path / "ja.pdf").read_bytes() == PDF and read_records(tmp_path)["ja"]["sha256"] == SHA


def test_local_write_error_is_a_failed_result(servers, tmp_path):
    _, base, _ = servers
    (tmp_path / "not-a-dir").write_text("")
    result = _fetch(FetchEntry("ja", f"{base}/good.pdf"), tmp_path / "not-a-dir")
    assert result.status == FAILED and result.reason.startswith("local file error")


def test_octet_stream_with_pdf_magic_is_accepted(servers, tmp_path):
    _, base, _ = servers
    assert _fetch(FetchEntry("ja", f"{base}/octet.pdf"), tmp_path).status == DOWNLOADED


def test_disallowed_host_is_refused_without_a_request(servers, tmp_path):
    _, _, other = servers
    url = f"http://127.0.0.2:{servers[0].other_port}/good.pdf"
    result = _fetch(FetchEntry("ja", url), tmp_path)
    assert result.status == FAILED and "'127.0.0.2' is not in allowed_hosts" in result.reason
    assert other.requests == []
    # Control: the same URL is reachable once its host is allowed, so the zero above means something.
    entry = FetchEntry("ja", url)
    ok = fetch_one(_manifest(entry, hosts=("127.0.0.2",)), entry, tmp_path, timeout=TIMEOUT)
    assert ok.status == DOWNLOADED and len(other.requests) == 1


def test_redirect_to_a_disallowed_host_is_refused(servers, tmp_path):
    state, base, other = servers
    result = _fetch(FetchEntry("ja", f"{base}/redirect-away.pdf"), tmp_path)
    assert result.status == FAILED and "127.0.0.2" in result.reason and "allowed_hosts" in result.reason
    assert other.requests == [] and not list(tmp_path.glob("ja.pdf*"))


def test_redirect_checked_after_the_fact_with_a_custom_opener(servers, tmp_path):
    """A caller's opener follows any redirect; the final URL is still checked before writing."""
    _, base, other = servers
    result = _fetch(FetchEntry("ja", f"{base}/redirect-away.pdf"), tmp_path,
                    opener=urllib.request.build_opener())
    assert result.status == FAILED and "127.0.0.2" in result.reason
    assert not list(tmp_path.glob("ja.pdf*"))


def test_redirect_within_allowed_hosts_is_followed(servers, tmp_path):
    _, base, _ = servers
    result = _fetch(FetchEntry("ja", f"{base}/redirect-home.pdf"), tmp_path)
    assert result.status == DOWNLOADED
    assert read_records(tmp_path)["ja"]["final_url"] == f"{base}/good.pdf"


def test_resume_from_a_part_file(servers, tmp_path):
    state, base, _ = servers
    (tmp_path / "ja.pdf.part").write_bytes(PDF[:HALF])
    result = _fetch(FetchEntry("ja", f"{base}/good.pdf", sha256=SHA), tmp_path)
    assert (result.status, result.resumed_from, result.sha256) == (DOWNLOADED, HALF, SHA)
    assert [h.get("range") for _, h in state.requests] == [f"bytes={HALF}-"]
    assert (tmp_path / "ja.pdf").read_bytes() == PDF and not (tmp_path / "ja.pdf.part").exists()


def test_interrupted_download_keeps_its_part_and_resumes_with_if_range(servers, tmp_path):
    state, base, _ = servers
    entry = FetchEntry("ja", f"{base}/flaky.pdf")
    first = _fetch(entry, tmp_path)
    assert first.status == FAILED and f"after {HALF} of {len(PDF)} bytes" in first.reason, first.reason
    assert not (tmp_path / "ja.pdf").exists() and (tmp_path / "ja.pdf.part").stat().st_size == HALF
    second = _fetch(entry, tmp_path)
    assert (second.status, second.resumed_from) == (DOWNLOADED, HALF)
    headers = state.requests[-1][1]
    assert headers["range"] == f"bytes={HALF}-" and headers["if-range"] == ETAG
    assert (tmp_path / "ja.pdf").read_bytes() == PDF


def test_server_ignoring_range_restarts_from_zero(servers, tmp_path):
    state, base, _ = servers
    (tmp_path / "ja.pdf.part").write_bytes(b"x" * HALF)
    result = _fetch(FetchEntry("ja", f"{base}/norange.pdf", sha256=SHA), tmp_path)
    assert (result.status, result.resumed_from) == (DOWNLOADED, 0)
    assert state.requests[0][1]["range"] == f"bytes={HALF}-"
    assert (tmp_path / "ja.pdf").read_bytes() == PDF


def test_corrupt_part_is_discarded_and_fetched_whole(servers, tmp_path):
    """The server honours the range but the kept bytes were wrong: the hash catches it, one fresh try."""
    state, base, _ = servers
    (tmp_path / "ja.pdf.part").write_bytes(b"x" * HALF)
    result = _fetch(FetchEntry("ja", f"{base}/good.pdf", sha256=SHA), tmp_path)
    assert (result.status, result.resumed_from) == (DOWNLOADED, 0)
    assert [h.get("range") for _, h in state.requests] == [f"bytes={HALF}-", None]
    assert (tmp_path / "ja.pdf").read_bytes() == PDF


def test_unpinned_part_without_validator_is_not_resumed(servers, tmp_path):
    """Without an ETag/Last-Modified or a pinned hash, mixed versions could go unnoticed: start over."""
    state, base, _ = servers
    (tmp_path / "ja.pdf.part").write_bytes(PDF[:HALF])
    assert _fetch(FetchEntry("ja", f"{base}/good.pdf"), tmp_path).resumed_from == 0
    assert "range" not in state.requests[0][1]


def test_progress_reports_bytes(servers, tmp_path):
    _, base, _ = servers
    calls: list[tuple[str, int, int]] = []
    _fetch(FetchEntry("ja", f"{base}/good.pdf"), tmp_path, progress=lambda *a: calls.append(a))
    assert {s for s, _, _ in calls} == {"fetch ja"} and sum(n for _, n, _ in calls) == len(PDF)
    assert all(total == len(PDF) for _, _, total in calls)


def test_fetch_all_reports_each_language(servers, tmp_path):
    _, base, _ = servers
    manifest = _manifest(FetchEntry("ja", f"{base}/good.pdf"), FetchEntry("en"), FetchEntry("vi", f"{base}/page.pdf"))
    results = fetch_all(manifest, tmp_path, timeout=TIMEOUT)
    assert [(r.language, r.status) for r in results] == [("ja", DOWNLOADED), ("en", SKIPPED), ("vi", FAILED)]
    assert [r.language for r in fetch_all(manifest, tmp_path, languages=["en"])] == ["en"]
    with pytest.raises(FetchError, match="Unknown language"):
        fetch_all(manifest, tmp_path, languages=["ko"])


def test_shipped_manifest_parses_and_empty_urls_are_skipped(tmp_path):
    manifest = load_fetch_list(ROOT / "data" / "guidebook" / "editions.toml")
    expected = ["ja", "ja-easy", "en", "zh-Hans", "ko", "es", "pt", "vi", "ne", "th", "id", "my", "km",
                "tl", "mn", "tr", "uk"]
    assert manifest.languages() == expected and manifest.allowed_hosts == ("www.moj.go.jp",)
    assert manifest.index_page.startswith("https://www.moj.go.jp/")

    class NoNetwork(urllib.request.OpenerDirector):
        def open(self, *a, **kw):
            raise AssertionError("no request expected")

    results = fetch_all(manifest, tmp_path / "pdf", opener=NoNetwork())
    blank = [e.language for e in manifest.entries if not e.url]
    assert [r.language for r in results if r.status == SKIPPED] == blank
    for e in manifest.entries:  # any URL a maintainer fills in must be on the official host
        assert not e.url or e.url.startswith("https://www.moj.go.jp/isa/content/")


@pytest.mark.parametrize("edition, message", [
    ({"url": "x"}, "edition #1: field 'language'"),
    ({"language": "../ja"}, "field 'language'"),
    ({"language": "ja", "url": "ftp://www.moj.go.jp/a.pdf"}, "edition #1 (ja): field 'url'"),
    ({"language": "ja", "sha256": "abc"}, "edition #1 (ja): field 'sha256'"),
    ({"language": "ja", "title": 3}, "field 'title' must be a string"),
    ({"language": "ja", "sha265": ""}, "unknown field(s) ['sha265']"),
])
def test_manifest_errors_name_the_entry_and_field(edition, message):
    with pytest.raises(FetchError) as info:
        parse_fetch_list({"allowed_hosts": ["www.moj.go.jp"], "edition": [edition]})
    assert message in str(info.value)


def test_manifest_rejects_duplicates_and_missing_hosts(tmp_path):
    with pytest.raises(FetchError, match="listed twice"):
        parse_fetch_list({"allowed_hosts": ["a"], "edition": [{"language": "ja"}, {"language": "ja"}]})
    with pytest.raises(FetchError, match="allowed_hosts"):
        parse_fetch_list({"edition": []})
    (tmp_path / "bad.toml").write_text("allowed_hosts = [", encoding="utf-8")
    with pytest.raises(FetchError, match="not valid TOML"):
        load_fetch_list(tmp_path / "bad.toml")


def test_find_pdf_links():
    html = """<ul>
      <li><a href="/isa/content/001.pdf">日本語</a></li>
      <li><a href="../../content/002.PDF#page=2">English</a></li>
      <li><a href="/isa/content/001.pdf">again</a></li>
      <li><a href="https://evil.example/003.pdf">elsewhere</a></li>
      <li><a href="/isa/support/portal/other.html">page</a><a>no href</a></li>
    </ul>"""
    base = "https://www.moj.go.jp/isa/support/portal/guidebook_all.html"
    assert find_pdf_links(html, base) == ["https://www.moj.go.jp/isa/content/001.pdf",
                                          "https://www.moj.go.jp/isa/content/002.PDF"]
    assert find_pdf_links(html, base, ["evil.example"]) == ["https://evil.example/003.pdf"]


def test_skipped_entry_touches_nothing(tmp_path):
    result = fetch_one(_manifest(FetchEntry("ja")), "ja", tmp_path / "absent")
    assert (result.status, result.reason, result.ok) == (SKIPPED, "no url in the fetch list", True)
    assert not (tmp_path / "absent").exists()


@pytest.mark.parametrize("path", ["/drip.pdf", "/drip-head.pdf"])
def test_a_dripping_server_is_cut_off_at_the_overall_deadline(servers, tmp_path, path):
    import time

    _, base, _ = servers
    started = time.monotonic()
    result = _fetch(FetchEntry("ja", base + path), tmp_path, timeout=5, deadline=1)
    assert time.monotonic() - started < 4
    assert result.status == FAILED and "fetch_deadline = 1 s" in result.reason
    assert not (tmp_path / "ja.pdf").exists()


def test_a_redirect_to_another_port_of_an_allowed_host_is_refused(servers, tmp_path):
    state, base, _ = servers
    other = _serve("127.0.0.1", _State())
    try:
        state.port_target = other.server_address[1]
        result = _fetch(FetchEntry("ja", f"{base}/redirect-port.pdf"), tmp_path)
    finally:
        other.shutdown()
        other.server_close()
    assert result.status == FAILED and "another port" in result.reason and not (tmp_path / "ja.pdf").exists()


def test_redirect_rules():
    from ingest.fetchnet import Refused, check_redirect

    hosts = ("example.go.jp",)
    check_redirect("http://example.go.jp/a.pdf", "https://example.go.jp/a.pdf", hosts)  # upgrade: fine
    check_redirect("https://example.go.jp/a.pdf", "https://example.go.jp:443/b.pdf", hosts)
    for old, new in (("https://example.go.jp/a.pdf", "https://example.go.jp:8443/a.pdf"),
                     ("https://example.go.jp/a.pdf", "http://example.go.jp/a.pdf"),
                     ("http://example.go.jp/a.pdf", "http://example.go.jp:81/a.pdf"),
                     ("https://example.go.jp/a.pdf", "https://example.go.jp:x/a.pdf")):
        with pytest.raises(Refused):
            check_redirect(old, new, hosts)
