"""The API's errors, one envelope for all: `{"error": {"code", "message", "fields"?}}` with an HTTP status.

Routers raise `ApiError` (or let `not_found_as` and `refusal` turn Temporal's errors into one);
`add_error_handlers` answers it, Temporal being away or too slow (503 with Retry-After), FastAPI's validation
errors and Starlette's own HTTP errors (unknown routes, unreadable bodies) in that envelope, so every refusal reads
the same whichever layer made it.
"""

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

log = structlog.stdlib.get_logger(__name__)


class ApiError(Exception):
    """An error answered as `{"error": {"code", "message"}}` with an HTTP status (and headers, e.g. for 401)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers
        self.fields = fields
        """Per-field problems (`{"field", "message"}`), as in a validation error."""

    @classmethod
    def invalid(cls, fields: list[dict[str, str]], code: str = "INVALID_REQUEST") -> "ApiError":
        """A 422 naming each field it refuses, as a validation error does: `items[1].hs_code: ...; currency: ...`."""
        return cls(422, code, "; ".join(f"{f['field']}: {f['message']}" for f in fields), fields=fields)

    def response(self) -> JSONResponse:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields is not None:
            error["fields"] = self.fields
        return JSONResponse(status_code=self.status, content={"error": error}, headers=self.headers)


# --- Temporal's errors ---------------------------------------------------------------------------------------------

def is_not_found(err: RPCError) -> bool:
    """Temporal has no such workflow (or, for a signal or an update, none still running)."""
    return err.status == RPCStatusCode.NOT_FOUND


UNAVAILABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})
RETRY_AFTER_S = 5
"""What a 503 for an unreachable Temporal asks callers to wait before they try again."""


def is_unavailable(err: RPCError) -> bool:
    """Temporal could not be reached, or did not answer within the API's deadline (`starter.deadlines`)."""
    return err.status in UNAVAILABLE


def temporal_unavailable(what: str) -> ApiError:
    """503 `TEMPORAL_UNAVAILABLE` with Retry-After: `what` could not be done now, and trying again later is safe."""
    return ApiError(503, "TEMPORAL_UNAVAILABLE", f"{what}: the workflow service is unavailable or too slow right "
                    f"now; try again in {RETRY_AFTER_S} s", headers={"Retry-After": str(RETRY_AFTER_S)})


@contextmanager
def not_found_as(code: str, message: str) -> Iterator[None]:
    """Temporal's NOT_FOUND inside the block answered as 404 `code`; any other RPC error propagates (a 500)."""
    try:
        yield
    except RPCError as err:
        if is_not_found(err):
            raise ApiError(404, code, message) from None
        raise


def refusal(err: WorkflowUpdateFailedError, code: str,
            codes: Mapping[str, str] = MappingProxyType({})) -> ApiError:
    """A workflow's refusal of an update as 409: the code `codes` gives its `ApplicationError` type (else `code`),
    and the workflow's own message."""
    cause = err.cause if isinstance(err.cause, ApplicationError) else None
    if cause is None:
        return ApiError(409, code, str(err))
    return ApiError(409, codes.get(cause.type or "", code), cause.message)


# --- validation errors ---------------------------------------------------------------------------------------------

def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "items", 1, "hs_code")` -> `items[1].hs_code`."""
    path = ""
    for part in loc:
        if part == "body" and not path:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


NAMED_FIELD = re.compile(r"^(?P<field>[A-Za-z_][\w]*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): (?P<message>.+)$",
                         re.DOTALL)


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    """One validation error as `{"field", "message"}`; a body that is not JSON at all names the body."""
    if error["type"] == "json_invalid":
        position = error["loc"][-1] if isinstance(error["loc"][-1], int) else "?"
        detail = (error.get("ctx") or {}).get("error", "invalid JSON")
        return {"field": "body", "message": f"not valid JSON: {detail} at character {position}"}
    message = error["msg"].removeprefix("Value error, ")
    path = field_path(error["loc"])
    # A model's own check (a duplicate id, a kind that needs another quantity) is reported on the model, and its
    # message starts with the field it is about: name that field, as a field's own check would.
    named = NAMED_FIELD.match(message) if error["type"] == "value_error" else None
    if named is not None and not path.endswith(named["field"]):
        joined = named["field"] if path == "body" else f"{path}.{named['field']}"
        return {"field": joined, "message": named["message"]}
    return {"field": path, "message": message}


async def _rpc_error(request: Request, exc: RPCError) -> JSONResponse:
    """A Temporal error no route handled: 503 with Retry-After when Temporal is away or slow, else 500; in the
    envelope either way, never as plain text."""
    if is_unavailable(exc):
        log.warning("temporal unavailable", path=request.url.path, status=exc.status.name, error=exc.message)
        return temporal_unavailable(f"{request.method} {request.url.path}").response()
    log.error("temporal error", path=request.url.path, status=exc.status.name, error=exc.message)
    return ApiError(500, "TEMPORAL_ERROR", f"the workflow service refused the call ({exc.status.name}); "
                    "if it persists, tell ops").response()


async def _rpc_timeout(request: Request, exc: RPCTimeoutOrCancelledError) -> JSONResponse:
    """The SDK gave up waiting for Temporal's answer (an update not confirmed within its RPC deadline, under load):
    503 with Retry-After, not a 500. An update may still be applied after this; deciding again is safe (a gate
    already decided answers 409 `GATE_NOT_PENDING`)."""
    log.warning("temporal call timed out", path=request.url.path, error=type(exc).__name__)
    return temporal_unavailable(f"{request.method} {request.url.path}").response()


# --- the handlers --------------------------------------------------------------------------------------------------

async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    return exc.response()


async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    return ApiError.invalid([_field_error(e) for e in exc.errors()]).response()


async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    cause = exc.__cause__
    # FastAPI could not read the body: not UTF-8, nested too deep, a number too long to convert.
    if exc.status_code == 400 and isinstance(cause, (ValueError, RecursionError)):
        return ApiError.invalid([{"field": "body", "message": f"not readable as JSON: {str(cause)[:200]}"}]).response()
    # Unknown routes and methods answer in the same envelope as every other error.
    return ApiError(exc.status_code, HTTPStatus(exc.status_code).name, str(exc.detail),
                    headers=exc.headers).response()


def add_error_handlers(app: FastAPI) -> None:
    """Answer `ApiError`, validation errors and Starlette's HTTP errors in the API's envelope."""
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RPCError, _rpc_error)  # type: ignore[arg-type]
    app.add_exception_handler(RPCTimeoutOrCancelledError, _rpc_timeout)  # type: ignore[arg-type]
