"""The HTTP API: validation, duplicates, reads, the read model, the tracking webhook, search attributes."""

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import Session, select
from temporalio.service import RPCError, RPCStatusCode

from infra.persistence.db import ApprovalRow, PartnerBookingRow, ShipmentRow, StageTransitionRow
from starter.api import create_app
from tests.support import INVALID_EXAMPLES, DevCallers, by_road, load_example, unique_id
from tradelane.connections import PartnerProtocol, connection
from tradelane.enums import Status, TrackingStatus
from tradelane.tracking_codes import EventDelivery, event_delivery, tracking_codes

EXPRESS_CARRIERS = {"ups", "dhl_express", "fedex"}

pytestmark = pytest.mark.temporal

EXPECTED_FIELD = {
    "bad-hs-code.json": ("items[1].hs_code", "'85A4' is not 6-10 digits"),
    "negative-weight.json": ("parcels[0].weight_kg", "Input should be greater than 0"),
    "no-items.json": ("items", "List should have at least 1 item after validation, not 0"),
    "unknown-country.json": ("destination.country", "'XQ' is not an ISO 3166-1 alpha-2 country code"),
}


@pytest.mark.parametrize("path", INVALID_EXAMPLES, ids=lambda p: p.stem)
async def test_invalid_request_is_422_naming_the_field_and_changes_nothing(harness, path):
    body = load_example(f"invalid/{path.name}")
    response = await harness.api.post("/v1/shipments", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    field, message = EXPECTED_FIELD[path.name]
    assert error["fields"] == [{"field": field, "message": message}]
    assert error["message"] == f"{field}: {message}"
    with pytest.raises(RPCError) as err:
        await harness.handle(body["shipment_id"]).describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND
    with Session(harness.engine) as session:
        assert session.get(ShipmentRow, body["shipment_id"]) is None
    assert await harness.inspect(body["shipment_id"]) == []


async def test_same_shipment_id_twice_is_409_one_workflow_one_booking(harness):
    shipment_id = unique_id("dup")
    body = load_example("basic-cn-de.json", shipment_id)
    first, second = await asyncio.gather(harness.api.post("/v1/shipments", json=body),
                                         harness.api.post("/v1/shipments", json=body))
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    conflict = first if first.status_code == 409 else second
    assert conflict.json()["error"]["code"] == "SHIPMENT_EXISTS"
    assert (await harness.result(shipment_id)).status is Status.DELIVERED
    after = await harness.api.post("/v1/shipments", json=body)
    assert after.status_code == 409, "a finished shipment's id is not reused either"
    runs = [w async for w in harness.client.list_workflows(f'WorkflowId = "shipment:{shipment_id}"')]
    assert len(runs) == 1
    assert len([r for r in await harness.inspect(shipment_id) if r["kind"] == "booking"]) == 1


async def test_get_shows_stage_status_approvals_and_transitions(harness):
    shipment_id = unique_id("get")
    await harness.start(load_example("high-value-us-jp.json", shipment_id))
    await harness.until_held(shipment_id)
    running = (await harness.api.get(f"/v1/shipments/{shipment_id}")).json()
    assert (running["stage"], running["status"]) == ("booking", "on_hold")
    assert [g["kind"] for g in running["pending_approvals"]] == ["high_value"]
    await harness.approve(shipment_id)
    await harness.result(shipment_id)
    done = (await harness.api.get(f"/v1/shipments/{shipment_id}")).json()
    assert (done["stage"], done["status"], done["execution_status"]) == ("last_mile", "delivered", "completed")
    state = await harness.state(shipment_id)
    assert done["carrier"] == state.plan.main_leg.partner and done["mode"] == "air_express"
    assert connection(done["carrier"]).protocol is PartnerProtocol.KARRIO
    assert done["tracking_number"] == state.tracking_number and done["tracking_number"]
    assert done["pending_approvals"] == []
    assert [t["seq"] for t in done["transitions"]] == list(range(len(done["transitions"])))
    missing = await harness.api.get("/v1/shipments/NOPE-000")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "SHIPMENT_NOT_FOUND"


async def test_read_model_follows_the_workflow(harness):
    shipment_id = unique_id("rm")
    await harness.start(load_example("high-value-us-jp.json", shipment_id))
    await harness.until_held(shipment_id)
    await harness.approve(shipment_id, comment="ok")
    state = await harness.result(shipment_id)
    with Session(harness.engine) as session:
        row = session.get(ShipmentRow, shipment_id)
        assert (row.status, row.stage, row.carrier, row.destination_country) == ("delivered", "last_mile",
                                                                                 state.carrier, "JP")
        assert row.carrier in EXPRESS_CARRIERS
        transitions = session.exec(select(StageTransitionRow).where(
            StageTransitionRow.shipment_id == shipment_id)).all()
        assert sorted(t.seq for t in transitions) == [t.seq for t in state.transitions]
        approval = session.exec(select(ApprovalRow).where(ApprovalRow.shipment_id == shipment_id)).one()
        assert (approval.gate, approval.decision, approval.actor, approval.comment) == (
            "high_value", "approve", "ops@test", "ok")
        bookings = session.exec(select(PartnerBookingRow).where(
            PartnerBookingRow.shipment_id == shipment_id)).all()
        assert {b.kind for b in bookings} == {"booking", "label", "filing", "slot"}
    listed = (await harness.api.get("/v1/shipments", params={"status": "delivered", "destination": "JP"})).json()
    assert shipment_id in [s["shipment_id"] for s in listed]
    assert all(s["status"] == "delivered" and s["destination_country"] == "JP" for s in listed)
    bad = await harness.api.get("/v1/shipments", params={"status": "lost"})
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "query.status"


async def test_webhook_events_are_mapped_deduplicated_and_ordered(harness_factory):
    # The carrier's own events go to an address nobody listens on: only the test's reach the shipment.
    async with harness_factory(public_url="http://127.0.0.1:9") as h:
        shipment_id = unique_id("hook")
        await h.start(by_road(shipment_id))
        state = await h.wait_until(shipment_id, lambda s: s.stage.value == "transit")
        carrier = state.carrier
        assert event_delivery(carrier) is EventDelivery.WEBHOOK
        # The carrier's first in-transit code, in its own vocabulary.
        code = next(c for c, status in tracking_codes().partners[carrier].codes.items()
                    if status is TrackingStatus.IN_TRANSIT)

        def event(event_id: str, day: int, code: str) -> dict:
            return {"event_id": event_id, "partner": carrier, "shipment_id": shipment_id, "code": code,
                    "occurred_at": datetime(2026, 12, day, tzinfo=UTC).isoformat(),
                    "tracking_number": state.tracking_number}

        for body in (event("e2", 3, code), event("e1", 2, code), event("e2", 3, code), event("e3", 4, "ZZ")):
            response = await h.api.post("/v1/carrier-events", json=body)
            assert response.status_code == 202, response.text
        state = await h.wait_until(shipment_id, lambda s: len(s.events) >= 3)
        assert [e.event_id for e in state.events] == ["e1", "e2", "e3"]
        assert [e.status.value for e in state.events] == ["in_transit", "in_transit", "unknown"]
        unknown = await h.api.post("/v1/carrier-events", json={**event("x", 1, "PU"), "shipment_id": "NOPE-1"})
        assert unknown.status_code == 404
        naive = await h.api.post("/v1/carrier-events", json={**event("e4", 5, code), "occurred_at": "2026-12-05T08:00"})
        assert naive.status_code == 422 and naive.json()["error"]["fields"][0]["field"] == "occurred_at"
        assert "e4" not in [e.event_id for e in (await h.state(shipment_id)).events]
        await h.handle(shipment_id).terminate("test over")


async def test_search_attributes_let_ops_filter_in_the_web_ui(harness):
    shipment_id = unique_id("sa")
    await harness.start(load_example("pallet-cn-au.json", shipment_id))
    await harness.result(shipment_id)
    query = (f'WorkflowId = "shipment:{shipment_id}" AND TradelaneStatus = "delivered" AND '
             f'TradelaneStage = "last_mile" AND TradelaneDestination = "AU" AND TradelaneCarrier = "bluewave" '
             f'AND TradelaneMode = "ocean_lcl"')
    for _ in range(100):
        found = [w async for w in harness.client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert len(found) == 1
    memo = await found[0].memo()
    assert memo["lane"] == "CN->AU" and memo["order_ref"] == "PO-AU-3391" and memo["tracking_number"]
    assert memo["plan"] == "ocean_lcl:bluewave"
    assert "Receiving Dock 3" not in str(memo), "no personal data in the memo"



async def test_get_answers_from_the_read_model_when_no_worker_answers(harness_factory, temporal_client, db_engine):
    async with harness_factory(query_timeout_s=1) as h:
        shipment_id = unique_id("noworker")
        await h.start(load_example("high-value-us-jp.json", shipment_id))
        await h.until_held(shipment_id)
        for _ in range(100):  # the read model follows the workflow
            with Session(db_engine) as session:
                row = session.get(ShipmentRow, shipment_id)
                if row is not None and row.status == "on_hold":
                    break
            await asyncio.sleep(0.05)
        settings = h.settings
    # The worker is gone now: nobody can answer the query.
    app = create_app(settings, client=temporal_client, engine=db_engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                                 auth=DevCallers()) as api:
        view = await api.get(f"/v1/shipments/{shipment_id}")
        assert view.status_code == 200
        assert (view.json()["status"], view.json()["execution_status"]) == ("on_hold", "running")

        never_ran = load_example("basic-cn-de.json", unique_id("noworker"))
        assert (await api.post("/v1/shipments", json=never_ran)).status_code == 201
        unknown = await api.get(f"/v1/shipments/{never_ran['shipment_id']}")
        assert unknown.status_code == 503
        assert unknown.json()["error"]["code"] == "STATE_UNAVAILABLE"
    await temporal_client.get_workflow_handle(f"shipment:{shipment_id}").terminate("test over")
    await temporal_client.get_workflow_handle(f"shipment:{never_ran['shipment_id']}").terminate("test over")


async def test_malformed_json_names_the_body_and_starts_nothing(harness):
    response = await harness.api.post("/v1/shipments", content=b'{"shipment_id": "SHP-BROKEN",',
                                      headers={"content-type": "application/json"})
    assert response.status_code == 422
    field = response.json()["error"]["fields"][0]
    assert field["field"] == "body" and field["message"].startswith("not valid JSON:")
    with pytest.raises(RPCError):
        await harness.handle("SHP-BROKEN").describe()


async def test_deciding_or_cancelling_an_unknown_shipment_is_404(harness):
    decision = {"gate": "high_value", "decision": "approve", "actor": "ops@test"}
    for path, body in (("approvals", decision), ("cancel", {"actor": "ops@test"})):
        response = await harness.api.post(f"/v1/shipments/NOPE-{unique_id()}/{path}", json=body)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "SHIPMENT_NOT_FOUND"
