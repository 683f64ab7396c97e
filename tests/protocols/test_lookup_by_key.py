"""Lookup by idempotency key, protocol by protocol (issue 18): Tradelane's dialect finds what a partner made under a
key (against the sandbox's emulation on loopback); Karrio carriers and DCSA lines cannot be asked and say so, typed
for the reconciliation list; the by-key undo cancels what it finds with the undo's own key and changes nothing when
nothing was made."""

import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from temporalio.exceptions import ApplicationError

from activities.carriers import CarrierActivities
from activities.errors import PARTNER_BAD_RESPONSE
from activities.http import PartnerGateway
from activities.protocols.tradelane_dialect import find_records, parse_found
from tradelane.shipment.calls import PartnerCall
from tradelane.shipment.undo import LOOKUP_UNSUPPORTED, NOT_FOUND, undo_key

DCSA_BOOKING = Path("/work/shared/specs/dcsa/BKG_v2.0.5.yaml")
BOOKING = {"origin_country": "PL", "destination_country": "DE", "service_level": "standard",
           "parcels": [{"weight_kg": 2.0, "length_cm": 30, "width_cm": 20, "height_cm": 10}]}


@pytest.fixture
async def gateway(sandbox):
    async with httpx.AsyncClient(timeout=5) as http:
        yield PartnerGateway(http, sandbox.url)


async def book(sandbox_url: str, shipment_id: str, key: str) -> str:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=5) as http:
        made = await http.post("/partners/roadlink/bookings", headers={"Idempotency-Key": key},
                               json={"shipment_id": shipment_id, **BOOKING})
    assert made.status_code == 201, made.text
    return str(made.json()["booking_id"])


async def test_the_dialect_finds_the_booking_made_under_a_key_and_only_that(sandbox, gateway):
    shipment_id = f"lookup-{uuid.uuid4().hex[:8]}"
    key = f"tl:{shipment_id}:book:roadlink"
    ref = await book(sandbox.url, shipment_id, key)
    await book(sandbox.url, shipment_id, f"{key}-other")

    [found] = await find_records(gateway, "roadlink", "booking", key)
    assert (found.id, found.idempotency_key, found.shipment_id, found.state) == (ref, key, shipment_id, "confirmed")
    assert await find_records(gateway, "roadlink", "booking", f"tl:{shipment_id}:never") == []
    assert await find_records(gateway, "roadlink", "label", key) == [], "keys are per kind of record"
    listed = await find_records(gateway, "roadlink", "booking", states=("confirmed",))
    assert ref in {r.id for r in listed} and {r.state for r in listed} == {"confirmed"}


async def test_the_by_key_undo_cancels_what_was_made_with_its_own_key_and_finds_nothing_twice(sandbox, gateway):
    shipment_id = f"bykey-{uuid.uuid4().hex[:8]}"
    step_key = f"tl:{shipment_id}:book:roadlink"
    ref = await book(sandbox.url, shipment_id, step_key)
    call = PartnerCall(shipment_id=shipment_id, partner="roadlink", idempotency_key=undo_key(step_key))

    undone = await CarrierActivities(gateway).cancel_booking_by_key(call)
    assert (undone.ref, undone.state) == (ref, "cancelled")
    again = await CarrierActivities(gateway).cancel_booking_by_key(call)
    assert (again.ref, again.state) == (ref, "cancelled"), "a retried undo is one undo"

    nothing = await CarrierActivities(gateway).cancel_booking_by_key(
        call.model_copy(update={"idempotency_key": undo_key(f"tl:{shipment_id}:book-r1:roadlink")}))
    assert nothing.state == NOT_FOUND


async def test_an_attempt_that_reaches_the_partner_after_the_by_key_undo_makes_nothing(sandbox, gateway):
    """The race the 300-shipment fault matrix found: the step's last attempt, sent by a worker that was then
    SIGKILLed, reached the broker 13 s after the saga's lookup had found nothing, and its filing was left behind.
    The by-key undo fences the key, so the late attempt is refused and the partner holds nothing."""
    shipment_id = f"late-{uuid.uuid4().hex[:8]}"
    step_key = f"tl:{shipment_id}:book:roadlink"
    call = PartnerCall(shipment_id=shipment_id, partner="roadlink", idempotency_key=undo_key(step_key))
    nothing = await CarrierActivities(gateway).cancel_booking_by_key(call)
    assert nothing.state == NOT_FOUND

    async with httpx.AsyncClient(base_url=sandbox.url, timeout=5) as http:
        late = await http.post("/partners/roadlink/bookings", headers={"Idempotency-Key": step_key},
                               json={"shipment_id": shipment_id, **BOOKING})
    assert (late.status_code, late.json()["error"]["code"]) == (409, "IDEMPOTENCY_KEY_FENCED")
    assert await find_records(gateway, "roadlink", "booking", step_key) == []


@pytest.mark.parametrize("partner", ["ups", "fedex", "dhl_express", "bluewave"])
async def test_karrio_carriers_and_dcsa_lines_cannot_be_asked_by_key(gateway, partner):
    adapter = gateway.carrier(partner)
    with pytest.raises(ApplicationError) as raised:
        await adapter.find(gateway.http, gateway.endpoint(partner), "booking", f"tl:S-1:book:{partner}")
    assert raised.value.type == LOOKUP_UNSUPPORTED and raised.value.non_retryable
    assert partner in raised.value.message


async def test_an_ocean_label_made_nothing_so_its_lookup_finds_nothing(gateway):
    assert await gateway.carrier("bluewave").find(gateway.http, gateway.endpoint("bluewave"), "label", "k") is None


@pytest.mark.parametrize("body", [{}, {"records": [{"id": "BKG-1"}]}, {"records": "none"}],
                         ids=["no records", "record without fields", "not a list"])
def test_a_lookup_answer_that_does_not_parse_is_a_bad_response(body):
    with pytest.raises(ApplicationError) as raised:
        parse_found("roadlink find booking", body)
    assert raised.value.type == PARTNER_BAD_RESPONSE and raised.value.non_retryable


def test_dcsa_booking_2_offers_no_lookup_by_a_reference_the_requester_chooses():
    """Why a DCSA booking's unknown outcome goes to ops, read from the published spec: the line creates the
    `carrierBookingRequestReference` (the create answers only it; the request has no such field), and the only read
    is of one booking by the line's reference; there is no search by the customer reference or channel reference
    Tradelane could choose."""
    bkg = yaml.safe_load(DCSA_BOOKING.read_text())
    reads = {path for path, item in bkg["paths"].items() if "get" in item}
    assert reads == {"/v2/bookings/{bookingReference}"}
    schemas = bkg["components"]["schemas"]
    assert list(schemas["CreateBookingResponse"]["properties"]) == ["carrierBookingRequestReference"]
    assert "carrierBookingRequestReference" not in schemas["CreateBooking"]["properties"]
    assert "get" not in bkg["paths"]["/v2/bookings"], "no listing or search of bookings"
