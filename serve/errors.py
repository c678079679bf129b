"""Every failure becomes JSON ``{"error": "...", "request_id": "..."}``; tracebacks stay in the server log.

Unexpected exceptions are turned into a 500 by ``serve.logs.AccessLogMiddleware``, the outermost layer."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kb.errors import ConfigError, KBError, QueryError
from serve.logs import REQUEST_ID_KEY
from serve.runner import CallTimeout

log = logging.getLogger("madoguchi.serve")


def error_response(request: Request, status: int, message: str, **extra: Any) -> JSONResponse:
    body = {"error": message, "request_id": request.scope.get(REQUEST_ID_KEY), **extra}
    return JSONResponse(body, status_code=status)


def kb_status(exc: KBError) -> int:
    """400 for what the caller can fix (the query, a setting it chose); 503 for index/model trouble."""
    return 400 if isinstance(exc, (QueryError, ConfigError)) else 503


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Only where and why: pydantic's "input" would echo the question back into logs/proxies.
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        return error_response(request, 422, "invalid request: " + "; ".join(
            f"{'.'.join(map(str, d['loc'][1:] or d['loc']))}: {d['msg']}" for d in detail), detail=detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = error_response(request, exc.status_code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(KBError)
    async def kb_error(request: Request, exc: KBError) -> JSONResponse:
        status = kb_status(exc)
        if status >= 500:
            log.error("knowledge base error (request %s): %s", request.scope.get(REQUEST_ID_KEY), exc)
        return error_response(request, status, str(exc))

    @app.exception_handler(CallTimeout)
    async def timeout(request: Request, exc: CallTimeout) -> JSONResponse:
        log.warning("timeout (request %s): %s", request.scope.get(REQUEST_ID_KEY), exc)
        return error_response(request, 504, str(exc))
