"""Uncertain partner outcomes are resolved (issue 18): a step that fails after the partner acted is looked up by its
idempotency key and undone, every undo sends its own key, an undo that still fails lands on the reconciliation list
where an ops retry resolves it, and the reconciliation finds a booking the partner holds for no shipment.

The worker reaches the sandbox through a recording proxy on loopback, so the tests see the requests as the partner
receives them (method, path, Idempotency-Key).
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlmodel import Session, select
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Replayer

from infra.persistence.reconciliation import ReconciliationRow, record_item
from infra.platform.http_server import ServedApp
from infra.platform.settings import DEV_API_KEYS
from infra.platform.temporal import converter_for
from tests.conftest import Harness
from tests.support import by_road, load_example, unique_id
from tradelane.enums import Status
from tradelane.keys import idempotency_key
from tradelane.reconciliation import ReconciliationReport, orphan_key
from tradelane.shipment.calls import PartnerCall
from tradelane.shipment.undo import ReconciliationItem, ReconciliationReason
from workflows.reconciliation_schedule import SCHEDULE_ID, ensure_schedule
from workflows.shipment import ShipmentWorkflow
from workflows.shipment.patches import UNCERTAIN_OUTCOMES

pytestmark = pytest.mark.temporal

OPS = {"Authorization": f"Bearer {DEV_API_KEYS['ops']}"}
BACKEND = {"Authorization": f"Bearer {DEV_API_KEYS['backend']}"}


@dataclass
class Seen:
    method: str
    path: str
    key: str | None
    body: bytes = b""


@dataclass
class RecordingProxy:
    """Forwards every partner call to the sandbox and remembers it as the partner received it."""

    upstream: str
    seen: list[Seen] = field(default_factory=list)

    def app(self, http: httpx.AsyncClient) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def forward(path: str, request: Request) -> Response:
            query = f"?{request.url.query}" if request.url.query else ""
            self.seen.append(Seen(request.method, f"/{path}{query}", request.headers.get("idempotency-key"),
                                  await request.body()))
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
            answer = await http.request(request.method, f"{self.upstream}/{path}", params=request.query_params,
                                        content=await request.body(), headers=headers)
            return Response(answer.content, answer.status_code,
                            {k: v for k, v in answer.headers.items()
                             if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")})

        return app

    def calls(self, method: str, contains: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and contains in s.path]

    def fences(self, partner: str, collection: str, step_key: str) -> list[Seen]:
        """The lookups-and-fences of `step_key` the partner received (`POST .../{collection}/fence`)."""
        return [s for s in self.calls("POST", f"/partners/{partner}/{collection}/fence")
                if json.loads(s.body).get("idempotency_key") == step_key]


@pytest.fixture
def proxied(sandbox, harness_factory):
    """The usual harness, with the worker reaching partners through a recording proxy in front of the sandbox."""
    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[tuple[Harness, RecordingProxy]]:
        proxy = RecordingProxy(sandbox.url)
        async with httpx.AsyncClient(timeout=30) as upstream:
            served = await ServedApp(proxy.app(upstream)).start()
            try:
                async with harness_factory(partners_url=served.url, **overrides) as h:
                    yield h, proxy
            finally:
                await served.stop()

    return factory


async def replays_behind_its_patch(h: Harness, shipment_id: str) -> None:
    """The shipment's history replays on today's code and carries the patch's marker; with the patch check forced
    false (the code before it) it does not replay: the change alters the commands, so it needs its patch."""
    history = await h.handle(shipment_id).fetch_history()
    replayer = Replayer(workflows=[ShipmentWorkflow], data_converter=converter_for())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    patches = [json.loads(e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)["id"]
               for e in history.events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
               and e.marker_recorded_event_attributes.marker_name == "core_patch"]
    assert UNCERTAIN_OUTCOMES in patches
    patched = workflow.patched
    try:
        workflow.patched = lambda patch_id: patch_id != UNCERTAIN_OUTCOMES and patched(patch_id)  # type: ignore
        unguarded = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    finally:
        workflow.patched = patched  # type: ignore
    assert unguarded.replay_failure is not None


def bookings_at(records: list[dict[str, Any]], partner: str) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == "booking" and r["partner"] == partner]


def items_of(h: Harness, shipment_id: str) -> list[ReconciliationRow]:
    with Session(h.engine) as session:
        return list(session.exec(select(ReconciliationRow).where(ReconciliationRow.shipment_id == shipment_id)))


async def until(predicate: Any, what: str, timeout: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_a_booking_made_before_a_timeout_is_found_by_its_key_and_cancelled(proxied):
    """RoadLink books, but only after Tradelane's 1 s timeout (every attempt): the step fails for good with the
    booking made. The saga asks RoadLink for the booking under the step's key and cancels it (before, it stayed)."""
    shipment_id = unique_id("acted")
    async with proxied(retry_maximum_attempts=2) as (h, proxy):
        await h.add_fault(partner="roadlink", operation="book", shipment_id=shipment_id, kind="latency",
                          latency_s=1.5)
        await h.start(by_road(shipment_id))
        state = await h.result(shipment_id, timeout=90)

        assert state.status.terminal and state.replans and state.replans[0].failed_partner == "roadlink"
        [booking] = bookings_at(await h.inspect(shipment_id), "roadlink")  # the partner did act
        assert booking["state"] == "cancelled", "no booking is left at the partner"
        step_key = idempotency_key(shipment_id, "book", "roadlink")
        assert proxy.fences("roadlink", "bookings", step_key), "the saga looked the booking up by the step's key"
        [cancel] = proxy.calls("POST", f"/partners/roadlink/bookings/{booking['id']}/cancel")[:1]
        assert cancel.key == f"{step_key}:undo"
        undone = [c for c in state.compensation if c.action == "carrier.cancel_booking_by_key"]
        assert [c.ok for c in undone] == [True]
        assert not items_of(h, shipment_id), "resolved by the lookup: nothing for ops"
        await replays_behind_its_patch(h, shipment_id)


@pytest.mark.parametrize(("operation", "kind"), [("label", "act_then_timeout"), ("book", "garbled")],
                         ids=["a label made, then the answer times out", "a booking made, answered with a broken body"])
async def test_what_a_partner_made_before_a_spoiled_answer_is_taken_back(proxied, operation, kind):
    """The sandbox acts, then spoils its answer (the fault matrix's kinds): a label whose answer never comes is
    voided, a booking whose 200 does not parse is cancelled, each found under its step's key."""
    shipment_id = unique_id(kind.replace("_", ""))
    async with proxied(retry_maximum_attempts=2) as (h, proxy):
        await h.add_fault(partner="roadlink", operation=operation, shipment_id=shipment_id, kind=kind)
        await h.start(by_road(shipment_id))
        state = await h.result(shipment_id, timeout=90)

        assert state.status.terminal and state.replans[0].failed_partner == "roadlink"
        records = [r for r in await h.inspect(shipment_id) if r["partner"] == "roadlink"]
        made = {r["kind"]: r["state"] for r in records}
        assert made == ({"booking": "cancelled", "label": "voided"} if operation == "label"
                        else {"booking": "cancelled"}), "nothing is left at the partner"
        step_key = idempotency_key(shipment_id, operation, "roadlink")
        collection = {"label": "labels", "book": "bookings"}[operation]
        assert proxy.fences("roadlink", collection, step_key)


@pytest.mark.parametrize(("operation", "kind", "left"), [
    ("file", "filing", "withdrawn"), ("schedule", "slot", "released"),
], ids=["a customs filing", "a last-mile slot"])
async def test_a_filing_or_slot_made_before_a_timeout_is_taken_back(proxied, operation, kind, left):
    """The same for the broker's filing (withdrawn) and the courier's slot (released): every mutating step of the
    dialect is looked up by its key when its outcome is unknown, and the shipment compensates with nothing left."""
    shipment_id = unique_id(f"acted{operation}")
    async with proxied(retry_maximum_attempts=2) as (h, _):
        await h.add_fault(operation=operation, shipment_id=shipment_id, kind="act_then_timeout")
        await h.start(by_road(shipment_id))
        state = await h.result(shipment_id, timeout=120)

        assert state.status is Status.COMPENSATED
        records = await h.inspect(shipment_id)
        assert [r["state"] for r in records if r["kind"] == kind] == [left], "the partner had acted; undone"
        assert {r["state"] for r in records if r["kind"] == "booking"} == {"cancelled"}
        assert not [i for i in items_of(h, shipment_id) if i.state == "open"]


async def test_a_carrier_without_a_lookup_is_asked_by_sending_the_booking_again_under_its_key(proxied):
    """UPS (through Karrio) publishes no lookup by client key, but its create is idempotent by the transaction id
    that carries the key. UPS books and both attempts' answers are lost: the saga's undo sends the booking again
    under the step's key, UPS answers the booking it made, and that is cancelled; nothing is left, nothing listed.
    Before, the step was listed `outcome_unknown` and the booking stayed live: the 300-shipment fault matrix found
    one in transit after its worker's attempt timed out while parsing UPS's answer."""
    shipment_id = unique_id("replay")
    async with proxied(retry_maximum_attempts=2) as (h, proxy):
        await h.add_fault(partner="ups", operation="book", shipment_id=shipment_id, kind="act_then_timeout", times=2)
        await h.start(load_example("basic-cn-de.json", shipment_id))
        state = await h.result(shipment_id, timeout=90)

        assert state.status.terminal and any(r.failed_partner == "ups" for r in state.replans)
        ups = [r for r in await h.inspect(shipment_id) if r["partner"] == "ups"]
        assert [(r["kind"], r["state"]) for r in ups] == [("booking", "cancelled"), ("label", "voided")], \
            "one booking (the replay was deduplicated into it), taken back"
        undone = [c for c in state.compensation if c.action == "carrier.cancel_booking_by_key"]
        assert [c.ok for c in undone] == [True]
        assert not [i for i in items_of(h, shipment_id) if i.partner == "ups"], "resolved: nothing for ops"


async def test_an_unknown_outcome_the_partner_cannot_be_asked_about_goes_to_ops(proxied):
    """UPS (through Karrio) publishes no lookup by client key: a booking step that timed out for good, whose
    booking sent again under its key times out as well (UPS answers every call too late), is listed as
    `outcome_unknown`, with the undo Tradelane would run (before, it was forgotten)."""
    shipment_id = unique_id("unknown")
    async with proxied(retry_maximum_attempts=2) as (h, _):
        await h.add_fault(partner="ups", operation="book", shipment_id=shipment_id, kind="latency", latency_s=1.5)
        await h.start(load_example("basic-cn-de.json", shipment_id))
        state = await h.result(shipment_id, timeout=90)

        assert state.status.terminal and any(r.failed_partner == "ups" for r in state.replans)
        [item] = [i for i in items_of(h, shipment_id) if i.partner == "ups"]
        assert (item.reason, item.state, item.operation) == ("outcome_unknown", "open",
                                                             "carrier.cancel_booking_by_key")
        assert item.idempotency_key == idempotency_key(shipment_id, "book", "ups") + ":undo"
        assert "timed out" in (item.last_error or ""), item.last_error
        listed = await h.api.get("/v1/ops/reconciliation", params={"state": "open", "reason": "outcome_unknown"})
        assert listed.status_code == 200 and item.id in [i["id"] for i in listed.json()["items"]]
        assert (await h.api.get("/v1/ops/reconciliation", headers=BACKEND)).status_code == 403, "ops only"

        bad = await h.api.post(f"/v1/ops/reconciliation/{item.id}/resolve", json={"note": "done\r\nBcc: x"},
                               headers=OPS)
        assert bad.status_code == 422 and "note" in bad.text
        assert items_of(h, shipment_id)[0].state == "open", "a refused request changes nothing"
        done = await h.api.post(f"/v1/ops/reconciliation/{item.id}/resolve",
                                json={"note": "no shipment under the key in the UPS portal"}, headers=OPS)
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "resolved" and done.json()["resolved_by"].startswith("ops:")


async def test_an_undo_that_fails_is_listed_and_an_ops_retry_resolves_it(proxied):
    """Customs refuses the filing, so the booking is undone; RoadLink's cancel fails through all of the undo's
    attempts. The undo lands on the reconciliation list; ops retry it and the booking is cancelled."""
    shipment_id = unique_id("undofail")
    async with proxied() as (h, proxy):
        await h.add_fault(partner="clearpath", operation="file", shipment_id=shipment_id, kind="reject",
                          code="RESTRICTED_GOODS")
        await h.add_fault(partner="roadlink", operation="cancel", shipment_id=shipment_id, kind="error", status=503,
                          times=10)
        await h.start(by_road(shipment_id))
        state = await h.result(shipment_id, timeout=90)

        assert state.status is Status.COMPENSATED
        [booking] = bookings_at(await h.inspect(shipment_id), "roadlink")
        assert booking["state"] == "confirmed", "the cancel failed every time"
        [item] = items_of(h, shipment_id)
        step_key = idempotency_key(shipment_id, "book", "roadlink")
        assert (item.reason, item.state, item.partner, item.partner_ref) == ("undo_failed", "open", "roadlink",
                                                                             booking["id"])
        assert item.idempotency_key == f"{step_key}:undo"
        cancels = proxy.calls("POST", f"/partners/roadlink/bookings/{booking['id']}/cancel")
        assert len(cancels) == 10 and {c.key for c in cancels} == {f"{step_key}:undo"}

        refused = await h.api.post(f"/v1/ops/reconciliation/{item.id}/retry", headers=BACKEND)
        assert refused.status_code == 403, "ops only"
        retried = await h.api.post(f"/v1/ops/reconciliation/{item.id}/retry", headers=OPS)
        assert retried.status_code == 202, retried.text

        async def resolved() -> dict[str, Any] | None:
            got = (await h.api.get(f"/v1/ops/reconciliation/{item.id}")).json()
            return got if got["state"] == "resolved" else None

        done = await until(resolved, "the retry to resolve the item")
        assert done["resolved_by"].startswith("retry:")
        [booking] = bookings_at(await h.inspect(shipment_id), "roadlink")
        assert booking["state"] == "cancelled"
        assert proxy.calls("POST", f"/partners/roadlink/bookings/{booking['id']}/cancel")[-1].key == f"{step_key}:undo"
        again = await h.api.post(f"/v1/ops/reconciliation/{item.id}/retry", headers=OPS)
        assert again.status_code == 409 and again.json()["error"]["code"] == "ITEM_RESOLVED"
        await replays_behind_its_patch(h, shipment_id)


async def test_the_scheduled_reconciliation_finds_a_planted_orphan(proxied):
    """A booking RoadLink holds for a shipment Tradelane never had is found by the scheduled reconciliation and
    listed as an orphan; an ops retry cancels it, and the next run no longer finds it."""
    ghost = unique_id("ghost")
    async with proxied(reconciliation_every_s=1.0, reconciliation_cron=None, reconciliation_grace_s=0) as (h, _):
        planted = await h.sandbox.post("/partners/roadlink/bookings", headers={"Idempotency-Key": f"planted-{ghost}"},
                                       json={"shipment_id": ghost, "origin_country": "PL", "destination_country": "DE",
                                             "service_level": "standard",
                                             "parcels": [{"weight_kg": 2.0, "length_cm": 30, "width_cm": 20,
                                                          "height_cm": 10}]})
        assert planted.status_code == 201, planted.text
        ref = planted.json()["booking_id"]
        try:
            assert await ensure_schedule(h.client, h.settings)

            async def orphan() -> list[ReconciliationRow]:
                return [i for i in items_of(h, ghost) if i.reason == "orphan"]

            [item] = await until(orphan, "the schedule to list the orphan")
        finally:
            await h.client.get_schedule_handle(SCHEDULE_ID).delete()
        assert (item.partner, item.partner_ref, item.state) == ("roadlink", ref, "open")
        assert item.idempotency_key == orphan_key("roadlink", ref)

        retried = await h.api.post(f"/v1/ops/reconciliation/{item.id}/retry", headers=OPS)
        assert retried.status_code == 202, retried.text
        [booking] = await until(lambda: _cancelled(h, ghost), "the orphan to be cancelled")
        assert booking["id"] == ref

        run = await h.api.post("/v1/ops/reconciliation/runs", headers=OPS)
        assert run.status_code == 202, run.text
        report = await h.client.get_workflow_handle(run.json()["run_id"], result_type=ReconciliationReport).result()
        assert "roadlink" in report.partners_checked and f"roadlink:{ref}" not in report.orphans
        assert {"ups", "bluewave"} <= set(report.partners_unlisted)


async def _cancelled(h: Harness, shipment_id: str) -> list[dict[str, Any]]:
    return [r for r in bookings_at(await h.inspect(shipment_id), "roadlink") if r["state"] == "cancelled"]


async def test_a_reconciliation_run_retries_an_undo_that_failed_until_it_succeeds(proxied):
    """An undo whose partner was down longer than the saga's attempts sits on the list as `undo_failed`; the next
    reconciliation does not list its booking a second time (as an orphan), runs the undo again (the same undo key)
    and resolves it without ops."""
    shipment_id = unique_id("lateundo")
    async with proxied(reconciliation_grace_s=0) as (h, proxy):
        step_key = idempotency_key(shipment_id, "book", "roadlink")
        planted = await h.sandbox.post("/partners/roadlink/bookings", headers={"Idempotency-Key": step_key},
                                       json={"shipment_id": shipment_id, "origin_country": "PL",
                                             "destination_country": "DE", "service_level": "standard",
                                             "parcels": [{"weight_kg": 2.0, "length_cm": 30, "width_cm": 20,
                                                          "height_cm": 10}]})
        ref = planted.json()["booking_id"]
        row = record_item(h.engine, ReconciliationItem(
            shipment_id=shipment_id, partner="roadlink", operation="carrier.cancel_booking",
            idempotency_key=f"{step_key}:undo", partner_ref=ref, reason=ReconciliationReason.UNDO_FAILED,
            error="roadlink cancel: HTTP 503", call=PartnerCall(shipment_id=shipment_id, partner="roadlink",
                                                                idempotency_key=f"{step_key}:undo", ref=ref)))

        run = await h.api.post("/v1/ops/reconciliation/runs", headers=OPS)
        report = await h.client.get_workflow_handle(run.json()["run_id"], result_type=ReconciliationReport).result()

        assert report.retried >= 1 and report.retried_resolved >= 1
        assert f"roadlink:{ref}" not in report.orphans and report.partners_checked
        assert [i.reason for i in items_of(h, shipment_id)] == ["undo_failed"], "listed once, not also as an orphan"
        item = (await h.api.get(f"/v1/ops/reconciliation/{row.id}", headers=OPS)).json()
        assert (item["state"], item["resolved_by"]) == ("resolved", "retry:reconciliation")
        [booking] = bookings_at(await h.inspect(shipment_id), "roadlink")
        assert booking["state"] == "cancelled"
        assert proxy.calls("POST", f"/partners/roadlink/bookings/{ref}/cancel")[-1].key == f"{step_key}:undo"
