"""``kb eval``: retrieval quality (and abstention) on a labelled question file, per mode and language.

Question file: JSON Lines, one object per question::

    {"id": "q001", "question": "在留カードをなくした", "language": "ja", "in_scope": true,
     "gold": ["1.1.3", {"source_id": "laws/326CO….html", "section": "第十九条の七"}, {"page": "12"}, {"text": "14日以内"}],
     "split": "dev", "style": "short"}

A gold target is a section id (matches that section and its subsections in any edition), or an
object whose given keys must all match a hit: ``source_id``, ``section`` (an element of the section
path or the section id), ``page`` (printed label), ``text`` (a span of the passage). Retrieval metrics
use the in-scope questions; with ``abstention``, out-of-scope ones (``"in_scope": false``) score
whether ``ask`` abstains. ``cover@5`` is the share of a question's gold targets in the top 5 (a
several-part question needs them all). Metrics are given overall ("all"), per question language,
by whether the language has an edition in the index ("edition:yes" / "edition:no"), and per style
("style:multi", ...) when questions carry one. ``split`` ("dev", "heldout") selects a subset.
With ``misses``, the report also lists what went wrong, question by question: each in-scope question
whose gold targets are not all in the top 5 (per mode: where the first one ranks, cover@5, the top 5
hits), and with ``abstention`` each answerable question ``ask`` abstained on and each out-of-scope
one it answered (verdict and support).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from answer.metrics import cover_at, summarize
from kb.errors import KBError
from kb.model import Chunk

MODES = ("dense", "keyword", "hybrid")
DEPTH = 10


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    language: str = "und"
    in_scope: bool = True
    gold: tuple[Any, ...] = ()
    split: str = ""
    style: str = ""


@dataclass
class EvalReport:
    questions: int
    modes: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # mode -> language -> metrics
    abstention: dict[str, float] | None = None
    misses: dict[str, list[dict[str, Any]]] | None = None  # "retrieval", "abstention": see module docstring

    def to_dict(self) -> dict[str, Any]:
        out = {"questions": self.questions, "modes": self.modes, "abstention": self.abstention}
        if self.misses is not None:
            out["misses"] = self.misses
        return out


def load_questions(path: Path, split: str | None = None) -> list[Question]:
    """The questions of a JSON Lines file (only those of ``split`` when given)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise KBError(f"{path}: cannot read ({exc.strerror})") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            q = Question(str(d.get("id", n)), d["question"], d.get("language", "und"),
                         bool(d.get("in_scope", True)), tuple(d.get("gold", ())), str(d.get("split", "")),
                         str(d.get("style", "")))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise KBError(f"{path}:{n}: not a question object ({exc}); see `kb eval --help`") from None
        if q.in_scope and not q.gold:
            raise KBError(f"{path}:{n}: in-scope question {q.id} has no gold targets")
        if split is None or q.split == split:
            out.append(q)
    if not out:
        raise KBError(f"{path}: no questions" + (f" in split {split!r}" if split else ""))
    return out


def matches(gold: Any, chunk: Chunk) -> bool:
    if isinstance(gold, str):
        sid = chunk.section_id or ""
        return sid == gold or sid.startswith(gold + ".")
    checks = {
        "source_id": lambda v: chunk.source_id == v,
        "section": lambda v: v == chunk.section_id or any(v in p for p in chunk.section_path),
        "page": lambda v: str(v) in (chunk.page_label, chunk.page_end_label),
        "text": lambda v: v in chunk.text,
    }
    unknown = set(gold) - set(checks)
    if unknown:
        raise KBError(f"unknown gold keys {sorted(unknown)}; use {sorted(checks)}")
    return all(checks[k](v) for k, v in gold.items())


def ranked_targets(q: Question, chunks: Iterable[Chunk]) -> list[Any]:
    """Each hit, at its own rank, as the index of the gold target it matches; a miss, or a target
    already matched higher up, is a unique non-relevant entry (ranks stay the hits' ranks)."""
    out: list[Any] = []
    for i, chunk in enumerate(chunks):
        target = next((g for g, gold in enumerate(q.gold) if matches(gold, chunk)), None)
        out.append(f"miss{i}" if target is None or target in out else target)
    return out


def groups(q: Question, editions: Iterable[str] = ()) -> list[str]:
    """The rows of the report a question counts in."""
    out = ["all", q.language]
    editions = set(editions)
    if editions:
        out.append("edition:yes" if q.language in editions else "edition:no")
    if q.style:
        out.append(f"style:{q.style}")
    return out


def evaluate(kb, questions: list[Question], modes: Iterable[str] = MODES, *,
             abstention: bool = False, sources: list[str] | None = None, misses: bool = False,
             progress=None) -> EvalReport:
    """Score ``kb`` (a KnowledgeBase) on ``questions``; metrics overall ("all") and per group, and
    with ``misses`` the questions it got wrong."""
    in_scope = [q for q in questions if q.in_scope]
    report = EvalReport(questions=len(questions), misses={"retrieval": []} if misses else None)
    editions = kb.editions()["languages"] if hasattr(kb, "editions") else {}
    for mode in modes:
        per_lang: dict[str, tuple[list, list]] = {}
        for q in in_scope:
            hits = kb.search(q.question, DEPTH, mode=mode, **({"sources": sources} if sources else {})).hits
            ranked = ranked_targets(q, (h.chunk for h in hits))
            gold = set(range(len(q.gold)))
            for lang in groups(q, editions):
                lists, golds = per_lang.setdefault(lang, ([], []))
                lists.append(ranked)
                golds.append(gold)
            if report.misses is not None and (cover := cover_at(ranked, gold, 5)) < 1:
                report.misses["retrieval"].append(_retrieval_miss(q, mode, ranked, cover, hits))
            if progress:
                progress(mode, 1, len(in_scope))
        report.modes[mode] = {lang: summarize(lists, golds) for lang, (lists, golds) in
                              sorted(per_lang.items(), key=lambda kv: (kv[0] != "all", ":" in kv[0], kv[0]))}
    if abstention:
        wrong: list[dict[str, Any]] | None = [] if misses else None
        report.abstention = abstention_metrics(kb, questions, progress, wrong=wrong)
        if report.misses is not None:
            report.misses["abstention"] = wrong or []
    return report


def _retrieval_miss(q: Question, mode: str, ranked: list[Any], cover: float, hits) -> dict[str, Any]:
    first = next((i for i, target in enumerate(ranked, 1) if isinstance(target, int)), None)
    return {"id": q.id, "language": q.language, "mode": mode, "first_gold_rank": first,
            "cover@5": round(cover, 3), "gold": list(q.gold),
            "top5": [h.chunk.section_id or h.chunk.source_id for h in hits[:5]], "question": q.question}


def abstention_metrics(kb, questions: list[Question], progress=None,
                       wrong: list[dict[str, Any]] | None = None) -> dict[str, float]:
    """Precision/recall of abstaining, with out-of-scope questions as the positive class; ``wrong``,
    when given, receives each answerable question abstained on and each out-of-scope one answered."""
    tp = fp = fn = tn = 0
    for q in questions:
        answer = kb.ask(q.question)
        abstained = answer.abstained
        if progress:
            progress("abstention", 1, len(questions))
        if abstained and not q.in_scope:
            tp += 1
        elif abstained:
            fp += 1
        elif not q.in_scope:
            fn += 1
        else:
            tn += 1
        if wrong is not None and abstained == q.in_scope:
            wrong.append({"id": q.id, "language": q.language, "in_scope": q.in_scope, "verdict": answer.verdict,
                          "support": round(answer.support, 3),
                          "top": (answer.sources[0].chunk.section_id or answer.sources[0].chunk.source_id)
                          if answer.sources else None, "question": q.question})
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": precision, "recall": recall, "out_of_scope": tp + fn, "in_scope": fp + tn,
            "abstained_in_scope": fp, "answered_out_of_scope": fn}
