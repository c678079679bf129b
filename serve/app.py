"""The FastAPI app: JSON search/ask over one shared KnowledgeBase, plus the chat integrations."""
from __future__ import annotations

from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, AsyncIterator, Callable

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from kb import KnowledgeBase
from kb.errors import ConfigError
from serve.config import ServiceConfig
from serve.conversation import BotCore
from serve.errors import install_error_handlers
from serve.guards import accept_query, token_guard
from serve.logs import AccessLogMiddleware
from serve.runner import KBRunner
from serve.schemas import AskRequest, AskResponse, ErrorResponse, SearchRequest, SearchResponse

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": what} for code, what in (
        (400, "The query cannot be searched (QueryError)"), (401, "Missing or wrong bearer token"),
        (422, "Request outside the limits (query length, 1 <= k <= 50, unknown fields)"),
        (503, "Index or model problem"), (504, "Timed out"), (500, "Unexpected error (see server log)"))}


def api_router(runner: KBRunner, config: ServiceConfig) -> APIRouter:
    kb = runner.kb
    router = APIRouter()
    guarded = [Depends(token_guard(config))]

    @router.post("/search", dependencies=guarded, response_model=None, tags=["api"],
                 responses={200: {"model": SearchResponse}, **ERRORS})
    async def search(body: SearchRequest, request: Request) -> JSONResponse:
        """Ranked passages with scores and citations (the `kb search --json` schema)."""
        query = accept_query(request, body.query, kb.settings.max_query_chars)
        languages = body.languages or ([body.lang] if body.lang else None)
        result = await runner.call(kb.search, query, body.k, mode=body.mode, languages=languages)
        return JSONResponse(result.to_dict())

    @router.post("/ask", dependencies=guarded, response_model=None, tags=["api"],
                 responses={200: {"model": AskResponse}, **ERRORS})
    async def ask(body: AskRequest, request: Request) -> JSONResponse:
        """Sentences quoted from the guidebook, each citing a numbered source (the `kb ask --json` schema)."""
        query = accept_query(request, body.query, kb.settings.max_query_chars)
        answer = await runner.call(kb.ask, query, body.k, lang=body.lang)
        return JSONResponse(answer.to_dict())

    @router.get("/health", tags=["ops"])
    async def health() -> dict[str, Any]:
        """Liveness: answers without touching the index or the model."""
        return {"status": "ok", "version": kb.version}

    @router.get("/status", dependencies=guarded, tags=["ops"], responses=ERRORS)
    async def status() -> dict[str, Any]:
        """`kb status --json`, plus the version published on disk and the one being served."""
        info = (await runner.call(kb.status)).to_dict()
        return {**info, "serving_version": kb.version, "live_version": kb.live_version(),
                "reload_every": kb.settings.reload_every}

    return router


def create_app(kb: KnowledgeBase, config: ServiceConfig, *, slack_client: Any = None,
               teams_connections: Any = None) -> FastAPI:
    """The service over an open KnowledgeBase. Slack routes need ``config.slack_http``; the Teams
    webhook needs ``config.teams_shared_secret``; the Teams agent ``config.chat.teams_agent``; /mcp is
    on unless ``config.chat.mcp`` is off. ``slack_client`` replaces the Slack WebClient and
    ``teams_connections`` the Agents SDK's MSAL connections (tests)."""
    runner = KBRunner(kb, workers=config.workers, timeout=config.timeout)
    core = BotCore(runner, config)
    mcp = None
    if config.chat.mcp:
        from serve.mcp_http import mcp_endpoint

        mcp = mcp_endpoint(core, config.tokens, max_body_bytes=config.max_body_bytes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if mcp is not None:  # the MCP session manager's task group lives as long as the app
                await stack.enter_async_context(mcp.manager.run())
            yield
        runner.close()

    app = FastAPI(title="Madoguchi", version="0.1.0", lifespan=lifespan,
                  description="Cited answers from Japan's Living and Working Guidebook for consultation desks.")
    app.state.runner = runner
    app.state.core = core
    app.add_middleware(AccessLogMiddleware, log_queries=config.log_queries, max_body_bytes=config.max_body_bytes)
    install_error_handlers(app)
    app.include_router(api_router(runner, config))
    if mcp is not None:
        app.add_route("/mcp", mcp.app, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    if config.slack_http:
        from serve.slack import slack_router

        router = slack_router(core, config, client=slack_client)
        app.state.slack_bot = router.bolt.madoguchi_bot  # type: ignore[attr-defined]
        app.include_router(router)
    if config.teams_shared_secret:
        from serve.teams import teams_router

        app.include_router(teams_router(runner, config))
    if config.chat.teams_agent:
        from serve.teams_agent import TeamsAgent, connections_from, teams_agent_router

        agent = TeamsAgent(core, config.chat, teams_connections or connections_from(config.chat))
        app.state.agent_configuration = agent.auth_configuration(config.chat)
        app.include_router(teams_agent_router(agent))
    return app


def worker_app() -> FastAPI:
    """The app of one of ``kb serve --processes N``'s worker processes: its own KnowledgeBase over the
    published index named by the environment (``KB_INDEX``, set by ``run``), nothing shared but the
    files, so any worker can answer any request and each picks up new versions by itself."""
    from serve.logs import configure_logging
    from serve.protocol import DeadlineH11Protocol

    configure_logging()
    config = ServiceConfig.from_env()
    DeadlineH11Protocol.request_timeout = config.request_timeout  # this process's connections
    return create_app(KnowledgeBase.open(), config)


def run(kb: KnowledgeBase, host: str, port: int, *, say: Callable[[str], Any] = print, processes: int = 1) -> None:
    """Serve ``kb`` until interrupted (``kb serve``); every request shares it, and new index versions
    are picked up live. With ``processes`` > 1, that many uvicorn worker processes each open the same
    index (``worker_app``) and ``kb`` is closed once checked. ``say`` prints the startup lines (stderr in the CLI)."""
    import os

    import uvicorn

    from serve.logs import configure_logging
    from serve.protocol import protocol_class

    config = ServiceConfig.from_env()
    config.chat.check_bind(host)
    configure_logging()
    if processes > 1:
        if config.slack_app_token:
            raise ConfigError("Slack socket mode keeps one connection per process; with --processes > 1 "
                              "use the HTTP events endpoint (unset SLACK_APP_TOKEN)")
        os.environ["KB_INDEX"] = str(kb.settings.index)  # the workers read the settings from the environment
        say(f"serving {kb.settings.index} (version {kb.version}) on http://{host}:{port} with {processes} "
            f"worker processes (auth: {'bearer token' if config.tokens else 'none'})")
        kb.close()
        # Spawned workers import the protocol by name; each sets its deadline in ``worker_app``.
        uvicorn.run("serve.app:worker_app", factory=True, workers=processes, host=host, port=port,
                    access_log=False, log_level="warning", http="serve.protocol:DeadlineH11Protocol")
        return
    service = create_app(kb, config)
    socket = None
    if config.slack_app_token and config.slack_bot_token:
        from serve.slack import socket_mode_handler

        socket = socket_mode_handler(service.state.core, config)
        socket.connect()  # background threads; HTTP keeps serving alongside
    mounted = ", ".join(name for name, on in (
        ("mcp", config.chat.mcp), ("slack", config.slack_http), ("slack socket mode", socket),
        ("teams webhook", config.teams_shared_secret), ("teams agent", config.chat.teams_agent)) if on) or "none"
    if not config.tokens and host not in ("127.0.0.1", "localhost", "::1"):
        say("[yellow]warning:[/] no KB_SERVE_TOKEN: /search, /ask, /status and /mcp are open to anyone "
            f"who can reach {host}:{port}")
    say(f"serving {kb.settings.index} (version {kb.version}) on http://{host}:{port} "
        f"(chat: {mounted}; auth: {'bearer token' if config.tokens else 'none'})")
    try:
        uvicorn.run(service, host=host, port=port, access_log=False, log_level="warning",
                    http=protocol_class(config.request_timeout))
    finally:
        if socket is not None:
            socket.close()
        kb.close()


def run_mcp_stdio(kb: KnowledgeBase) -> None:
    """``kb mcp``: the MCP server on stdin/stdout, with the service's limits, rate limit and audit log."""
    from serve.mcp_server import run_stdio

    config = ServiceConfig.from_env()
    runner = KBRunner(kb, workers=config.workers, timeout=config.timeout)
    try:
        run_stdio(BotCore(runner, config))
    finally:
        runner.close()
        kb.close()
