"""Re-run the red-team categories of issue 14 against this checkout and print the summary table.

    python -m bench.redteam [--real-model] [--kills 8]

Every case runs the real `kb` command (or `kb serve`) in a subprocess, with a time limit (a case
over it is a hang) and its stderr searched for a Python traceback. Categories: hostile inputs,
kill -9 during sync and rollback, disk full (a 3 MB tmpfs when it can be mounted, else an injected
ENOSPC, said so in the table), tampered index files, HTTP attacks on a running `kb serve`. The fake
embedder stands in for the model unless --real-model (the model changes no outcome, only the time).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import model_cache  # noqa: E402

FAKE = ("from tests.fakes import FakeEmbedder; from index.embed import ModelSpec, register_model; "
        "f = FakeEmbedder(); register_model('fake', ModelSpec(identity=lambda: f.model_id, "
        "factory=lambda threads, batch: f)); ")
GOOD = "# 第1章 在留\n## 1 在留カード\n在留カードをなくしたときは、14日以内に再交付を申請します。\n"


@dataclass
class Tally:
    tried: int = 0
    handled: int = 0
    hangs: int = 0
    tracebacks: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, ok: bool, *, hang: bool = False, traceback: bool = False) -> None:
        self.tried += 1
        self.handled += ok and not hang and not traceback
        self.hangs += hang
        self.tracebacks += traceback
        if not ok or hang or traceback:
            self.notes.append(name)


class Runner:
    def __init__(self, work: Path, real_model: bool) -> None:
        self.work = work
        self.env = {**os.environ, "KB_HOME": str(work / "home"), "PYTHONPATH": str(ROOT),
                    "KB_ABSTAIN_BELOW": "0", "KB_UNSURE_BELOW": "0", "KB_MODEL_CACHE": str(model_cache())}
        self.prefix = "" if real_model else FAKE
        if not real_model:
            self.env["KB_MODEL"] = "fake"

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-c", self.prefix + "import cli; cli.main()", *args]

    def kb(self, *args: str, timeout: float = 120) -> tuple[int | None, str, str, float]:
        """(exit code or None on a hang, stdout, stderr, seconds)."""
        started = time.perf_counter()
        try:
            done = subprocess.run(self.argv(*args), cwd=ROOT, env=self.env, capture_output=True, text=True,
                                  timeout=timeout, errors="replace")
        except subprocess.TimeoutExpired as exc:
            return None, "", str(exc.stderr or ""), time.perf_counter() - started
        return done.returncode, done.stdout, done.stderr, time.perf_counter() - started


def traced(text: str) -> bool:
    return "Traceback (most recent call last)" in text


def folder(root: Path, name: str, files: dict[str, bytes]) -> Path:
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        target = os.fsencode(path) + b"/" + (rel if isinstance(rel, bytes) else rel.encode())
        with open(target, "wb") as f:
            f.write(data)
    return path


def hostile_inputs(run: Runner, tally: Tally, timings: dict[str, float]) -> None:
    from reportlab.pdfgen import canvas

    from tests.pdfgen import make_corrupt, make_guidebook, make_image_only

    work = run.work / "hostile"
    work.mkdir()
    pdfs = work / "pdfs"
    pdfs.mkdir()
    digits = pdfs / "digits.pdf"
    c = canvas.Canvas(str(digits))
    for page in range(8):
        for i, word in enumerate(["Rent", "Water", "Power", "Gas", "Tax"]):
            c.drawString(72, 700 - i * 30, f"{word} costs {page * 13 + i * 7 + 100} yen")
        c.showPage()
    c.save()
    many = pdfs / "many_pages.pdf"
    c = canvas.Canvas(str(many))
    for page in range(1200):
        c.drawString(72, 700, f"Page {page} text line about residence cards number {page}.")
        c.showPage()
    c.save()
    make_guidebook(pdfs / "ja.pdf")
    make_corrupt(pdfs / "corrupt.pdf", pdfs / "ja.pdf")
    make_image_only(pdfs / "scan.pdf")
    deep = (b'<html><body><div id="lawTitle" class="_shokanBoxParent">x</div><section id="MainProvision" '
            b'class="MainProvision">' + b"<section>" * 20000 + b"deep" + b"</section>" * 20000 + b"</section></body></html>")
    cases: dict[str, dict] = {
        "heading of 10,000 spaces": {"a.md": ("# a" + " " * 10_000 + "b\n\n本文です。\n").encode()},
        "Shift_JIS file name": {"在留カード.md".encode("cp932"): GOOD.encode()},
        "20,000 nested sections": {"100AC0000000001_20250601_000.html": deep},
        "PDF lines differing only in digits": {"digits.pdf": digits.read_bytes()},
        "1,200-page PDF (max_pdf_pages 1000)": {"many.pdf": many.read_bytes()},
        "20 MB single line": {"line.md": b"# 1 x\n" + "在留カード".encode() * 1_400_000},
        "10,000 tiny files (max_files 1000)": {f"t{n:05d}.md": f"# {n}\n本文{n}です。\n".encode() for n in range(10_000)},
        "not UTF-8 text": {"latin.md": "# café\nrésumé\n".encode("latin-1") + b"\xff\xfe"},
        "empty and whitespace files": {"empty.md": b"", "blank.txt": b" \n\t\n"},
        "garbage .pdf": {"garbage.pdf": os.urandom(5000), "header.pdf": b"%PDF-1.7\n" + os.urandom(3000)},
        "truncated PDF": {"corrupt.pdf": (pdfs / "corrupt.pdf").read_bytes()},
        "image-only PDF": {"scan.pdf": (pdfs / "scan.pdf").read_bytes()},
        "HTML that is no law page": {"page.html": b"<html><body>hello</body></html>"},
        "ANSI escapes and U+202E": {"esc.md": "# \x1b]0;x\x07題\n在留\x1b[2Jカード\u202etxt.exe\u202c。\n".encode()},
        "NUL bytes and controls": {"nul.md": b"# a\x00b\n\x01\x02text\x7f\n"},
        "unclosed front matter": {"fm.md": b"+++\ntitle = 'x'\n# 1\ntext\n"},
        "table separator runs": {"t.md": b"|" + b"-|" * 200_000 + b"x\n"},
        "dot-leader line": {"toc.txt": ("第1章 目次" + "・" * 200_000 + "x\n").encode()},
    }
    for name, files in cases.items():
        src = folder(work, f"case{len(timings)}", {**files, "good.md": GOOD.encode()})
        code, out, err, seconds = run.kb("sync", str(src), "--index", str(work / f"idx{len(timings)}"), "--json",
                                         timeout=300)
        timings[name] = seconds
        ok = code == 0
        if ok:
            report = json.loads(out)
            ok = any(s["source_id"].endswith("good.md") and s["chunks"] for s in report["sources"])
        if ok and name.startswith("ANSI"):
            _, shown, _, _ = run.kb("search", "在留カード", "--index", str(work / f"idx{len(timings) - 1}"))
            ok = not set(shown) & {"\x1b", "\x07", "\u202e"}
        tally.add(name, ok, hang=code is None, traceback=traced(err))


def kills(run: Runner, tally: Tally, n: int) -> None:
    work = run.work / "kills"
    src = folder(work, "src", {f"{k}.md": (GOOD + f"追加{k}の段落です。" * 40).encode() for k in range(30)})
    index = work / "idx"
    run.kb("sync", str(src), "--index", str(index))
    rng = random.Random(14)
    for attempt in range(n):
        (src / f"new{attempt}.md").write_text(GOOD + f"版{attempt}の段落。" * 200, encoding="utf-8")
        for command in (("sync", str(src)), ("rollback",)):
            proc = subprocess.Popen(run.argv(*command, "--index", str(index)), cwd=ROOT, env=run.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(rng.uniform(0.3, 3.0) if command[0] == "sync" else rng.uniform(0.2, 1.2))
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate()
            code, _, err2, _ = run.kb("search", "在留カード", "--index", str(index), "--json", timeout=60)
            tally.add(f"kill -9 during {command[0]} #{attempt}", code == 0, hang=code is None,
                      traceback=traced(err) or traced(err2))
    code, _, err, _ = run.kb("sync", str(src), "--index", str(index), timeout=300)
    stray = list(index.glob(".CURRENT.*")) + list((index / "staging").glob("*"))
    tally.add("sync after the kills", code == 0 and not stray, hang=code is None, traceback=traced(err))


def disk_full(run: Runner, tally: Tally) -> str:
    mount = Path("/mnt/kb-redteam")
    mount.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True).returncode:
        return simulated_disk_full(run, tally)
    try:
        src = folder(run.work, "full-src", {"a.md": GOOD.encode()})
        run.kb("sync", str(src), "--index", str(mount / "idx"))
        (src / "b.md").write_text(GOOD + "二版。\n", encoding="utf-8")
        run.kb("sync", str(src), "--index", str(mount / "idx"))  # two versions: a rollback has somewhere to go
        for k in range(60):
            (src / f"{k}.md").write_text("# 1 大\n" + "".join(f"段落{k}の{j}番目の文です。" for j in range(300)),
                                         encoding="utf-8")
        for name, args in (("sync onto a full tmpfs", ("sync", str(src), "--json")),
                           ("rollback on a full tmpfs", ("rollback",)),
                           ("search on a full tmpfs (the live version still answers)", ("search", "在留カード"))):
            code, out, err, _ = run.kb(*args, "--index", str(mount / "idx"), timeout=300)
            expected = {0} if name.startswith("search") else {1} if name.startswith("sync") else {0, 1}
            tally.add(name, code in expected and len(err.strip().splitlines()) <= 1, hang=code is None,
                      traceback=traced(err))
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
    return "3 MB tmpfs"


def simulated_disk_full(run: Runner, tally: Tally) -> str:
    code = ("import errno, index.version as v\n"
            "def full(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device')\n"
            "v.write_store = full\nimport cli; cli.main()")
    src = folder(run.work, "full-src", {"a.md": GOOD.encode()})
    done = subprocess.run([sys.executable, "-c", run.prefix + code, "sync", str(src), "--index", str(run.work / "f")],
                          cwd=ROOT, env=run.env, capture_output=True, text=True, timeout=120)
    tally.add("sync with ENOSPC injected", done.returncode == 1, traceback=traced(done.stderr))
    return "ENOSPC injected (no tmpfs)"


def tampered(run: Runner, tally: Tally) -> None:
    from index.layout import IndexLayout
    from index.manifest import MANIFEST, checksums
    from tests.test_integrity import TAMPERING

    for forge in (False, True):
        for name, (target, tamper) in sorted(TAMPERING.items()):
            src = folder(run.work, f"t-src-{forge}-{name}", {"a.md": GOOD.encode()})
            index = run.work / f"t-idx-{forge}-{name.replace(' ', '_')}"
            run.kb("sync", str(src), "--index", str(index))
            live = IndexLayout(index).current()
            tamper(live / target)
            if forge:
                data = json.loads((live / MANIFEST).read_text())
                (live / MANIFEST).write_text(json.dumps({**data, "files": checksums(live)}))
            code, out, err, _ = run.kb("search", "在留カード", "--index", str(index), timeout=60)
            ok = code == 1 and len(err.strip().splitlines()) == 1 and "kb rollback" in err
            tally.add(f"{name}{' (checksum forged)' if forge else ''}", ok, hang=code is None, traceback=traced(err))
    for pointer in ("../../elsewhere/versions/v000001-x", "/etc", ".."):
        (index / "CURRENT").write_text(pointer + "\n")
        code, _, err, _ = run.kb("status", "--index", str(index), timeout=60)
        tally.add(f"CURRENT = {pointer}", code == 1 and "kb rollback" in err, hang=code is None, traceback=traced(err))


def http_attacks(run: Runner, tally: Tally) -> None:
    import base64
    import hashlib
    import hmac

    import httpx

    src = folder(run.work, "http-src", {"a.md": GOOD.encode()})
    index = run.work / "http-idx"
    run.kb("sync", str(src), "--index", str(index))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret = base64.b64encode(b"k" * 32).decode()
    env = {**run.env, "TEAMS_SHARED_SECRET": secret, "SLACK_SIGNING_SECRET": "s3cret", "SLACK_BOT_TOKEN": "xoxb-1",
           "KB_SERVE_REQUEST_TIMEOUT": "2", "KB_RELOAD_EVERY": "0.2"}
    server = subprocess.Popen(run.argv("serve", "--index", str(index), "--port", str(port)), cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=base, trust_env=False, timeout=30)
    deadline = time.time() + 120
    while True:
        try:
            if http.get("/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
        if time.time() > deadline:
            raise SystemExit("kb serve did not start")

    def teams(body: bytes, key: bytes = b"k" * 32) -> httpx.Response:
        sig = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
        return http.post("/teams", content=body, headers={"Authorization": "HMAC " + sig})

    def slack(body: str, secret_: str = "s3cret", age: int = 0, **headers: str) -> httpx.Response:
        ts = str(int(time.time()) - age)
        sig = "v0=" + hmac.new(secret_.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        return http.post("/slack/events", content=body.encode(), headers={
            "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type": "application/json", **headers})

    def slow(payload: bytes) -> int:
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.settimeout(10)
            started = time.time()
            s.sendall(payload)
            try:
                while s.recv(4096):
                    pass
            except socket.timeout:
                return 0
            return 200 if time.time() - started < 6 else 0

    big = b'{"query": "' + b"a" * 10_000_000 + b'"}'
    deep = b'{"text": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    event = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_mention", "text": "x",
                                                                               "ts": "1.0", "channel": "C"}})
    attacks: list[tuple[str, Callable[[], int], set[int]]] = [
        ("slow headers", lambda: slow(b"GET /health HTTP/1.1\r\nHost: x\r\n"), {200}),
        ("silent connection", lambda: slow(b""), {200}),
        ("slow body", lambda: slow(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"), {200}),
        ("10 MB body with Content-Length", lambda: http.post("/search", content=big).status_code, {413}),
        ("10 MB chunked body", lambda: http.post("/search", content=iter([big[i:i + 65536] for i in
                                                                          range(0, len(big), 65536)])).status_code, {413}),
        ("Teams, signed, 30,000-deep JSON", lambda: teams(deep).status_code, {400}),
        ("Teams, forged signature", lambda: teams(b'{"text": "x"}', b"x" * 32).status_code, {401}),
        ("Slack, forged signature", lambda: slack(event, "wrong").status_code, {401}),
        ("Slack, replayed (10 min old)", lambda: slack(event, age=600).status_code, {401}),
        ("Slack, forged retry", lambda: slack(event, "wrong", **{"X-Slack-Retry-Num": "1"}).status_code, {401}),
        ("Slack, signed 30,000-deep JSON", lambda: slack(deep.decode()).status_code, {400}),
        ("/search, 30,000-deep JSON", lambda: http.post("/search", content=deep).status_code, {400, 413, 422}),
        ("/search, not JSON", lambda: http.post("/search", content=b"\xff\x00").status_code, {400, 422}),
        ("/search, k = 10^9", lambda: http.post("/search", json={"query": "x", "k": 10**9}).status_code, {422}),
        ("/search, 3,000-character query", lambda: http.post("/search", json={"query": "あ" * 3000}).status_code, {422}),
        ("/search, control characters", lambda: http.post("/search", json={"query": "\x00\x1b[2J\u202e"}).status_code,
         {200, 400}),
        ("path traversal", lambda: http.get("/../../etc/passwd").status_code, {404}),
        ("X-Request-ID header injection", lambda: http.get("/health", headers={"X-Request-ID": "a\tb;<x>"}).status_code,
         {200}),
        ("unknown method", lambda: http.request("PROPFIND", "/search").status_code, {405}),
    ]
    for name, attack, expected in attacks:
        try:
            code = attack()
        except httpx.TimeoutException:
            tally.add(name, False, hang=True)
            continue
        except httpx.TransportError:
            code = -1
        tally.add(name, code in expected)
    # 24 searches while a damaged newer version is published: every one answered from the last good one
    from index.layout import IndexLayout

    run.kb("sync", str(folder(run.work, "http-src", {"b.md": (GOOD + "新しい段落。\n").encode()})), "--index", str(index))
    vectors = IndexLayout(index).current() / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:100])
    codes = []
    for _ in range(24):
        codes.append(http.post("/search", json={"query": "在留カード"}).status_code)
        time.sleep(0.05)
    tally.add("24 searches with a truncated vectors.faiss published", codes == [200] * 24)
    alive = http.get("/health").status_code == 200
    server.send_signal(signal.SIGTERM)
    _, err = server.communicate(timeout=60)
    tally.add("server alive after the attacks, no traceback in its log", alive, traceback=traced(err))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-model", action="store_true", help="use the configured embedding model")
    parser.add_argument("--kills", type=int, default=8, help="kill -9 rounds (each: one sync, one rollback)")
    args = parser.parse_args()
    from bench.common import machine

    with tempfile.TemporaryDirectory(prefix="kb-redteam-") as tmp:
        run = Runner(Path(tmp), args.real_model)
        tallies: dict[str, Tally] = {}
        timings: dict[str, float] = {}
        started = time.perf_counter()
        for name, step in (("hostile inputs", lambda t: hostile_inputs(run, t, timings)),
                           ("kill -9 during sync and rollback", lambda t: kills(run, t, args.kills)),
                           ("disk full", None), ("tampered index files", lambda t: tampered(run, t)),
                           ("HTTP attacks", lambda t: http_attacks(run, t))):
            tally = tallies.setdefault(name, Tally())
            if step is None:
                tallies[f"disk full ({disk_full(run, tally)})"] = tallies.pop(name)
            else:
                step(tally)
    print(f"\n{machine()} · {'real model' if args.real_model else 'fake embedder'} · "
          f"{time.perf_counter() - started:.0f} s\n")
    print("| category | tried | handled | hangs | tracebacks |\n|---|---|---|---|---|")
    for name, t in tallies.items():
        print(f"| {name} | {t.tried} | {t.handled} | {t.hangs} | {t.tracebacks} |")
    total = [sum(getattr(t, k) for t in tallies.values()) for k in ("tried", "handled", "hangs", "tracebacks")]
    print("| **all** | {} | {} | {} | {} |".format(*total))
    print("\nsync seconds per hostile input: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    for name, t in tallies.items():
        if t.notes:
            print(f"not handled in {name}: {', '.join(t.notes)}")


if __name__ == "__main__":
    main()
