"""The terminal's views (rich) of what the desk reads: answers, hits, sections, the shell's words.

Each function turns one result into a renderable that ``Console.print`` lays out for the terminal's
width (``answer.render.layout``): text wrapped with Japanese line-breaking rules, citations on lines
of their own, labels in the desk worker's language (``answer.render.i18n``; ``ui`` is the
``ui_lang`` setting). The maintainer's views (status, editions, sync, diff, eval, fetch) are in
``answer.render.maintenance``; ``cli.py`` only picks the view or prints the JSON schema instead.
"""
from __future__ import annotations

import re
from typing import Sequence

from rich.text import Text

from answer.render.i18n import label, note_text, ui_language
from answer.render.layout import Lines, cited, paragraph_runs, para
from answer.render.linebreak import NBSP, clip_lines, wrap
from answer.render.maintenance import diff_view, editions_view, eval_view, fetch_view, status_view, sync_view
from kb.model import Answer, AnswerBlock, Chunk, Citation, Hit, SearchResult

__all__ = ["answer_view", "search_view", "section_view", "shell_banner", "status_view", "editions_view",
           "sync_view", "diff_view", "eval_view", "fetch_view"]

INDENT = 2
SNIPPET_LINES = 3  # lines of passage text per search hit
VERDICT_STYLE = {"answered": "bold green", "unsure": "bold black on yellow", "not_found": "bold yellow"}


def answer_view(answer: Answer, show_passages: bool = False, ui: str | None = None) -> Lines:
    """The question, the verdict, one block per section (heading, quoted sentences, citation), the
    note, and optionally the cited passages in full."""
    lang = ui_language(ui, answer.language, answer.query)
    return Lines(lambda width: _answer_lines(answer, width, lang, show_passages))


def _answer_lines(answer: Answer, width: int, ui: str, show_passages: bool) -> list[Text | str]:
    verdict = "not_found" if answer.abstained else answer.verdict if answer.verdict in VERDICT_STYLE else "answered"
    heading = label(verdict, ui)
    if answer.method == "generated":
        heading += f" ({label('generated', ui)})"
    out: list[Text | str] = [*para(answer.query, width, style="bold"), *para(heading, width, style=VERDICT_STYLE[verdict])]
    if answer.abstained:
        out += ["", *para(note_text(answer.note, ui), width)]
        out += ["", *para(label("nearest", ui), width, style="bold")]
        out += [line for n, h in enumerate(answer.sources, 1) for line in _citation(n, h.citation, width, 0)]
    else:
        shown: set[int] = set()
        for block in _blocks(answer):
            shown.add(block.source)
            out += ["", *_block(block, answer.sources[block.source - 1], width, ui)]
        rest = [(n, h) for n, h in enumerate(answer.sources, 1) if n not in shown]
        if rest:
            out += ["", *para(label("sources", ui), width, style="bold")]
            out += [line for n, h in rest for line in _citation(n, h.citation, width, 0)]
        if answer.note:
            out += ["", *para(f"{label('note', ui)}: {note_text(answer.note, ui)}", width, style="yellow")]
    if show_passages:
        out += ["", *para(label("passages", ui), width, style="bold")]
        for n, h in enumerate(answer.sources, 1):
            out += ["", *_citation(n, h.citation, width, 0)]
            out += [line for text in h.chunk.text.split("\n") for line in para(text, width, indent=INDENT)]
    return out


def _blocks(answer: Answer) -> Sequence[AnswerBlock]:
    """The answer's blocks; an answer without them (an older producer) as one block per source."""
    if answer.blocks:
        return answer.blocks
    blocks = []
    for n, hit in enumerate(answer.sources, 1):
        own = tuple(s for s in answer.sentences if s.citations[:1] == (n,))
        if own:
            path = hit.chunk.section_path
            blocks.append(AnswerBlock(n, hit.chunk.section_id, path[-1] if path else hit.chunk.title, own))
    return blocks


def _block(block: AnswerBlock, hit: Hit, width: int, ui: str) -> list[Text]:
    out: list[Text] = []
    if block.aspect:
        out += para(f"「{block.aspect}」", width, style="dim")
    out += para(_heading(block.section_id, block.title), width, style="bold")
    for s in block.sentences:
        out += para(cited(s.text, s.citations), width, indent=INDENT, markers=True)
    out += _citation(block.source, hit.citation, width, INDENT)
    if block.also_in:
        out += para(f"{label('also_in', ui)}: {', '.join(block.also_in)}", width, indent=INDENT + 4, style="dim")
    return out


def _heading(section_id: str | None, title: str) -> str:
    """``1.1.3 紛失`` for the heading ``(3) 紛失`` of section 1.1.3 (its own number said once)."""
    if not section_id or section_id.startswith("第"):  # a law article: its heading carries its number
        return title
    m = re.match(r"[(（]?(\d+)[)）]?\s+", title)
    return f"{section_id} {title[m.end():] if m and m.group(1) == section_id.split('.')[-1] else title}"


def glued(citation_label: str) -> str:
    """A citation label whose ``§ 1.1.3``, ``p. 2`` and ``[ja, sample-2026]`` never break apart."""
    text = citation_label.replace("§ ", f"§{NBSP}").replace("p. ", f"p.{NBSP}")
    return re.sub(r"\[[^\]]*\]", lambda m: m.group(0).replace(" ", NBSP), text)


def _citation(n: int, c: Citation, width: int, indent: int) -> list[Text]:
    """``[n] Title [edition, release] § section, page`` on lines of its own, hanging under the text."""
    return para(glued(c.label()), width, indent=indent, first=f"[{n}] ", style="cyan")


def search_view(result: SearchResult, ui: str | None = None) -> Lines:
    """Per hit: rank and score, the full citation, the first lines of the passage."""
    lang = ui_language(ui, text=result.query)

    def build(width: int) -> list[Text | str]:
        if not result.hits:
            return para(label("no_hits", lang), width)
        out: list[Text | str] = []
        for h in result.hits:
            if out:
                out.append("")
            out += para(glued(h.citation.label()), width, first=f"{h.rank}. ", style="bold")
            rank = len(f"{h.rank}. ")
            out += para(f"{label('score', lang)} {h.score:.3f}", width, indent=rank, style="dim")
            body = wrap(" ".join(h.chunk.text.split("\n")), width - rank)
            out += [Text(" " * rank + line) for line in clip_lines(body, SNIPPET_LINES, width - rank)]
        return out

    return Lines(build)


def section_view(chunks: Sequence[Chunk], ui: str | None = None) -> Lines:
    """A section of one edition: the document, each heading path with its page, the text."""
    def build(width: int) -> list[Text | str]:
        first = chunks[0] if chunks else None
        out: list[Text | str] = []
        if first is not None:
            edition = ", ".join(x for x in (first.language, first.release) if x)
            out += para(f"{first.title} [{edition}]", width, style="bold")
        for c, text in paragraph_runs(chunks):
            where = Citation.of(c).location()
            out += ["", *para(" > ".join(c.section_path) + (f"  {where}" if where else ""), width, style="bold")]
            out += [line for paragraph in text.split("\n") for line in para(paragraph, width)]
        return out

    return Lines(build)


def shell_banner(ui: str | None = None) -> Lines:
    """The shell's greeting: what to type, in the desk worker's language."""
    lang = ui_language(ui)
    return Lines(lambda width: para(label("shell_banner", lang), width))
