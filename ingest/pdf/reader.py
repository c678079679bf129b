"""Opening a PDF (decrypting, one-line reasons for files that cannot be read) and reading
each page into its lines, images flag and crop box, one broken page at a time."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

from ingest.limits import ParseTimeout, guard
from ingest.pdf.lines import Line, build_lines
from ingest.quality import count_letters
from kb.errors import IngestError

# pypdf logs recoverable damage ("EOF marker not found", missing fontTools) as warnings; with
# no logging configured Python prints them raw to stderr in the middle of CLI output. A
# NullHandler silences that fallback; an application that configures logging still sees them.
logging.getLogger("pypdf").addHandler(logging.NullHandler())

EDGE_BAND = 0.10          # top/bottom share of the page where headers, footers, numbers sit
_ENCRYPTED = "is encrypted with a password; decrypt it first (qpdf --decrypt)"


@dataclass
class Page:
    index: int
    lines: list[Line]
    top: float
    bottom: float
    has_images: bool
    error: str | None = None
    drop: set[int] = field(default_factory=set)  # line indexes stripped as running/page no.


def open_reader(path: Path) -> PdfReader:
    """A decrypted PdfReader, or IngestError with a one-line reason naming the file."""
    if not path.exists():
        raise IngestError(f"{path}: file not found")
    if path.is_dir():
        raise IngestError(f"{path}: is a directory, not a PDF file")
    try:
        with path.open("rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise IngestError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not head:
        raise IngestError(f"{path}: file is empty (0 bytes)")
    if b"%PDF-" not in head:
        raise IngestError(f"{path}: not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except DependencyError as exc:
                raise IngestError(f"{path}: is encrypted and decrypting it needs the "
                                  "'cryptography' package (pip install cryptography)") from exc
            if not ok:
                raise IngestError(f"{path}: {_ENCRYPTED}")
        n_pages = len(reader.pages)
    except IngestError:
        raise
    except FileNotDecryptedError as exc:
        raise IngestError(f"{path}: {_ENCRYPTED}") from exc
    except PyPdfError as exc:
        raise IngestError(f"{path}: corrupt or truncated PDF, cannot be read "
                          f"({_short(exc)})") from exc
    except Exception as exc:  # pypdf also fails with bare ValueError/KeyError/zlib.error...
        raise IngestError(f"{path}: corrupt or truncated PDF, cannot be read "
                          f"({type(exc).__name__}: {_short(exc)})") from exc
    if n_pages == 0:
        raise IngestError(f"{path}: corrupt or truncated PDF, no pages found")
    return reader


def _short(exc: BaseException) -> str:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return msg if len(msg) <= 120 else msg[:117] + "..."


def meta_title(reader: PdfReader) -> str | None:
    """The PDF's /Title when it names the document (not a file name or a placeholder)."""
    try:
        raw = reader.metadata.title if reader.metadata else None
    except Exception:
        return None
    title = " ".join(str(raw or "").split())
    if not title or count_letters(title) < 2:
        return None
    lowered = title.lower()
    if re.search(r"\.(docx?|xlsx?|pptx?|pdf|indd|txt|rtf|odt)$", lowered) or \
            lowered.startswith(("microsoft word", "untitled", "無題")):
        return None
    return title


def read_page(reader: PdfReader, index: int) -> Page:
    try:
        page = reader.pages[index]
        box = page.cropbox
        top, bottom = float(box.top), float(box.bottom)
    except Exception as exc:  # one broken page must not lose the whole document
        return Page(index, [], 0.0, 0.0, False, error=_short(exc))
    try:
        lines = build_lines(page)
    except ParseTimeout:
        raise  # the whole file is over its time, not just this page
    except Exception as exc:
        return Page(index, [], top, bottom, _has_images(page), error=_short(exc))
    result = Page(index, lines, top, bottom, _has_images(page))
    height = max(top - bottom, 1.0)
    limits = guard()
    for line in lines:
        line.text = limits.line(line.text, index)
        line.edge = line.y >= top - EDGE_BAND * height or line.y <= bottom + EDGE_BAND * height
    return result


def _has_images(page: Any, depth: int = 0) -> bool:
    """Any image XObject in the page (or its forms' resources): cheap, nothing is decoded."""
    try:
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else None
        xobjects = resources.get("/XObject") if resources else None
        if not xobjects:
            return False
        for ref in xobjects.get_object().values():
            obj = ref.get_object()
            subtype = obj.get("/Subtype")
            if subtype == "/Image":
                return True
            if subtype == "/Form" and depth < 3 and _has_images(obj, depth + 1):
                return True
    except Exception:  # broken resources: treat as no images, text decides
        return False
    return False
