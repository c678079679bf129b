"""The MCP server: the guidebook as tools and resources for AI agents (Copilot Studio, Teams and
Claude agents, any MCP client). Official ``mcp`` SDK (``MCPServer``).

``kb mcp`` serves it over stdio; ``kb serve`` mounts it at ``/mcp`` (streamable HTTP, stateless,
JSON responses: no session affinity needed behind a proxy) behind the same bearer tokens as
/search and /ask. Every call goes through the bot core: the same thread pool and timeout as the
HTTP API, the per-client rate limit and the audit log (client = the token's name, or "stdio").
"""
# No `from __future__ import annotations`: the SDK reads the tools' annotations at run time, and
# the aliases below are local to build_server.
from typing import Annotated, Any, Optional

from pydantic import Field

from answer.render.cited import HOW_TO_CITE, search_data, section_data, to_cited
from answer.render.text import language_name
from kb.errors import KBError
from serve.access import Asker, Refused
from serve.conversation import BotCore
from serve.runner import CallTimeout
from serve.schemas import LANG_PATTERN

CLIENT_KEY = "madoguchi.mcp_client"  # set in the ASGI scope's state by the bearer check
INSTRUCTIONS = (
    "Madoguchi searches Japan's Living and Working Guidebook (生活・就労ガイドブック, Immigration Services "
    "Agency) in its official language editions, for staff at consultation desks for foreign residents. "
    "Use `ask` for a consultation question and relay only the sentences it quotes, citing each fact with "
    "its section number and printed page (e.g. § 1.1.3, p. 2) and the URL. When `ask` returns verdict "
    "'not_found' (abstained), say plainly that the guidebook does not answer the question and offer the "
    "nearest sections; never fill the gap from general knowledge. Use `show_section` to give a resident "
    "the same section from their language's edition (official translation, not machine translation).")
ASK = ("Answer a consultation question with sentences quoted verbatim from the guidebook. Returns verdict "
       "('answered', 'unsure' or 'not_found'), abstained, and per cited section: section_id, title, edition "
       "(language), release, printed_page, pdf_page, url and quoted_sentences; when abstained, "
       "nearest_sections instead. " + HOW_TO_CITE)
SEARCH = ("Ranked guidebook passages for a question (no answer extraction): rank, score, section_id, title, "
          "edition, printed_page, pdf_page, url and the passage text. Use `ask` to answer; use this to browse.")
SHOW = ("The full text of one section (with its subsections) in one edition, e.g. section_id '1.1.3', lang "
        "'vi'. found is false when that edition lacks the section. Cite it like an `ask` result.")
EDITIONS = "The language editions in the index, with their passage counts and the sections each lacks vs Japanese."
READ_ONLY = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}


def client_name(ctx: Any) -> str:
    """The MCP client's name: the bearer token's name over HTTP, "stdio" for a local process."""
    request = getattr(ctx.request_context, "request", None) if ctx is not None else None
    state = getattr(request, "scope", {}).get("state", {}) if request is not None else {}
    return str(state.get(CLIENT_KEY, "stdio"))


def build_server(core: BotCore) -> Any:
    """An ``MCPServer`` whose tools and resources answer from ``core``'s knowledge base."""
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ResourceError, ToolError
    from mcp_types import ToolAnnotations

    kb, limit = core.kb, core.kb.settings.max_query_chars
    # log_level: the SDK configures the root logger when nothing has; INFO would log every request.
    server = MCPServer(name="madoguchi", title="Madoguchi: Living and Working Guidebook", version="0.1.0",
                       instructions=INSTRUCTIONS, log_level="WARNING")
    annotations = ToolAnnotations(**READ_ONLY)
    Question = Annotated[str, Field(description="The consultation question, in any language.", min_length=1,
                                    max_length=limit)]
    Lang = Annotated[Optional[str], Field(description="Edition to answer from: ja, ja-easy, en, vi, zh-Hans, "
                                                      "pt, ne, tl, th, ... (default: the question's language).",
                                          pattern=LANG_PATTERN, max_length=24)]
    Edition = Annotated[str, Field(description="Edition, e.g. ja, vi, en.", pattern=LANG_PATTERN, max_length=24)]

    async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await core.runner.call(fn, *args, **kwargs)
        except (KBError, CallTimeout) as exc:
            raise ToolError(str(exc)) from None

    @server.tool(name="ask", title="Answer from the guidebook", description=ASK, annotations=annotations)
    async def ask(question: Question, ctx: Context, lang: Lang = None) -> dict[str, Any]:
        name = client_name(ctx)
        try:
            answer = await core.ask_async(Asker("mcp", name, name), question, lang=lang)
        except (KBError, CallTimeout, Refused) as exc:
            raise ToolError(str(exc)) from None
        return to_cited(answer)

    @server.tool(name="search", title="Search the guidebook", description=SEARCH, annotations=annotations)
    async def search(question: Question, k: Annotated[int, Field(ge=1, le=20)] = 5,
                     languages: Annotated[Optional[list[Edition]], Field(description="Editions to search "
                                                                         "(default: the question's and ja).",
                                                                         max_length=30)] = None,
                     ) -> dict[str, Any]:
        return search_data(await call(kb.search, question, k, languages=languages))

    @server.tool(name="show_section", title="Show a section", description=SHOW, annotations=annotations)
    async def show_section(section_id: Annotated[str, Field(min_length=1, max_length=60)],
                           lang: Edition = "ja",
                           ) -> dict[str, Any]:
        return section_data(await call(kb.section, section_id, lang), section_id, lang)

    @server.tool(name="list_editions", title="List the editions", description=EDITIONS, annotations=annotations)
    async def list_editions() -> dict[str, Any]:
        info = await call(kb.editions)
        return {"editions": [{"edition": lang, "name": language_name(lang), "passages": n,
                              "missing_vs_ja": (info["alignment"].get(lang) or {}).get("missing", [])}
                             for lang, n in sorted(info["languages"].items())]}

    @server.resource("guidebook://{lang}/{section_id}", name="section", mime_type="text/markdown",
                     description="One section of one edition, e.g. guidebook://ja/1.1.3 or guidebook://vi/1.1.3.")
    async def section_resource(lang: str, section_id: str) -> str:
        try:
            data = section_data(await core.section(section_id, lang), section_id, lang)
        except (KBError, CallTimeout) as exc:
            raise ResourceError(str(exc)) from None
        if not data["found"]:
            raise ResourceError(f"section {section_id} is not in the {lang} edition")
        return f"# {data['label']}\n\n{data['text']}\n\n<{data['url'] or data['document']}>\n"

    return server


def run_stdio(core: BotCore) -> None:
    """Serve ``core`` over stdin/stdout until the client closes it (``kb mcp``)."""
    build_server(core).run("stdio")
