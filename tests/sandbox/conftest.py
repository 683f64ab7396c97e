"""Fixtures for the carrier sandbox tests: an in-process app per test and an event sink."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sandbox import SandboxConfig, create_app
from sandbox.context import Sandbox

FIXTURES = Path(__file__).parent / "fixtures"
EVENTS_URL = "http://receiver.test/events"

FAST = SandboxConfig(
    seconds_per_day=0.01,
    timeout_fault_seconds=0.05,
    callback_timeout_s=1.0,
    callback_retries=5,
    callback_backoff_s=0.001,
)
"""Settings that keep every scenario under a quarter of a second."""


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.wall = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class EventSink:
    """Receives tracking-event POSTs through an httpx mock transport.

    ``fail_first`` answers 500 to the first N attempts of every event; ``always_fail`` to all.
    """

    fail_first: int = 0
    always_fail: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)

    def handle(self, request: httpx.Request) -> httpx.Response:
        event = json.loads(request.content)
        n = self.attempts[event["event_id"]] = self.attempts.get(event["event_id"], 0) + 1
        if self.always_fail or n <= self.fail_first:
            return httpx.Response(500, json={"error": "receiver down"})
        self.events.append(event)
        return httpx.Response(204)

    def codes(self, shipment_id: str | None = None) -> list[str]:
        return [e["code"] for e in self.events if shipment_id in (None, e["shipment_id"])]


@dataclass
class Harness:
    """One sandbox app, a client talking to it in-process, and its event sink."""

    app: FastAPI
    client: httpx.AsyncClient
    sink: EventSink

    @property
    def sandbox(self) -> Sandbox:
        return self.app.state.sandbox

    async def settle(self) -> None:
        """Waits until every tracking playback has finished."""
        await self.sandbox.player.wait_idle()

    async def records(self, shipment_id: str | None = None) -> list[dict[str, Any]]:
        params = {"shipment_id": shipment_id} if shipment_id is not None else {}
        response = await self.client.get("/_inspect/bookings", params=params)
        assert response.status_code == 200, response.text
        return response.json()["records"]


MakeSandbox = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_sandbox() -> AsyncIterator[MakeSandbox]:
    """Factory: ``await make_sandbox(clock=..., fail_first=..., **settings)`` -> `Harness`, closed after the test.

    ``fail_first``/``always_fail`` make the event sink answer 500; ``settings`` override `FAST`,
    e.g. ``seconds_per_day=0.2`` or ``faults=[{...}]``.
    """
    async with AsyncExitStack() as stack:

        async def make(
            *, clock: FakeClock | None = None, fail_first: int = 0, always_fail: bool = False, **settings: Any
        ) -> Harness:
            config = SandboxConfig.model_validate({**FAST.model_dump(), **settings})
            sink = EventSink(fail_first=fail_first, always_fail=always_fail)
            callbacks = await stack.enter_async_context(httpx.AsyncClient(transport=httpx.MockTransport(sink.handle)))
            app = create_app(config, clock=clock, http=callbacks)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")
            )
            return Harness(app=app, client=client, sink=sink)

        yield make


@pytest.fixture
async def sb(make_sandbox: MakeSandbox) -> Harness:
    """A fresh sandbox with the fast test settings."""
    return await make_sandbox()


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that moves only via ``advance``; wall time 2025-01-06T08:00Z."""
    return FakeClock()


@pytest.fixture
def payload() -> Callable[..., dict[str, Any]]:
    """Factory: ``payload("booking", shipment_id="S-1")`` -> a copy of fixtures/booking.json with overrides."""

    def load(name: str, **overrides: Any) -> dict[str, Any]:
        body = copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))
        body.update(overrides)
        return body

    return load
