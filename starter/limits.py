"""Request limits applied before the API parses anything: a body larger than the limit is refused with 413.

`BodySizeLimit` is pure ASGI (no Starlette request objects), so it runs in front of FastAPI's body parsing and
its exception handlers. FastAPI turns any exception raised while it reads a body into a generic 400, so the
limit cannot be enforced by raising from `receive`: the middleware reads the body itself, up to the limit, and
hands the app a replay of it only when it fits. Bodies here are JSON documents of a few kilobytes, so holding
one in memory costs nothing that the app's own parsing would not.
"""

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY_TOO_LARGE = "BODY_TOO_LARGE"
INVALID_CONTENT_LENGTH = "INVALID_CONTENT_LENGTH"


def _error_body(code: str, message: str, field: str, field_message: str) -> bytes:
    """The API's error envelope (`{"error": {"code", "message", "fields"}}`), as `starter.errors` answers."""
    return json.dumps({"error": {"code": code, "message": message,
                                 "fields": [{"field": field, "message": field_message}]}}).encode()


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            # The rest of the body is left unread: the connection cannot carry another request.
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _declared_lengths(scope: Scope) -> list[bytes]:
    return [value.strip() for name, value in scope.get("headers", []) if name.lower() == b"content-length"]


class BodySizeLimit:
    """ASGI middleware refusing request bodies over `max_bytes` with 413 `BODY_TOO_LARGE`.

    A declared `Content-Length` over the limit is refused without reading a byte; a body without one (chunked)
    is read until it passes the limit, then refused. Either way the app never sees the request. A malformed
    `Content-Length` is refused with 400 `INVALID_CONTENT_LENGTH` (servers usually refuse it first).

    Args:
        app: The ASGI app to protect.
        max_bytes: The largest body accepted, in bytes.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, field_message: str) -> bytes:
        return _error_body(BODY_TOO_LARGE, f"request body is larger than {self.max_bytes} bytes", "body",
                           field_message)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_lengths(scope)
        if declared:
            if not all(value.isdigit() for value in declared) or len(set(declared)) > 1:
                shown = ", ".join(v.decode("latin-1")[:40] for v in declared)
                await _respond(send, 400, _error_body(
                    INVALID_CONTENT_LENGTH, f"Content-Length {shown!r} is not one non-negative integer",
                    "Content-Length", "must be the body's size in bytes, given once"))
                return
            length = int(declared[0])
            if length > self.max_bytes:
                await _respond(send, 413, self._too_large(
                    f"Content-Length is {length} bytes; at most {self.max_bytes} are accepted"))
                return

        buffered: list[Message] = []
        size = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break  # a disconnect: the app learns of it from the replay
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                # A chunked body, or one longer than its Content-Length claimed.
                await _respond(send, 413, self._too_large(
                    f"more than {self.max_bytes} bytes were sent; at most {self.max_bytes} are accepted"))
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            # The buffered messages first, then the server's own (a later disconnect, for streaming responses).
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)
