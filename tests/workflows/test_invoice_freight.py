"""The commercial invoice's freight is the booked plan's (issue 19, point 4): the same figure as the quote's landed
cost for a request not started yet, and the backup plan's for a shipment that switched to one. Through the real
API, a real Temporal dev server and worker, and the carrier sandbox's live quotes."""

import re
from decimal import Decimal

import pytest

from tests.domain.test_pdf import text
from tests.support import load_example, unique_id
from tradelane.decisions.documents import booked_charges
from tradelane.decisions.pdf import money
from tradelane.enums import Status

pytestmark = pytest.mark.temporal


async def invoice_text(harness, body) -> str:
    response = await harness.api.post("/v1/documents/commercial-invoice", json=body)
    assert response.status_code == 200, response.text
    return text(response.content)


@pytest.mark.parametrize("example", ["lithium-powerbank-cn-us.json", "basic-cn-de.json"])
async def test_invoice_freight_is_the_quotes_landed_cost_freight(harness, example):
    body = load_example(example, unique_id("ci"))
    quote = (await harness.api.post("/v1/quotes", json=body)).json()
    plan, landed = quote["plan"], quote["landed_cost"]
    assert any(leg["cost_source"].startswith("quote ") for leg in plan["legs"]), "partners' live quotes were used"
    shown = await invoice_text(harness, body)
    charged = re.search(r"Freight(?: \([^)]*\))? ([\d,]+\.\d{2}) ", shown)
    assert charged is not None, shown
    assert charged.group(1) == money(Decimal(landed["freight"]))
    assert f"Freight (plan {plan['plan_id']} {Decimal(plan['cost']['amount']):,.2f} + last mile " in shown
    if landed["insurance"] and Decimal(landed["insurance"]):
        assert f"Insurance {money(Decimal(landed['insurance']))}" in shown


async def test_invoice_of_a_started_shipment_shows_the_plan_it_is_booked_on(harness):
    shipment_id = unique_id("cib")
    body = load_example("basic-cn-de.json", shipment_id)
    first = (await harness.api.post("/v1/quotes", json=body)).json()["plan"]
    # The first plan's carrier refuses the booking: the workflow books the backup plan. A fresh quote would still
    # choose the first plan (quotes are not refused), so only the booked state gives the backup's freight.
    await harness.add_fault(partner=first["legs"][0]["partner"], operation="book", shipment_id=shipment_id,
                            kind="reject", code="CAPACITY_EXHAUSTED", message="no space")
    await harness.start(body)
    state = await harness.result(shipment_id)
    assert state.status is Status.DELIVERED and state.plan is not None and state.assessment is not None
    assert state.plan.plan_id != first["plan_id"]
    charges = booked_charges(state.assessment, state.plan)
    assert charges is not None
    shown = await invoice_text(harness, body)
    assert f"Freight ({charges.freight_note}) {money(charges.freight.amount)}" in shown
    assert f"plan {state.plan.plan_id} " in shown and f"plan {first['plan_id']} " not in shown
