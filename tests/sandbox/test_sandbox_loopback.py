"""End to end over real loopback HTTP: sandbox and event receiver both under uvicorn."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request

from devstack.ports import free_port
from sandbox import SandboxConfig, create_app

REPO_ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Runs ``app`` under uvicorn on 127.0.0.1 with an ephemeral port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()  # surface a startup failure
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


class Receiver:
    """A tiny real HTTP service collecting pushed tracking events."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self.app = FastAPI()

        @self.app.post("/events", status_code=204)
        async def receive(request: Request) -> None:
            self.events.append(await request.json())
            self.changed.set()

    async def wait_for(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.events


async def test_pushed_tracking_over_real_http() -> None:
    receiver = Receiver()
    sandbox_app = create_app(SandboxConfig(seconds_per_day=0.01))
    async with serve(receiver.app) as receiver_url, serve(sandbox_app) as sandbox_url:
        async with httpx.AsyncClient(base_url=sandbox_url, timeout=5) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            parcels = [{"weight_kg": 120, "length_cm": 120, "width_cm": 100, "height_cm": 100}]
            booking = await client.post(
                "/partners/silkrail/bookings",
                json={"shipment_id": "loop-1", "origin_country": "CN", "destination_country": "PL",
                      "service_level": "standard", "parcels": parcels},
                headers={"Idempotency-Key": "loop-1-book"},
            )
            assert booking.status_code == 201, booking.text
            booking_id = booking.json()["booking_id"]
            label = await client.post(
                f"/partners/silkrail/bookings/{booking_id}/labels",
                json={"shipment_id": "loop-1"},
                headers={"Idempotency-Key": "loop-1-label"},
            )
            handover = await client.post(
                f"/partners/silkrail/bookings/{booking_id}/handover",
                json={"shipment_id": "loop-1", "events_url": f"{receiver_url}/events"},
            )
            assert handover.status_code == 202

            events = await receiver.wait_for(5)
            assert [e["code"] for e in events] == [
                "RECEIVED", "TRAIN_DEPARTED", "BORDER_CROSSED", "TRAIN_ARRIVED", "READY_FOR_HANDOVER"
            ]
            assert {e["tracking_number"] for e in events} == {label.json()["tracking_number"]}

            slot = await client.post(
                "/partners/parcelnow/slots",
                json={"shipment_id": "loop-1", "tracking_number": label.json()["tracking_number"],
                      "destination_country": "PL", "postal_code": "00-001", "events_url": f"{receiver_url}/events"},
                headers={"Idempotency-Key": "loop-1-slot"},
            )
            assert slot.status_code == 201
            events = await receiver.wait_for(8)
            assert [e["code"] for e in events[5:]] == ["SORTED", "OUT_FOR_DELIVERY", "DELIVERED"]

            limited = await client.post(
                "/partners/silkrail/quotes",
                json={"shipment_id": "loop-1", "origin_country": "CN", "destination_country": "PL",
                      "service_level": "standard", "parcels": parcels},
                headers={"X-Sandbox-Fault": "kind=rate_limit;retry_after_s=2"},
            )
            assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"

            records = (await client.get("/_inspect/bookings", params={"shipment_id": "loop-1"})).json()["records"]
            assert [(r["kind"], r["state"]) for r in records] == [
                ("booking", "arrived"), ("label", "active"), ("slot", "delivered")
            ]




async def test_python_dash_m_sandbox_serves(tmp_path: Path) -> None:
    config = tmp_path / "sandbox.yaml"
    config.write_text("seconds_per_day: 0.01\nfaults:\n  - {partner: bluewave, operation: quote, kind: outage}\n")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port), "--config", str(config),
         "--log-level", "warning"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
            async with asyncio.timeout(15):
                while True:
                    try:
                        if (await client.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                        await asyncio.sleep(0.1)
            rules = (await client.get("/_faults")).json()["rules"]
            assert [(r["partner"], r["kind"], r["source"]) for r in rules] == [("bluewave", "outage", "config")]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_bad_config_exits_with_message(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("seconds_per_day: fast\n")
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--config", str(config)],
        cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert "seconds_per_day" in result.stderr and str(config) in result.stderr
