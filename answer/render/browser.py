"""A headless browser (Chromium or Chrome), when one is installed, turns a handout into a PDF or a
screenshot. Optional: the HTML is the handout; the PDF is a convenience for printing without a
browser window. ``KB_BROWSER`` names the executable when it is not on PATH under a usual name."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from kb.errors import KBError

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
# No network, no first-run work, no sandbox (it needs user namespaces, often missing in containers).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")
TIMEOUT = 60.0  # seconds


def find_browser() -> str | None:
    """The headless browser to use, or None when none is installed."""
    named = os.environ.get("KB_BROWSER")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    return next((found for name in NAMES if (found := shutil.which(name))), None)


def _run(args: list[str], output: Path) -> Path:
    browser = find_browser()
    if browser is None:
        raise KBError("no headless browser found for the PDF: install Chromium (apt-get install chromium) "
                      "or set KB_BROWSER; the HTML handout prints from any browser")
    output.unlink(missing_ok=True)  # a file left from an earlier run must not pass for this one
    with tempfile.TemporaryDirectory(prefix="kb-browser-") as profile:  # a throwaway profile: no state kept
        try:
            done = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                                  text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise KBError(f"{browser} did not finish within {TIMEOUT:.0f} s") from None
    if not output.is_file() or output.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise KBError(f"{browser} wrote no {output.name} (exit {done.returncode}: {last})")
    return output


def print_pdf(html_file: Path, pdf_file: Path) -> Path:
    """``html_file`` printed to ``pdf_file`` (A4, as its print CSS says), without header or footer lines."""
    return _run(["--no-pdf-header-footer", f"--print-to-pdf={pdf_file.resolve()}", html_file.resolve().as_uri()],
                pdf_file)


def screenshot(html_file: Path, png_file: Path, *, width: int = 900, height: int = 1300) -> Path:
    """A PNG of ``html_file`` as a screen shows it (to check the layout by eye)."""
    return _run([f"--window-size={width},{height}", f"--screenshot={png_file.resolve()}",
                 html_file.resolve().as_uri()], png_file)
