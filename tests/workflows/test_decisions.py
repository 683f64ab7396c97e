"""The decision layer end to end on the real stack: dev server, worker, sandbox over HTTP, API."""

from decimal import Decimal

import pytest

from tests.support import load_example, unique_id
from tradelane.enums import Aircraft, GateKind, Stage, Status

pytestmark = pytest.mark.temporal


def booked(records: list[dict]) -> list[dict]:
    return [r for r in records if r["kind"] == "booking"]


async def test_lithium_power_bank_never_flies_on_a_passenger_aircraft(harness):
    shipment_id = unique_id("li")
    await harness.start(load_example("lithium-powerbank-cn-us.json", shipment_id))
    state = await harness.result(shipment_id)
    assert state.status is Status.DELIVERED
    a = state.assessment
    for plan in [state.plan, *a.alternatives]:
        assert all(leg.aircraft is not Aircraft.PASSENGER for leg in plan.legs), plan.plan_id
    assert state.plan.legs[0].aircraft is Aircraft.CARGO
    assert any("Cargo Aircraft Only" in label for label in a.marking.labels)
    assert state.carrier in {"ups", "dhl_express", "fedex"}  # the express carriers, all freighter networks
    assert [b["partner"] for b in booked(await harness.inspect(shipment_id))] == [state.carrier]


async def test_us_bound_parcel_after_2025_08_29_pays_duty_whatever_its_value(harness):
    shipment_id = unique_id("usd")
    body = load_example("lithium-powerbank-cn-us.json", shipment_id)
    body["items"][0].update(quantity=1, unit_value="5.00")
    await harness.start(body)
    state = await harness.result(shipment_id)
    landed = state.assessment.landed_cost
    assert landed.goods_value == Decimal("5.00")
    assert landed.duties > 0
    assert landed.buyer_pays > 0  # DAP: the buyer pays the duty
    assert landed.total == (landed.goods_value + landed.freight + landed.insurance + landed.duties + landed.taxes
                            + landed.fees)


async def test_embargoed_destination_is_never_booked(harness):
    shipment_id = unique_id("cu")
    body = load_example("basic-cn-de.json", shipment_id)
    body["destination"].update(country="CU", city="Havana", postal_code="10400", locale="es-CU")
    await harness.start(body)
    state = await harness.result(shipment_id)
    assert state.status is Status.REJECTED
    assert state.failure_code == "EMBARGOED_DESTINATION"
    assert "CU" in state.failure
    assert await harness.inspect(shipment_id) == []
    assert state.compensation == []


async def test_unmarked_wood_pallet_holds_at_packaging_check_until_ops_record_the_fix(harness):
    shipment_id = unique_id("ispm")
    body = load_example("pallet-cn-au.json", shipment_id)
    body["parcels"][1]["ispm15_marked"] = False
    await harness.start(body)
    state = await harness.until_held(shipment_id)
    assert state.stage is Stage.PACKAGING_CHECK
    gate = state.pending_gates[0]
    assert gate.kind is GateKind.PACKAGING and "parcels[1]" in gate.reason
    refused = await harness.decide(shipment_id, "packaging", "approve", comment="")
    assert refused.status_code == 409 and "say what was corrected" in refused.json()["error"]["message"]
    await harness.approve(shipment_id, "packaging", comment="pallet 2 replaced by an ISPM 15 marked pallet")
    state = await harness.result(shipment_id)
    assert state.status is Status.DELIVERED
    assert any("packaging corrected by ops@test: pallet 2 replaced" in t.note for t in state.transitions)


async def test_packaging_rejection_fails_the_shipment_and_releases_what_was_booked(harness):
    shipment_id = unique_id("ispm-x")
    body = load_example("pallet-cn-au.json", shipment_id)
    body["parcels"][0]["ispm15_marked"] = False
    await harness.start(body)
    await harness.until_held(shipment_id)
    response = await harness.decide(shipment_id, "packaging", "reject", comment="no treated pallets available")
    assert response.status_code == 200
    state = await harness.result(shipment_id)
    assert (state.status, state.failure_code) == (Status.COMPENSATED, "PACKAGING_CHECK_FAILED")
    records = await harness.inspect(shipment_id)
    assert records and all(r["state"] in ("cancelled", "voided") for r in records), records


async def test_a_carrier_failing_for_good_switches_to_the_backup_plan(harness):
    shipment_id = unique_id("bk")
    body = load_example("basic-cn-de.json", shipment_id)
    first = (await harness.api.post("/v1/quotes", json=body)).json()["plan"]["legs"][0]["partner"]
    await harness.add_fault(partner=first, operation="book", shipment_id=shipment_id, kind="reject",
                            code="CAPACITY_EXHAUSTED", message="no space")
    await harness.start(body)
    state = await harness.result(shipment_id)
    assert state.status is Status.DELIVERED
    [replan] = state.replans
    assert (replan.failed_partner, replan.to_plan) == (first, state.plan.plan_id)
    assert first not in state.plan.partners
    assert any(t.note.startswith(f"backup plan: {first} failed for good (CAPACITY_EXHAUSTED)")
               for t in state.transitions)
    live = [b for b in booked(await harness.inspect(shipment_id)) if b["state"] != "cancelled"]
    assert sorted(b["partner"] for b in live) == sorted(state.plan.partners), "one live booking per leg"


async def test_shipment_view_and_quotes_explain_the_decisions(harness):
    body = load_example("basic-cn-de.json", unique_id("q"))
    quote = await harness.api.post("/v1/quotes", json=body)
    assert quote.status_code == 200, quote.text
    q = quote.json()
    assert q["plan"]["legs"] and q["landed_cost"]["currency"] == "EUR"
    assert q["emissions_kg_co2e"] == pytest.approx(sum(leg["emission"]["co2e_kg"] for leg in q["plan"]["legs"])
                                                   + 0, rel=1e-6, abs=1e-3)
    assert {d["code"] for d in q["documents"]} >= {"commercial_invoice", "packing_list"}
    assert any(leg["cost_source"].startswith("quote ") for leg in q["plan"]["legs"]), "sandbox quotes were used"
    assert await harness.inspect(body["shipment_id"]) == [], "a quote books nothing"

    await harness.start(body)
    await harness.result(body["shipment_id"])
    view = (await harness.api.get(f"/v1/shipments/{body['shipment_id']}")).json()
    for key in ("plan", "alternatives", "landed_cost", "emissions_kg_co2e", "emissions", "documents", "marks",
                "compliance_findings", "risk_score"):
        assert key in view, key
    assert view["emissions"]["legs"][0]["factor_source"]
    assert view["landed_cost"]["lines"]


async def test_documents_are_pdfs(harness):
    body = load_example("basic-cn-de.json", unique_id("doc"))
    for document in ("commercial-invoice", "packing-list"):
        response = await harness.api.post(f"/v1/documents/{document}", json=body)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")
    bad = await harness.api.post("/v1/quotes", json={**body, "currency": "EURO"})  # not an ISO 4217 code
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "currency"


async def test_possible_denied_party_holds_before_booking_and_ops_decide(harness):
    cleared, refused = unique_id("dp-ok"), unique_id("dp-no")
    for shipment_id in (cleared, refused):
        body = load_example("basic-cn-de.json", shipment_id)
        body["destination"]["company"] = "Orion Dual Use Tradng"  # one letter off a listed entity
        await harness.start(body)
    for shipment_id in (cleared, refused):
        state = await harness.until_held(shipment_id)
        gate = state.pending_gates[0]
        assert (gate.kind, gate.stage) == (GateKind.COMPLIANCE, Stage.BOOKING)
        assert "Orion Dual-Use Trading LLC" in gate.reason
        finding = next(f for f in state.assessment.compliance.findings if f.code == "DENIED_PARTY_POSSIBLE_MATCH")
        assert finding.details["entity_number"] == "990101"
        assert await harness.inspect(shipment_id) == [], "nothing is booked before the compliance gate passes"
    await harness.approve(cleared, "compliance", comment="different entity: registry number checked")
    await harness.decide(refused, "compliance", "reject", comment="confirmed listed party")
    assert (await harness.result(cleared)).status is Status.DELIVERED
    state = await harness.result(refused)
    assert state.status is Status.REJECTED and "confirmed listed party" in state.failure
    assert await harness.inspect(refused) == []
