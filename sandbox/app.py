"""The sandbox FastAPI application: `create_app` wires config, state, routes and error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.aftermath import AftermathMiddleware
from sandbox.clock import Clock, SystemClock
from sandbox.config import SandboxConfig
from sandbox.context import Sandbox
from sandbox.emulators import routers as emulator_routers
from sandbox.errors import ErrorCode, SandboxError, status_code_name
from sandbox.routes import carriers, control, customs, last_mile, lookup, merchant, tracking


def _error_response(error: SandboxError) -> JSONResponse:
    return JSONResponse(status_code=error.status, content=error.body().model_dump(), headers=error.headers)


async def _sandbox_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SandboxError)
    return _error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return _error_response(SandboxError(422, ErrorCode.INVALID_REQUEST, problems))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    # Unknown paths and wrong methods get the same error shape as everything else.
    assert isinstance(exc, StarletteHTTPException)
    return _error_response(
        SandboxError(exc.status_code, status_code_name(exc.status_code), str(exc.detail), dict(exc.headers or {}))
    )


def create_app(
    config: SandboxConfig,
    *,
    clock: Clock | None = None,
    http: httpx.AsyncClient | None = None,
) -> FastAPI:
    """Builds a sandbox app with its own in-memory state.

    Args:
        config: Validated settings (see `load_config`).
        clock: Time source; tests pass a fake one to move outage windows by hand.
        http: Client for tracking callbacks; tests may inject one with a mock transport.
            When None the app creates its own and closes it on shutdown.

    Returns:
        The FastAPI app. ``app.state.sandbox`` holds the `Sandbox` (store, faults, player);
        ``app.state.merchant`` the demo merchant's webhook receiver.
    """
    sandbox = Sandbox(config, clock or SystemClock(), http=http)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await sandbox.player.aclose()

    app = FastAPI(
        title="Tradelane carrier sandbox",
        description="Simulated logistics partners for local development and tests. Not a real carrier.",
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    app.add_middleware(AftermathMiddleware)  # faults that strike after the partner acted (act_then_timeout, garbled)
    app.state.merchant = merchant.MerchantReceiver()
    app.add_exception_handler(SandboxError, _sandbox_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for module in (carriers, customs, last_mile, tracking, lookup, control, merchant):
        app.include_router(module.router)
    for router in emulator_routers():
        app.include_router(router)
    return app
