"""DCSA subscription callbacks end to end: a real dev server, the sandbox's DCSA line pushing signed callbacks over
loopback to the API's ingress, and the worker polling the same line, with `bluewave` reporting `both` ways.

An ocean shipment (pallet-cn-au, booked with bluewave) is held in transit by the line's `stalled` voyage (four voyage
events, then silence), so what the tests post afterwards is all that changes it.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from activities.protocols.dcsa import callback_secret
from infra.persistence.receipts import WebhookReceiptRow
from infra.platform.partner_credentials import dev_credential
from tests.support import load_example, unique_id
from tradelane.connections import EventDelivery, directory
from tradelane.dcsa_events import callback_url
from tradelane.enums import TrackingStatus
from tradelane.shipment.state import ShipmentState

pytestmark = pytest.mark.temporal

LINE = "bluewave"
CONNECTION_SECRET = dev_credential(LINE, "callback_secret")
"""The line's `callback_secret` credential in tests (no variable set: the development value)."""
STALLED_VOYAGE = 4
"""Voyage events of the `stalled` scenario; the line also reports the booking received and confirmed (RECE, CONF)."""


@pytest.fixture(autouse=True)
def line_pushes_and_is_polled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """bluewave reports `both` ways (subscription callbacks and polling), whatever partners.yaml says today."""
    connections = directory().connections
    monkeypatch.setitem(connections, LINE, connections[LINE].model_copy(update={"tracking": EventDelivery.BOTH}))
    yield


@pytest.fixture
async def h(harness_factory) -> AsyncIterator[Any]:
    """The harness, its worker giving running activities 1 s at shutdown: the poll of a terminated shipment would
    only hear of it at its next heartbeat, which Temporal throttles to most of the 30 s heartbeat timeout."""
    async with harness_factory(graceful_shutdown_s=1) as harness:
        yield harness


def line_signature(secret: str, body: bytes) -> str:
    """TNT 2.2 `Notification-Signature`, as the line computes it."""
    return "sha256=" + hmac.new(base64.b64decode(secret), body, hashlib.sha256).hexdigest()


def callback(events: list[dict[str, Any]], *, signed_for: str, connection_secret: str = CONNECTION_SECRET,
             signature: str | None = None) -> tuple[bytes, dict[str, str]]:
    """A callback body and the headers a line sends, signed with the subscription secret of booking `signed_for`."""
    body = json.dumps(events, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "API-Version": "2.2.0", "Subscription-ID": str(uuid.uuid4()),
               "Notification-Signature": signature if signature is not None else line_signature(
                   callback_secret(connection_secret, signed_for), body)}
    return body, headers


def gated_in_at_origin(port: str) -> dict[str, Any]:
    """A new TNT 2.2 equipment event: the container gated in at `port` (picked up at the port of loading)."""
    return {"eventID": str(uuid.uuid4()), "eventType": "EQUIPMENT", "eventClassifierCode": "ACT",
            "eventDateTime": "2026-12-05T08:00:00Z", "eventCreatedDateTime": "2026-12-05T08:00:00Z",
            "equipmentEventTypeCode": "GTIN", "equipmentReference": "BWLU9999999", "ISOEquipmentCode": "22GP",
            "emptyIndicatorCode": "LADEN",
            "eventLocation": {"locationName": f"Container terminal {port}", "UNLocationCode": port}}


def line_events_of(state: ShipmentState) -> list[Any]:
    return [e for e in state.events if e.partner == LINE]


async def in_transit_by_sea(h, shipment_id: str) -> tuple[str, list[dict[str, Any]]]:
    """Start the ocean shipment, let the stalled voyage play out both ways; its booking reference and the line's
    events for it (as `GET /v2/events` answers)."""
    await h.add_fault(partner=LINE, operation="handover", shipment_id=shipment_id, kind="scenario",
                      scenario="stalled")
    await h.start(load_example("pallet-cn-au.json", shipment_id))
    state = await h.wait_until(shipment_id, lambda s: len(line_events_of(s)) >= 2 + STALLED_VOYAGE
                               and {e.via for e in line_events_of(s)} == {"webhook", "poll"})
    assert state.carrier == LINE and state.tracking_number is not None
    booking_ref = state.tracking_number
    # The handover subscribed the DCSA ingress beside the shipment's events URL, not the events URL itself.
    line = (await h.sandbox.get(f"/dcsa/{LINE}/_inspect")).json()
    assert [s["callbackUrl"] for s in line["subscriptions"] if s.get("carrierBookingReference") == booking_ref] == [
        callback_url(h.settings.events_url, LINE, booking_ref)]
    reported = await h.sandbox.get(f"/dcsa/{LINE}/v2/events", params={"carrierBookingReference": booking_ref})
    assert reported.status_code == 200, reported.text
    return booking_ref, reported.json()


async def post(h, booking_ref: str, body: bytes, headers: dict[str, str], partner: str = LINE) -> httpx.Response:
    """POST a callback over loopback to the ingress the line was subscribed with (the served API)."""
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(callback_url(h.settings.events_url, partner, booking_ref), content=body,
                               headers=headers)


def receipts(h, shipment_id: str) -> set[str]:
    with Session(h.engine) as session:
        return set(session.exec(select(WebhookReceiptRow.event_id).where(
            col(WebhookReceiptRow.shipment_id) == shipment_id, col(WebhookReceiptRow.partner) == LINE)))


async def test_pushed_events_reach_the_timeline_and_count_once_with_polling(h):
    shipment_id = unique_id("dcsa")
    booking_ref, reported = await in_transit_by_sea(h, shipment_id)
    state = await h.state(shipment_id)
    mine = line_events_of(state)
    # Every event the line reported is in the timeline once: the voyage came by callback and by poll, the booking's
    # own RECE and CONF by poll only. Whichever route came second asked the workflow first (`knows_event`) and did
    # not signal, so repeats stay out of the history; only a callback and a poll of one event in the same instant
    # both signal (then the workflow drops one).
    assert sorted(e.event_id for e in mine) == sorted(e["eventID"] for e in reported)
    assert {e.via for e in mine} == {"webhook", "poll"}
    assert {e.code for e in mine if e.via == "poll"} >= {"RECE", "CONF"}
    assert state.duplicate_events < STALLED_VOYAGE
    assert state.events_received == len(mine)

    # A new event pushed by the line: placed with the booking's ports (gated in at the port of loading: picked up).
    pushed = gated_in_at_origin("CNSHA")
    response = await post(h, booking_ref, *callback([pushed], signed_for=booking_ref))
    assert response.status_code == 204, response.text
    state = await h.wait_until(shipment_id, lambda s: pushed["eventID"] in {e.event_id for e in s.events})
    [event] = [e for e in state.events if e.event_id == pushed["eventID"]]
    assert (event.partner, event.via, event.status, event.booking_ref) == (
        LINE, "webhook", TrackingStatus.PICKED_UP, booking_ref)
    for _ in range(200):  # the API's timeline is the read model, which follows the workflow
        timeline = (await h.api.get(f"/v1/shipments/{shipment_id}/events")).json()
        if pushed["eventID"] in [e["event_id"] for e in timeline["events"]]:
            break
        await asyncio.sleep(0.05)
    listed = [e for e in timeline["events"] if e["event_id"] == pushed["eventID"]]
    assert [(e["partner"], e["via"], e["status"]) for e in listed] == [(LINE, "webhook", "picked_up")]
    await h.handle(shipment_id).terminate("test over")


async def test_an_event_polled_first_and_pushed_later_counts_once(h):
    shipment_id = unique_id("dcsa-dup")
    booking_ref, reported = await in_transit_by_sea(h, shipment_id)
    before = await h.state(shipment_id)
    received = next(e for e in reported if e.get("shipmentEventTypeCode") == "RECE")  # never pushed: polled
    assert [e.via for e in before.events if e.event_id == received["eventID"]] == ["poll"]

    # Pushed now: the shipment already has it (`knows_event`), so it is acknowledged and receipted, not signalled.
    first = await post(h, booking_ref, *callback([received], signed_for=booking_ref))
    assert first.status_code == 204, first.text
    assert received["eventID"] in receipts(h, shipment_id)
    # Pushed again (the line's retry): answered from the receipt, never signalled. A new event after it is, and
    # signals arrive in order, so once it is in the timeline the retry would have been counted too.
    again = await post(h, booking_ref, *callback([received], signed_for=booking_ref))
    assert again.status_code == 204, again.text
    later = gated_in_at_origin("CNSHA")
    assert (await post(h, booking_ref, *callback([later], signed_for=booking_ref))).status_code == 204
    after = await h.wait_until(shipment_id, lambda s: later["eventID"] in {e.event_id for e in s.events})
    assert after.duplicate_events == before.duplicate_events
    assert after.events_received == before.events_received + 1
    assert [e.event_id for e in after.events].count(received["eventID"]) == 1
    await h.handle(shipment_id).terminate("test over")


async def test_refused_callbacks_change_nothing(h):
    shipment_id = unique_id("dcsa-refused")
    booking_ref, _ = await in_transit_by_sea(h, shipment_id)
    before, receipted = await h.state(shipment_id), receipts(h, shipment_id)
    stranger = gated_in_at_origin("CNSHA")
    events = [stranger]
    body, good = callback(events, signed_for=booking_ref)
    cases: list[tuple[str, int, str, bytes, dict[str, str], str, str]] = [
        ("signed with another connection secret", 401, "INVALID_SIGNATURE",
         *callback(events, signed_for=booking_ref, connection_secret="not bluewave's secret"), LINE, booking_ref),
        ("no signature", 401, "INVALID_SIGNATURE", body,
         {k: v for k, v in good.items() if k != "Notification-Signature"}, LINE, booking_ref),
        ("a signature of another body", 401, "INVALID_SIGNATURE", body.replace(b"GTIN", b"GTOT"), good, LINE,
         booking_ref),
        ("signed for another booking than the URL names", 401, "INVALID_SIGNATURE",
         *callback(events, signed_for="BW99999998"), LINE, booking_ref),
        ("signed for a booking on no shipment", 404, "UNKNOWN_BOOKING",
         *callback(events, signed_for="BW99999999"), LINE, "BW99999999"),
        ("a partner that is no DCSA connection", 404, "NOT_A_DCSA_PARTNER", body, good, "roadlink", booking_ref),
        ("a partner that is no connection", 404, "NOT_A_DCSA_PARTNER", body, good, "nosuchline", booking_ref),
        ("an event of another booking", 422, "BOOKING_MISMATCH",
         *callback([{**stranger, "documentReferences": [{"documentReferenceType": "BKG",
                                                         "documentReferenceValue": "BW99999999"}]}],
                   signed_for=booking_ref), LINE, booking_ref),
        ("not TNT events", 422, "NOT_DCSA_EVENTS", *callback([{"eventID": "x"}], signed_for=booking_ref), LINE,
         booking_ref),
    ]
    for name, status, code, case_body, headers, partner, named in cases:
        response = await post(h, named, case_body, headers, partner=partner)
        assert response.status_code == status, f"{name}: {response.text}"
        assert response.json()["error"]["code"] == code, name

    # Nothing reached the shipment: a good callback posted after them is the only change (signals keep their order).
    assert (await post(h, booking_ref, body, good)).status_code == 204
    after = await h.wait_until(shipment_id, lambda s: stranger["eventID"] in {e.event_id for e in s.events})
    assert sorted(e.event_id for e in after.events) == sorted([*(e.event_id for e in before.events),
                                                               stranger["eventID"]])
    assert (after.events_received, after.duplicate_events) == (before.events_received + 1, before.duplicate_events)
    # Receipts: the good callback's, and any of the line's own late callbacks of events the shipment already had
    # (acknowledged without a signal); none of the refused ones.
    gained = receipts(h, shipment_id) - receipted
    assert stranger["eventID"] in gained and "x" not in gained
    assert gained <= {stranger["eventID"], *(e.event_id for e in before.events)}
    await h.handle(shipment_id).terminate("test over")
