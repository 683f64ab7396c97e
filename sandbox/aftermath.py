"""Faults that strike after the partner acted: the call goes ahead, then its success answer is spoiled.

A fault that fails a call before it is admitted (`sandbox.faults`) proves retries; it cannot prove what a client does
when the partner *did* book and the answer never arrived in a readable form. Those are the uncertain outcomes:

- ``act_then_timeout``: the record is made, then the answer stalls past the client's timeout and comes as a 504;
- ``garbled``: the record is made, and the success status comes with its body cut in half (it does not parse).

Admission (`Sandbox.admit`, the emulators' `admit`) only *defers* such an effect (`defer`); this ASGI middleware
applies it to the response the route produced. An error answer (the call was refused after all) passes unchanged:
the partner did not act, so there is nothing uncertain to simulate.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.errors import ErrorCode, SandboxError
from sandbox.faults import APPLIED_HEADER, FaultEffect, FaultKind


@dataclass
class _Deferred:
    """The effect admission deferred for the request in hand (set at most once per request)."""

    kind: FaultKind | None = None
    sleep_s: float = 0.0


_DEFERRED: ContextVar[_Deferred | None] = ContextVar("sandbox_deferred_fault", default=None)


def defer(effect: FaultEffect) -> None:
    """Remember `effect.after` for the response of the request in hand.

    Raises:
        RuntimeError: When the app runs without `AftermathMiddleware` (the fault would silently do nothing).
    """
    if effect.after is None:
        return
    deferred = _DEFERRED.get()
    if deferred is None:
        raise RuntimeError(f"fault kind {effect.after} needs the sandbox's AftermathMiddleware around the app")
    deferred.kind, deferred.sleep_s = effect.after, effect.after_sleep_s


def garble(body: bytes) -> bytes:
    """The first half of `body`: what a broken-off answer leaves; never valid JSON for a JSON object or list."""
    return body[: len(body) // 2]


class AftermathMiddleware:
    """Applies the deferred effect of an ``act_then_timeout`` or ``garbled`` fault to the route's response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deferred = _Deferred()
        token = _DEFERRED.set(deferred)
        start: Message | None = None
        body = bytearray()

        async def capture(message: Message) -> None:
            nonlocal start
            if start is None and message["type"] == "http.response.start":
                if deferred.kind is None or not 200 <= message["status"] < 300:
                    deferred.kind = None  # refused after all: the partner did not act
                    await send(message)
                    return
                start = message
                return
            if start is None:
                await send(message)
                return
            body.extend(message.get("body", b""))

        try:
            await self.app(scope, receive, capture)
        finally:
            _DEFERRED.reset(token)
        if start is None or deferred.kind is None:
            return
        if deferred.kind is FaultKind.ACT_THEN_TIMEOUT:
            await asyncio.sleep(deferred.sleep_s)
            error = SandboxError(504, ErrorCode.GATEWAY_TIMEOUT, f"partner acted but did not answer within "
                                 f"{deferred.sleep_s:g} s (sandbox fault)")
            await _answer(send, 504, error.body().model_dump_json().encode(), deferred.kind)
            return
        await _answer(send, start["status"], garble(bytes(body)), deferred.kind,
                      content_type=_header(start, b"content-type") or b"application/json")


def _header(start: Message, name: bytes) -> bytes | None:
    return next((value for key, value in start.get("headers", []) if key.lower() == name), None)


async def _answer(send: Send, status: int, body: bytes, kind: FaultKind,
                  content_type: bytes = b"application/json") -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
               (APPLIED_HEADER.lower().encode(), str(kind).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
