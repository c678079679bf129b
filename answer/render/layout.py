"""Building blocks of the terminal views: lines laid out for the console's width when printed.

A view returns ``Lines``: a function from the width to the lines to print, each already wrapped by
``answer.render.linebreak`` (display width by wcwidth, 禁則). rich prints them unchanged, so its own
wrapping and cell widths (which differ from wcwidth for Devanagari vowel signs) never decide where
a line breaks. No boxes or rules: box-drawing characters are of ambiguous width and take two cells
in many Japanese terminals.
"""
from __future__ import annotations

import re
from typing import Callable, Iterable, Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.text import Text

from answer.render.linebreak import NBSP, display_width, ljust, wrap
from kb.model import Chunk

MARKER = re.compile(r"\[\d+\]")
MIN_TEXT = 16  # cells: below this a hanging indent is dropped rather than squeezing the text


class Lines:
    """A rich renderable whose lines are built for the width it is printed at."""

    def __init__(self, build: Callable[[int], Iterable[Text | str]]) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.build(options.max_width):
            text = line if isinstance(line, Text) else Text(line)
            yield from text.render(console)
            yield Segment.line()

    def text(self, width: int) -> list[str]:
        """The plain lines at ``width`` (for tests and plain output)."""
        return [line.plain if isinstance(line, Text) else line for line in self.build(width)]


def styled(line: str, style: str | None = None, *, markers: bool = False) -> Text:
    text = Text(line, style=style or "")
    if markers:
        text.highlight_regex(MARKER, "bold cyan")
    return text


def para(text: str, width: int, *, indent: int = 0, first: str = "", style: str | None = None,
         markers: bool = False, phrases: bool | None = None) -> list[Text]:
    """``text`` wrapped into ``width`` cells below an ``indent``; ``first`` (e.g. ``"[1] "``) opens
    the first line and the rest hang under the text. Too narrow to hang: ``first`` on a line of its
    own and the text unindented."""
    lead = " " * indent + first
    out: list[Text] = []
    if width - display_width(lead) < MIN_TEXT:
        if first.strip():
            out.append(styled(first.rstrip(), style, markers=markers))
        lead = ""
    hang = display_width(lead)
    for i, line in enumerate(wrap(text, width - hang, phrases=phrases)):
        out.append(styled((lead if i == 0 else " " * hang) + line, style, markers=markers))
    return out


def cited(text: str, citations: Sequence[int]) -> str:
    """A sentence with its citation markers glued on, so ``[1]`` never starts a line alone."""
    marks = "".join(f"[{n}]" for n in citations)
    return f"{text}{NBSP}{marks}" if marks else text


def fields(rows: Sequence[tuple[str, str]], width: int, *, indent: int = 0,
           key_style: str = "bold") -> list[Text]:
    """``key  value`` rows, keys padded to one column and values wrapped beside them (below them
    when the terminal is too narrow for both)."""
    column = max((display_width(k) for k, _ in rows), default=0) + 2
    beside = width - indent - column >= MIN_TEXT
    out: list[Text] = []
    for key, value in rows:
        if beside:
            lines = wrap(value, width - indent - column)
            head = Text(" " * indent + ljust(key, column), style=key_style)
            out.append(head.append(lines[0], style="not bold") if lines else head)
            out += [Text(" " * (indent + column) + line) for line in lines[1:]]
        else:
            out.append(Text(" " * indent + key, style=key_style))
            out += para(value, width, indent=indent + 2)
    return out


def paragraph_runs(chunks: Sequence[Chunk]) -> list[tuple[Chunk, str]]:
    """Consecutive chunks under one heading path as one text: a chunk that starts where the previous
    one ended continues its paragraph (chunks of unpunctuated Thai can end mid-word)."""
    runs: list[tuple[Chunk, str]] = []
    prev: Chunk | None = None
    for c in chunks:
        if prev is not None and runs and c.section_path == prev.section_path and c.source_id == prev.source_id:
            joint = "" if c.char_start == prev.char_end else "\n"
            runs[-1] = (runs[-1][0], runs[-1][1] + joint + c.text)
        else:
            runs.append((c, c.text))
        prev = c
    return runs
