"""Example questions: what residents ask, each labelled with the guidebook section that answers it.

A file named ``questions.jsonl`` (or ``<anything>.questions.jsonl``) under the paths given to
``kb sync`` holds one question per line, ``{"section": "1.1.3", "language": "vi", "question": "..."}``;
blank lines and lines starting with ``#`` are skipped. Example questions are not documents: they are
never shown or cited. The index embeds them as queries (``index.questions``), and a desk question
close to a section's examples is evidence for that section (``answer.sections``, feature ``asked``):
e5 puts a question nearer another question about the same situation, in any language, than to the
guidebook prose that answers it ("nhà công của thành phố" and the examples of 11.1.2 公営住宅).
Section ids are the guidebook's dotted numbers, the same in every edition, so one file serves them all.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from kb.errors import IngestError
from kb.model import numbered

SUFFIX = "questions.jsonl"


@dataclass(frozen=True)
class ExampleQuestion:
    section: str
    language: str
    text: str


def is_questions_file(path: Path) -> bool:
    return path.name == SUFFIX or path.name.endswith("." + SUFFIX)


def collect_questions(paths: Sequence[Path]) -> list[Path]:
    """Every example-question file under ``paths`` (sorted, deduplicated)."""
    found: set[Path] = set()
    for given in map(Path, paths):
        if given.is_file():
            candidates = [given]
        elif given.is_dir():
            candidates = sorted(given.rglob("*" + SUFFIX))
        else:
            continue  # a missing path is reported by ingest.loader.collect
        found.update(p.resolve() for p in candidates if is_questions_file(p) and not p.name.startswith("."))
    return sorted(found)


def read_questions(path: Path) -> list[ExampleQuestion]:
    """The questions of one file; IngestError naming the file and line of anything malformed."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(f"{path}: cannot be read as UTF-8 text ({exc})") from exc
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise IngestError(f"{where}: not a JSON object ({exc})") from exc
        if not isinstance(item, dict):
            raise IngestError(f"{where}: not a JSON object")
        section, language, text = (item.get(k) for k in ("section", "language", "question"))
        if not all(isinstance(v, str) and v.strip() for v in (section, language, text)):
            raise IngestError(f'{where}: needs "section", "language" and "question", each a non-empty string')
        if not numbered(section):
            raise IngestError(f"{where}: section {section!r} is not a guidebook section number such as 1.1.3")
        out.append(ExampleQuestion(section.strip(), language.strip(), " ".join(text.split())))
    return out


def load_questions(paths: Sequence[Path]) -> list[ExampleQuestion]:
    """The example questions of every file under ``paths``, each distinct (section, question) once."""
    seen: dict[tuple[str, str], ExampleQuestion] = {}
    for path in collect_questions(paths):
        for q in read_questions(path):
            seen.setdefault((q.section, q.text), q)
    return list(seen.values())
