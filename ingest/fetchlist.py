"""The fetch list (``data/guidebook/editions.toml``): which official edition PDFs ``kb fetch`` downloads.

The Immigration Services Agency publishes each language edition as one whole-book PDF under an
opaque URL, so a maintainer copies the URLs from the index page into this list; ``kb fetch``
fetches only what is listed, and only from its ``allowed_hosts``. Each ``[[edition]]`` entry names
a language and optionally its URL, a pinned sha256, and the title and release printed on its cover.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urljoin, urlsplit

from kb.errors import FetchError

# Language tags become file names, so they must be plain tags (no "/", "..", spaces).
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
ENTRY_KEYS = {"language", "title", "release", "edition", "url", "sha256"}  # "edition": release's former name


@dataclass(frozen=True)
class FetchEntry:
    language: str
    url: str = ""  # empty: not yet copied from the index page; reported "skipped"
    sha256: str = ""  # empty: not pinned; otherwise the download must match it
    title: str = ""
    release: str = ""


@dataclass(frozen=True)
class FetchList:
    allowed_hosts: tuple[str, ...]
    entries: tuple[FetchEntry, ...]
    index_page: str = ""
    path: Path | None = None

    def languages(self) -> list[str]:
        return [e.language for e in self.entries]

    def get(self, language: str) -> FetchEntry:
        for e in self.entries:
            if e.language == language:
                return e
        raise FetchError(f"No edition {language!r} in the fetch list; it has {self.languages()}")


def load_fetch_list(path: str | Path) -> FetchList:
    """Parse and validate ``editions.toml``; each error names the entry and the field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FetchError(f"{path}: no such fetch list") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FetchError(f"{path}: not valid TOML ({exc})") from None
    return parse_fetch_list(data, source=str(path), path=path)


def parse_fetch_list(data: dict[str, Any], source: str = "fetch list", path: Path | None = None) -> FetchList:
    unknown = sorted(set(data) - {"index_page", "allowed_hosts", "edition"})
    if unknown:
        raise FetchError(f"{source}: unknown top-level key(s) {unknown}; "
                         "valid: allowed_hosts, edition, index_page")
    hosts = data.get("allowed_hosts")
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and h for h in hosts):
        raise FetchError(f"{source}: allowed_hosts must be a non-empty list of host names")
    index_page = data.get("index_page", "")
    if not isinstance(index_page, str):
        raise FetchError(f"{source}: index_page must be a string")
    raw = data.get("edition", [])
    if not isinstance(raw, list):
        raise FetchError(f"{source}: 'edition' must be an array of tables ([[edition]])")
    entries = tuple(_parse_entry(item, f"{source}: edition #{i + 1}") for i, item in enumerate(raw))
    seen: set[str] = set()
    for e in entries:
        if e.language in seen:
            raise FetchError(f"{source}: language {e.language!r} is listed twice")
        seen.add(e.language)
    return FetchList(tuple(h.lower() for h in hosts), entries, index_page, path)


def _parse_entry(item: Any, where: str) -> FetchEntry:
    if not isinstance(item, dict):
        raise FetchError(f"{where}: must be a table")
    language = item.get("language")
    if not isinstance(language, str) or not LANGUAGE_RE.match(language):
        raise FetchError(f"{where}: field 'language' must be a tag like 'ja' or 'zh-Hans', "
                         f"got {language!r}")
    where = f"{where} ({language})"
    unknown = sorted(set(item) - ENTRY_KEYS)
    if unknown:
        raise FetchError(f"{where}: unknown field(s) {unknown}; valid: {sorted(ENTRY_KEYS)}")
    for key in ENTRY_KEYS - {"language"}:
        if not isinstance(item.get(key, ""), str):
            raise FetchError(f"{where}: field {key!r} must be a string")
    url = item.get("url", "").strip()
    if url and urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"{where}: field 'url' must be an http(s) URL, got {url!r}")
    sha = item.get("sha256", "").strip().lower()
    if sha and not SHA256_RE.match(sha):
        raise FetchError(f"{where}: field 'sha256' must be 64 hex digits or empty")
    return FetchEntry(language, url, sha, item.get("title", ""), item.get("release") or item.get("edition", ""))


class _PdfLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href.strip())


def find_pdf_links(html: str, base_url: str, allowed_hosts: Sequence[str] | None = None) -> list[str]:
    """Absolute URLs of ``<a href=...pdf>`` links on the index page, in page order, deduplicated,
    on ``allowed_hosts`` (default: the page's own host). Candidates only: the opaque ids do not say
    which language a PDF is, so a maintainer still matches them up by the link text on the page."""
    parser = _PdfLinks()
    parser.feed(html)
    parser.close()
    hosts = {h.lower() for h in (allowed_hosts or [urlsplit(base_url).hostname or ""])}
    found: list[str] = []
    for href in parser.hrefs:
        url = urljoin(base_url, href).split("#")[0]
        parts = urlsplit(url)
        if (parts.scheme in ("http", "https") and (parts.hostname or "").lower() in hosts
                and parts.path.lower().endswith(".pdf") and url not in found):
            found.append(url)
    return found
