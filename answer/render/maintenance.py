"""The terminal's views (rich) of what the maintainer reads: index status, editions, sync reports,
version diffs, evaluations and fetches. Same layout rules as ``answer.render.terminal``: lines
wrapped for the terminal's width, nothing cut short, labels in the UI language."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from answer.render.i18n import label, ui_language
from answer.render.layout import Lines, fields, para
from kb.reports import SourceStatus, Status, SyncReport

INDENT = 2


def _editions_first_ja(languages: Iterable[str]) -> list[str]:
    return sorted(languages, key=lambda lang: (lang != "ja", lang != "ja-easy", lang))


def status_view(status: Status, verbose: bool = False, ui: str | None = None) -> Lines:
    """The index, model and search settings; then per edition its documents grouped by title and
    release (every document with ``verbose``)."""
    lang = ui_language(ui)
    groups: dict[str, dict[tuple[str, str], list[SourceStatus]]] = defaultdict(lambda: defaultdict(list))
    for s in status.sources:
        groups[s.language][(s.title, s.release)].append(s)

    def build(width: int) -> list[Text | str]:
        out: list[Text | str] = fields([
            (label("index", lang), f"{status.index} ({label('version', lang)} {status.version})"),
            (label("model", lang), f"{status.model} ({status.dim}-d), {status.analyzer}"),
            (label("content", lang), label("content_line", lang, chunks=status.chunks, sentences=status.sentences,
                                           documents=len(status.sources), editions=len(groups))
                + (label("examples_line", lang, examples=status.examples) if status.examples else "")),
            (label("search", lang), label("search_line", lang, fusion=status.fusion, depth=status.rerank_depth, size=status.chunk_size,
                       overlap=status.chunk_overlap, created=status.created)),
            *([(label("disk", lang), ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in status.disk.items()))]
              if status.disk else []),
        ], width)
        out += ["", *para(label("editions", lang), width, style="bold")]
        code = max((len(e) for e in groups), default=0) + 2
        for edition in _editions_first_ja(groups):
            for (title, release), docs in sorted(groups[edition].items()):
                out += para(f"{title} [{release}]" if release else title, width, first=edition.ljust(code),
                            indent=INDENT)
                hang = INDENT + code
                counts = [label("documents_n", lang, n=len(docs)),
                          label("chunks_n", lang, n=sum(d.chunks for d in docs))]
                skipped = sum(len(d.issues) for d in docs)
                if skipped:
                    counts.append(label("skipped_n", lang, n=skipped))
                out += para(", ".join(counts), width, indent=hang, style="dim")
                if verbose:
                    out += [line for d in docs for line in para(
                        f"{d.source_id}: {label('chunks_n', lang, n=d.chunks)}"
                        + (f", {label('skipped_n', lang, n=len(d.issues))}" if d.issues else ""),
                        width, indent=hang + 2)]
        if not verbose and status.sources:
            out += ["", *para(label("verbose_hint", lang), width, style="dim")]
        return out

    return Lines(build)


def editions_view(info: dict[str, Any], ui: str | None = None) -> Lines:
    """Per edition: chunks, sections, and the sections it lacks or adds compared with Japanese."""
    lang = ui_language(ui)

    def build(width: int) -> list[Text | str]:
        out: list[Text | str] = []
        for edition in _editions_first_ja(info["languages"]):
            a = info["alignment"].get(edition)
            counts = [label("chunks_n", lang, n=info["languages"][edition])]
            if a is not None:
                counts.append(label("sections_n", lang, n=len(a["sections"])))
            out += para(", ".join(counts), width, first=f"{edition}  ", style="bold")
            if a is None:
                out += para(label("base_edition", lang), width, indent=INDENT, style="dim")
                continue
            for key in ("missing", "only_here"):
                out += para(f"{label(key, lang)}: {', '.join(a[key]) or label('none', lang)}", width, indent=INDENT)
        return out

    return Lines(build)


def sync_view(report: SyncReport, ui: str | None = None) -> Lines:
    """What a sync did: sources with problems, then the counts (the same ones the progress bars showed)."""
    def build(width: int) -> list[Text | str]:
        out: list[Text | str] = para(f"Indexed into {report.index}", width, style="bold")
        for s in report.sources:
            if s.error:
                out += para(f"{s.source_id}: {s.error}", width, indent=INDENT, style="red")
            elif s.issues:
                pages = "; ".join(f"p. {i.page_label or (i.page_index or 0) + 1}: {i.reason}" for i in s.issues[:5])
                more = f" … (+{len(s.issues) - 5})" if len(s.issues) > 5 else ""
                out += para(f"{s.source_id}: {s.chunks} chunks; skipped {pages}{more}", width, indent=INDENT,
                            style="yellow")
        d, c = report.changes.documents, report.changes.chunks
        out += para(f"documents: {len(d.added)} added, {len(d.changed)} changed, {len(d.removed)} removed, "
                    f"{d.unchanged} unchanged", width)
        out += para(f"chunks: {c.added} added, {c.removed} removed, {c.unchanged} unchanged; embedded "
                    f"{c.embedded} passages and {c.sentences_embedded} sentences (the rest from the cache)", width)
        good = sum(1 for s in report.sources if not s.error)
        asked = f"; {report.examples} example questions" if report.examples else ""
        out += para(f"{report.chunks} chunks from {good} sources{asked} in {report.seconds:.1f} s "
                    f"({report.passages_per_second:.1f} texts/s embedded); version {report.version}", width)
        return out

    return Lines(build)


def diff_view(report: dict[str, Any], ui: str | None = None) -> Lines:
    """Sections added, removed and changed between two versions, with the changed lines."""
    def build(width: int) -> list[Text | str]:
        out: list[Text | str] = para(
            f"{report['old']} -> {report['new']}: {len(report['added'])} added, {len(report['removed'])} removed, "
            f"{len(report['changed'])} changed, {report['unchanged']} unchanged", width, style="bold")
        for kind, color in (("added", "green"), ("removed", "red"), ("changed", "yellow")):
            for sec in report[kind]:
                out += para(f"[{sec['language']}] {sec['title']} § {sec['section']}", width, first=f"{kind} ",
                            style=color)
                for line in sec.get("diff", ()) if kind == "changed" else ():
                    style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
                    out += para(line, width, indent=INDENT, style=style)
        return out

    return Lines(build)


def eval_view(report: dict[str, Any], title: str) -> RenderableType:
    """Retrieval metrics per mode and question language (numbers and language codes: a table fits)."""
    keys = ("R@1", "R@5", "R@10", "cover@5", "MRR@10", "nDCG@10")
    table = Table(title=f"{title} ({report['questions']} questions)", title_justify="left")
    for col in ("mode", "language", "n", *keys):
        table.add_column(col, justify="left" if col in ("mode", "language") else "right")
    for mode, langs in report["modes"].items():
        for lang, r in langs.items():
            table.add_row(mode, lang, str(r["n"]), *(f"{r[k]:.3f}" for k in keys))
    parts: list[RenderableType] = [table]
    if report.get("abstention"):
        a = report["abstention"]
        parts.append(Text(f"abstention: precision {a['precision']:.3f}, recall {a['recall']:.3f} "
                          f"({a['out_of_scope']} out-of-scope, {a['in_scope']} in-scope questions)"))
    misses = report.get("misses") or {}
    if misses.get("retrieval"):
        parts.append(Text("\nGold not all in the top 5:", style="bold"))
        for m in misses["retrieval"]:
            parts.append(Text(f"{m['id']} [{m['language']}, {m['mode']}] first gold at {m['first_gold_rank'] or '-'}, "
                              f"cover@5 {m['cover@5']:.2f}; gold {' '.join(map(_target, m['gold']))}; "
                              f"top 5 {' '.join(map(str, m['top5']))}\n    {m['question']}"))
    if misses.get("abstention"):
        parts.append(Text("\nWrong abstentions:", style="bold"))
        for m in misses["abstention"]:
            kind = "answerable, abstained" if m["in_scope"] else "out of scope, " + m["verdict"]
            parts.append(Text(f"{m['id']} [{m['language']}] {kind} (support {m['support']:.3f}, "
                              f"top {m['top'] or '-'})\n    {m['question']}"))
    return Group(*parts)


def _target(gold: Any) -> str:
    """A gold target as a short label: a section id, or an object's values."""
    return gold if isinstance(gold, str) else "/".join(str(v) for v in gold.values())


def fetch_view(results: Iterable[dict[str, Any]], target: str) -> Lines:
    """One line per edition of the fetch list: downloaded, skipped or failed, and why."""
    rows = list(results)

    def build(width: int) -> list[Text | str]:
        out: list[Text | str] = para(f"Fetched into {target}", width, style="bold")
        for r in rows:
            style = {"failed": "red", "skipped": "dim"}.get(r["status"])
            out += para(f"{r['status']}: {r['reason'] or (r['sha256'] or '')[:16]}", width,
                        first=f"{r['language']}  ", indent=INDENT, style=style)
        return out

    return Lines(build)
