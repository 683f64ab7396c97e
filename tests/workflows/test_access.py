"""Access control on the real API: API keys with roles, signed partner webhooks with replay protection."""

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from infra.platform.dev_secrets import dev_partner_key, dev_partner_secret
from infra.platform.settings import DEV_API_KEYS
from infra.platform.webhooks import signed_headers
from tests.support import by_road, load_example, unique_id
from tradelane.enums import Status
from workflows.shipment import ShipmentWorkflow

pytestmark = pytest.mark.temporal

PROTECTED = [
    ("POST", "/v1/shipments"), ("GET", "/v1/shipments"), ("GET", "/v1/shipments/X-1"),
    ("POST", "/v1/quotes"), ("POST", "/v1/documents/packing-list"), ("GET", "/v1/shipments/X-1/events"),
    ("GET", "/v1/shipments/X-1/notifications"), ("POST", "/v1/shipments/X-1/approvals"),
    ("POST", "/v1/shipments/X-1/cancel"), ("POST", "/v1/carrier-events"),
]


def bearer(role: str) -> dict[str, str]:
    """The development key of a role; `partner` is RoadLink's own key (each partner has one)."""
    return {"Authorization": f"Bearer {dev_partner_key('roadlink') if role == 'partner' else DEV_API_KEYS[role]}"}


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
@pytest.mark.parametrize("headers", [{"Authorization": ""}, {"Authorization": "Bearer not-a-key"},
                                     {"Authorization": "Basic ZGV2LW9wcy1rZXk6"}, {"X-API-Key": "wrong"}],
                         ids=["no key", "unknown key", "not bearer", "unknown X-API-Key"])
async def test_every_endpoint_but_the_public_ones_needs_a_known_key(harness, method, path, headers):
    response = await harness.api.request(method, path, json={}, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    assert response.headers["WWW-Authenticate"] == "Bearer"


ROLE_MATRIX = [
    # (role, method, path, allowed)
    ("backend", "POST", "/v1/shipments", True),
    ("ops", "POST", "/v1/shipments", False),
    ("partner", "POST", "/v1/shipments", False),
    ("backend", "GET", "/v1/shipments", True),
    ("ops", "GET", "/v1/shipments", True),
    ("partner", "GET", "/v1/shipments", False),
    ("backend", "POST", "/v1/shipments/{id}/approvals", False),
    ("partner", "POST", "/v1/shipments/{id}/approvals", False),
    ("ops", "POST", "/v1/shipments/{id}/approvals", True),
    ("backend", "POST", "/v1/shipments/{id}/cancel", False),
    ("ops", "POST", "/v1/shipments/{id}/cancel", True),
    ("backend", "POST", "/v1/carrier-events", False),
    ("ops", "POST", "/v1/carrier-events", False),
]


@pytest.mark.parametrize(("role", "method", "path", "allowed"), ROLE_MATRIX,
                         ids=[f"{r} {m} {p} {'ok' if a else 'forbidden'}" for r, m, p, a in ROLE_MATRIX])
async def test_roles_decide_what_a_key_may_do(harness, role, method, path, allowed):
    shipment_id = unique_id("acl")
    bodies = {
        "/v1/shipments": load_example("high-value-us-jp.json", shipment_id),
        "/v1/shipments/{id}/approvals": {"gate": "high_value", "decision": "approve", "actor": "ops@test",
                                         "comment": "checked"},
        "/v1/shipments/{id}/cancel": {"actor": "ops@test", "reason": "customer withdrew"},
        "/v1/carrier-events": {},
    }
    if path != "/v1/shipments":
        await harness.start(load_example("high-value-us-jp.json", shipment_id))  # with the backend key
        await harness.until_held(shipment_id)
    response = await harness.api.request(method, path.format(id=shipment_id), headers=bearer(role),
                                         json=bodies.get(path) if method == "POST" else None)
    if allowed:
        assert response.status_code in (200, 201, 202), response.text
    else:
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert error["code"] == "FORBIDDEN" and f"role {role} may not" in error["message"]
        if path != "/v1/shipments":
            state = await harness.state(shipment_id)  # a forbidden call changed nothing
            assert state.status is Status.ON_HOLD and state.gates[0].decision is None


async def test_public_pages_and_probes_need_no_key(harness):
    assert (await harness.api.get("/healthz", headers={"Authorization": ""})).status_code == 200
    ready = await harness.api.get("/readyz", headers={"Authorization": ""})
    assert ready.status_code == 200, ready.text
    assert {c["name"]: c["ok"] for c in ready.json()["checks"]} == {"temporal": True, "database": True}
    page = await harness.api.get("/track/NO-SUCH-NUMBER", headers={"Authorization": ""})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]


def signed_event(shipment_id: str, event_id: str, *, partner: str = "roadlink", secret: str | None = None,
                 at: int | None = None, code: str = "LINEHAUL", tracking_number: str | None = None,
                 claimed: str | None = None) -> tuple[bytes, dict[str, str]]:
    """An event posted by `partner` with its own key, signed with its own secret (or `secret`); the body says it
    is from `claimed` (default: the partner itself)."""
    body = json.dumps({"event_id": event_id, "partner": claimed or partner, "shipment_id": shipment_id, "code": code,
                       "occurred_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                       "location": "Leipzig hub, DE", "tracking_number": tracking_number}).encode()
    headers = {"Authorization": f"Bearer {dev_partner_key(partner)}", "Content-Type": "application/json",
               **signed_headers(secret or dev_partner_secret(partner), event_id,
                                at if at is not None else int(time.time()), body)}
    return body, headers


async def in_transit(harness, shipment_id: str) -> str:
    """Start a shipment by road whose carrier (RoadLink, which pushes its events) goes quiet in transit; its
    tracking number."""
    await harness.add_fault(partner="roadlink", operation="handover", shipment_id=shipment_id, kind="scenario",
                            scenario="stalled")
    await harness.start(by_road(shipment_id))
    state = await harness.wait_until(shipment_id, lambda s: s.events_received >= 2)
    assert state.carrier == "roadlink" and state.tracking_number is not None
    return state.tracking_number


async def test_partner_webhooks_must_be_signed_recently_with_the_partners_secret(harness):
    shipment_id = unique_id("sig")
    number = await in_transit(harness, shipment_id)
    event_id = f"test:{shipment_id}:9"
    cases = {
        "unsigned": (signed_event(shipment_id, event_id, tracking_number=number)[0],
                     {**bearer("partner"), "Content-Type": "application/json"}),
        "wrong secret": signed_event(shipment_id, event_id, secret="guessed", tracking_number=number),
        "another partner's secret": signed_event(shipment_id, event_id, secret=dev_partner_secret("parcelnow"),
                                                 tracking_number=number),
        "too old (a replay)": signed_event(shipment_id, event_id, at=int(time.time()) - 3600, tracking_number=number),
        "from the future": signed_event(shipment_id, event_id, at=int(time.time()) + 3600, tracking_number=number),
    }
    problems = {}
    for name, (body, headers) in cases.items():
        response = await harness.api.post("/v1/carrier-events", content=body, headers=headers)
        assert response.status_code == 401, (name, response.text)
        problems[name] = response.json()["error"]["code"]
    assert set(problems.values()) == {"INVALID_SIGNATURE"}
    body, headers = signed_event(shipment_id, event_id, tracking_number=number)
    tampered = body.replace(b'"LINEHAUL"', b'"ARRIVED_HUB"')  # signed for LINEHAUL, says arrived
    response = await harness.api.post("/v1/carrier-events", content=tampered, headers=headers)
    assert response.status_code == 401 and "body was changed" in response.json()["error"]["message"]

    state = await harness.state(shipment_id)
    assert event_id not in {e.event_id for e in state.events}  # nothing refused reached the workflow


async def test_a_replayed_webhook_is_acknowledged_once_and_an_event_id_cannot_be_reused(harness):
    shipment_id = unique_id("replay")
    number = await in_transit(harness, shipment_id)
    event_id = f"test:{shipment_id}:9"
    body, headers = signed_event(shipment_id, event_id, tracking_number=number)
    first = await harness.api.post("/v1/carrier-events", content=body, headers=headers)
    replayed = await harness.api.post("/v1/carrier-events", content=body, headers=headers)
    assert (first.status_code, replayed.status_code) == (202, 202)
    assert (first.json()["duplicate"], replayed.json()["duplicate"]) == (False, True)

    other_body, other_headers = signed_event(shipment_id, event_id, code="ARRIVED_HUB", tracking_number=number)
    reused = await harness.api.post("/v1/carrier-events", content=other_body, headers=other_headers)
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "EVENT_ID_REUSED"

    state = await harness.state(shipment_id)
    assert [e.event_id for e in state.events].count(event_id) == 1
    assert state.duplicate_events == 0  # the replay never reached the workflow's history


async def test_an_event_id_may_repeat_across_shipments(harness):
    """Partners number events per booking: the same id for another shipment is another event, not a replay."""
    first, second = unique_id("same-a"), unique_id("same-b")
    numbers = {shipment_id: await in_transit(harness, shipment_id) for shipment_id in (first, second)}
    for shipment_id in (first, second):
        body, headers = signed_event(shipment_id, "roadlink:BKG-000001:9", tracking_number=numbers[shipment_id])
        response = await harness.api.post("/v1/carrier-events", content=body, headers=headers)
        assert (response.status_code, response.json()["duplicate"]) == (202, False), response.text
    for shipment_id in (first, second):
        state = await harness.wait_until(shipment_id,
                                         lambda s: "roadlink:BKG-000001:9" in {e.event_id for e in s.events})
        assert state.duplicate_events == 0


async def test_keys_are_never_logged(harness, caplog):
    shipment_id = unique_id("nolog")
    caplog.set_level(logging.INFO)
    await harness.start(load_example("high-value-us-jp.json", shipment_id))
    await harness.until_held(shipment_id)
    await harness.approve(shipment_id)
    await harness.api.get("/v1/shipments", headers={"Authorization": "Bearer not-a-key"})
    await harness.api.post("/v1/shipments", headers=bearer("ops"), json={})
    # structlog hands each event to the standard library as a dict (`record.msg`), rendered later.
    events = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    text = json.dumps(events, default=str)
    assert "dev-backend" in text and "dev-ops" in text  # the key's name says who acted ...
    assert all(key not in text for key in DEV_API_KEYS.values())  # ... its secret never appears
    assert "not-a-key" not in text
    started = [e for e in events if e.get("event") == "shipment started" and e.get("shipment_id") == shipment_id]
    assert started and started[0]["caller"] == "dev-backend"


async def test_the_workflow_still_drops_a_duplicate_it_receives(harness):
    """Receipts stop replays at the door; an event that arrives twice by other ways is dropped by the workflow."""
    shipment_id = unique_id("dupwf")
    await in_transit(harness, shipment_id)
    state = await harness.state(shipment_id)
    known = state.events[0]
    await harness.handle(shipment_id).signal(ShipmentWorkflow.carrier_event, known)
    state = await harness.wait_until(shipment_id, lambda s: s.duplicate_events == 1)
    assert [e.event_id for e in state.events].count(known.event_id) == 1


async def test_a_partner_posts_only_its_own_events_for_its_own_shipments(harness):
    """The attack that made a customer receive a "delivered" e-mail: other partners posting events to a shipment
    in transit. Each is refused, and the shipment's timeline and status do not change."""
    shipment_id = unique_id("spoof")
    number = await in_transit(harness, shipment_id)
    before = await harness.state(shipment_id)
    attempts = {
        # partner, body's claim, tracking number -> (status, code)
        "another carrier, as itself": (("aerocargo", None, number), (403, "PARTNER_NOT_ON_SHIPMENT")),
        "an express carrier, as itself": (("ups", None, number), (403, "PARTNER_NOT_ON_SHIPMENT")),
        "the last mile, before it holds a slot": (("parcelnow", None, number), (403, "PARTNER_NOT_ON_SHIPMENT")),
        "a partner claiming to be the carrier": (("ups", "roadlink", number), (403, "PARTNER_MISMATCH")),
        "the carrier, for a parcel not its own": (("roadlink", None, "RL999999999"), (404, "UNKNOWN_REFERENCE")),
        "the carrier, naming no parcel": (("roadlink", None, None), (422, "REFERENCE_REQUIRED")),
    }
    for name, ((partner, claimed, tracking), expected) in attempts.items():
        body, headers = signed_event(shipment_id, f"spoof:{name}", partner=partner, claimed=claimed,
                                     code="DELIVERED", tracking_number=tracking)
        response = await harness.api.post("/v1/carrier-events", content=body, headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == expected, (name, response.text)
    after = await harness.state(shipment_id)
    assert [e.event_id for e in after.events] == [e.event_id for e in before.events]
    assert after.status == before.status and after.stage == before.stage
    # The carrier itself, naming its own parcel, is heard.
    body, headers = signed_event(shipment_id, "own:1", tracking_number=number)
    response = await harness.api.post("/v1/carrier-events", content=body, headers=headers)
    assert response.status_code == 202, response.text
    await harness.wait_until(shipment_id, lambda s: "own:1" in {e.event_id for e in s.events})
