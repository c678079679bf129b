"""The interactive shell (`kb shell`, or `kb` alone): question after question, the model loaded once.

Lines starting with ``:`` are commands (``:lang CODE``, ``:k N``, ``:passages``, ``:help``, ``:quit``);
anything else is a question, answered with ``answer.render.terminal.answer_view``.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from rich.console import Console
from rich.markup import escape

from answer.render import terminal
from answer.render.i18n import label, ui_language
from kb.errors import KBError


def run_shell(kb: Any, ui: str, out: Console, err: Console, *, on_error: Callable[[Exception, str, str], None],
              read: Callable[[str], str] = input) -> None:
    """Read questions until end of input or ``:quit``; answers on ``out``, prompts and notes on ``err``."""
    say = lambda key, **kw: err.print(escape(label(key, ui_language(ui), **kw)))  # noqa: E731
    err.print(terminal.shell_banner(ui))
    lang: Optional[str] = None
    k: Optional[int] = None
    passages = False
    while True:
        try:
            line = read("質問> ").strip()
        except (EOFError, KeyboardInterrupt):
            err.print("")
            return
        if not line:
            continue
        if line in (":q", ":quit", ":exit"):
            return
        if line == ":help":
            err.print(terminal.shell_banner(ui))
        elif line.startswith(":lang"):
            value = line[5:].strip()
            lang = None if value in ("", "off") else value
            say("answer_edition", lang=lang or label("as_asked", ui_language(ui)))
        elif line.startswith(":k"):
            try:
                k = max(1, min(50, int(line[2:].strip())))
            except ValueError:
                say("usage_k")
        elif line == ":passages":
            passages = not passages
        else:
            try:
                out.print(terminal.answer_view(kb.ask(line, k, lang=lang), passages, ui))
            except KBError as exc:
                on_error(exc, ui, line)
