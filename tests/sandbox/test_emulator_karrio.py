"""The carrier emulators against Karrio, which none of us wrote: Karrio's mappers build every request the emulators
receive, and Karrio's parsers read every response they send. An emulator drifting from the carrier's format fails
here, either because it refuses what Karrio sends or because Karrio cannot read what it answers.

One mechanism for the four carriers and a table (`CARRIERS`) of their differences: paths, sign-in, body encoding.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import karrio.core.models as km
import karrio.lib as lib
import pytest
from karrio.mappers import dhl_express, fedex, roadie, ups

from tests.sandbox.conftest import FakeClock, MakeSandbox
from tradelane.enums import TrackingStatus
from tradelane.karrio_status import karrio_status

INPUTS = json.loads((Path(__file__).parent / "fixtures" / "karrio_shipment.json").read_text())
REFERENCE = "S-emu-1"

Client = httpx.AsyncClient
SignIn = Callable[[Client], Awaitable[dict[str, str]]]


async def _ups_token(client: Client) -> dict[str, str]:
    response = await client.post("/ups/security/v1/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=("tradelane-dev", "dev-secret"))
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}"}


async def _fedex_token(client: Client) -> dict[str, str]:
    response = await client.post("/fedex/oauth/token", data={
        "grant_type": "client_credentials", "client_id": "tradelane-dev", "client_secret": "dev-secret"})
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}"}


async def _roadie_key(client: Client) -> dict[str, str]:
    return {"authorization": "Bearer dev-api-key"}


async def _in_body(client: Client) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Carrier:
    """What differs between carriers on the wire; every path is relative to the sandbox."""

    name: str
    mapper: Any
    sign_in: SignIn
    rate: tuple[str, str]
    ship: tuple[str, str]
    track: tuple[str, str]
    """(method, path); ``{id}`` is the tracking or shipment id, ``{ids}`` a comma-joined list."""
    cancel: tuple[str, str] | None
    service: str
    domestic: bool = False
    xml: bool = False
    rate_services: frozenset[str] = frozenset()
    leg_end_code: str = ""


CARRIERS = {
    "ups": Carrier(
        name="ups", mapper=ups.Mapper(ups.Settings(client_id="tradelane-dev", client_secret="dev-secret",
                                                   account_number="A1B2C3", test_mode=True)),
        sign_in=_ups_token,
        rate=("POST", "/ups/api/rating/v2409/Shop?additionalinfo=timeintransit"),
        ship=("POST", "/ups/api/shipments/v2409/ship"),
        track=("GET", "/ups/api/track/v1/details/{id}?locale=en_US&returnSignature=true"),
        cancel=("DELETE", "/ups/api/shipments/v2409/void/cancel/{id}"),
        service="ups_worldwide_saver",
        rate_services=frozenset({"ups_worldwide_express", "ups_worldwide_saver", "ups_worldwide_expedited"}),
        leg_end_code="AF",
    ),
    "fedex": Carrier(
        name="fedex", mapper=fedex.Mapper(fedex.Settings(api_key="tradelane-dev", secret_key="dev-secret",
                                                         account_number="510087020", test_mode=True)),
        sign_in=_fedex_token,
        rate=("POST", "/fedex/rate/v1/rates/quotes"),
        ship=("POST", "/fedex/ship/v1/shipments"),
        track=("POST", "/fedex/track/v1/trackingnumbers"),
        cancel=("PUT", "/fedex/ship/v1/shipments/cancel"),
        service="fedex_international_priority",
        rate_services=frozenset({"fedex_international_priority", "fedex_international_economy"}),
        leg_end_code="FD",
    ),
    "dhl_express": Carrier(
        name="dhl_express", mapper=dhl_express.Mapper(dhl_express.Settings(
            site_id="tradelane-dev", password="dev-secret", account_number="123456789", test_mode=True)),
        sign_in=_in_body,
        rate=("POST", "/dhl_express/XMLShippingServlet"),
        ship=("POST", "/dhl_express/XMLShippingServlet"),
        track=("POST", "/dhl_express/XMLShippingServlet"),
        cancel=None,
        service="dhl_express_worldwide_nondoc",
        xml=True,
        rate_services=frozenset({"dhl_express_worldwide_nondoc", "dhl_express_12_00_nondoc"}),
        leg_end_code="AR",
    ),
    "roadie": Carrier(
        name="roadie", mapper=roadie.Mapper(roadie.Settings(api_key="dev-api-key", test_mode=True)),
        sign_in=_roadie_key,
        rate=("POST", "/roadie/v1/estimates"),
        ship=("POST", "/roadie/v1/shipments"),
        track=("GET", "/roadie/v1/shipments?ids={ids}"),
        cancel=("DELETE", "/roadie/v1/shipments/{id}"),
        service="roadie_local_delivery",
        domestic=True,
        rate_services=frozenset({"roadie_local_delivery"}),
        leg_end_code="delivery_confirmed",
    ),
}


def addresses(carrier: Carrier) -> dict[str, km.Address]:
    recipient = INPUTS["us_recipient"] if carrier.domestic else INPUTS["recipient"]
    return {"shipper": km.Address(**INPUTS["shipper"]), "recipient": km.Address(**recipient)}


def parcels() -> list[km.Parcel]:
    return [km.Parcel(**INPUTS["parcel"])]


def rate_request(carrier: Carrier) -> km.RateRequest:
    return km.RateRequest(**addresses(carrier), parcels=parcels(), services=[], reference=REFERENCE)


def shipment_request(carrier: Carrier) -> km.ShipmentRequest:
    customs = None if carrier.domestic else km.Customs(
        commodities=[km.Commodity(**INPUTS["commodity"])], incoterm="DDP", content_type="merchandise")
    return km.ShipmentRequest(service=carrier.service, **addresses(carrier), parcels=parcels(), reference=REFERENCE,
                              customs=customs, payment=km.Payment(paid_by="sender"), label_type="PDF")


def _wire(carrier: Carrier, request: lib.Serializable) -> str | None:
    body = request.serialize()
    if isinstance(body, str):
        return body
    return lib.to_json(body)


def decode(carrier: Carrier, text: str, ctx: dict[str, Any] | None = None) -> lib.Deserializable:
    """The response as Karrio's proxy hands it to the parser."""
    return lib.Deserializable(text, lib.to_element if carrier.xml else lib.to_dict, ctx or {})


async def send(client: Client, carrier: Carrier, route: tuple[str, str], request: lib.Serializable | None,
               headers: dict[str, str], **ids: str) -> httpx.Response:
    """Sends what Karrio's proxy sends: its method, path and serialised body."""
    method, path = route
    content = None if request is None or method in ("GET", "DELETE") else _wire(carrier, request)
    content_type = "application/xml" if carrier.xml else "application/json"
    return await client.request(method, path.format(**ids), content=content,
                                headers={**headers, "content-type": content_type})


@dataclass
class Booked:
    response: httpx.Response
    details: km.ShipmentDetails


async def book(client: Client, carrier: Carrier, headers: dict[str, str], **extra: str) -> Booked:
    request = carrier.mapper.create_shipment_request(shipment_request(carrier))
    response = await send(client, carrier, carrier.ship, request, {**headers, **extra})
    assert response.status_code == 200, response.text
    details, messages = carrier.mapper.parse_shipment_response(decode(carrier, response.text, request.ctx))
    assert messages == []
    return Booked(response=response, details=details)


async def track(client: Client, carrier: Carrier, headers: dict[str, str], identifier: str
                ) -> tuple[list[km.TrackingDetails], list[km.Message]]:
    request = carrier.mapper.create_tracking_request(km.TrackingRequest(tracking_numbers=[identifier]))
    response = await send(client, carrier, carrier.track, request, headers, id=identifier, ids=identifier)
    if carrier.name == "ups":
        # Karrio's UPS proxy polls one number per call and hands the parser (number, body) pairs.
        payload = lib.Deserializable([(identifier, response.text)],
                                     lambda pairs: [(n, lib.to_dict(text)) for n, text in pairs])
        return carrier.mapper.parse_tracking_response(payload)
    return carrier.mapper.parse_tracking_response(decode(carrier, response.text, request.ctx))


async def cancel(client: Client, carrier: Carrier, headers: dict[str, str], identifier: str
                 ) -> tuple[km.ConfirmationDetails, list[km.Message]]:
    assert carrier.cancel is not None
    request = carrier.mapper.create_cancel_shipment_request(km.ShipmentCancelRequest(shipment_identifier=identifier))
    response = await send(client, carrier, carrier.cancel, request, headers, id=identifier)
    assert response.status_code == 200, response.text
    return carrier.mapper.parse_cancel_shipment_response(decode(carrier, response.text))


def identifier_of(carrier: Carrier, details: km.ShipmentDetails) -> str:
    """What Karrio tracks and cancels a shipment by: the tracking number, or Roadie's shipment id."""
    return str(details.shipment_identifier if carrier.name == "roadie" else details.tracking_number)


@pytest.fixture(params=sorted(CARRIERS))
def carrier(request: pytest.FixtureRequest) -> Carrier:
    return CARRIERS[request.param]


async def test_karrio_reads_the_emulators_rates(make_sandbox: MakeSandbox, carrier: Carrier) -> None:
    sb = await make_sandbox()
    headers = await carrier.sign_in(sb.client)
    request = carrier.mapper.create_rate_request(rate_request(carrier))
    response = await send(sb.client, carrier, carrier.rate, request, headers)
    assert response.status_code == 200, response.text
    rates, messages = carrier.mapper.parse_rate_response(decode(carrier, response.text, request.ctx))
    assert messages == []
    assert {r.service for r in rates} == carrier.rate_services
    assert all(r.total_charge > 0 and r.currency == "USD" and r.transit_days for r in rates)


async def test_karrio_books_reads_the_label_tracks_and_cancels(make_sandbox: MakeSandbox, carrier: Carrier) -> None:
    sb = await make_sandbox(seconds_per_day=0)  # every scenario event at once
    headers = await carrier.sign_in(sb.client)
    booked = await book(sb.client, carrier, headers)
    details = booked.details
    assert details.tracking_number
    if carrier.name == "roadie":
        # Karrio fetches Roadie's label itself (from a settings field its Roadie extension lacks); the emulator
        # serves it at the path Karrio asks.
        label = await sb.client.get(f"/roadie/v1/shipments/{details.shipment_identifier}/label", headers=headers)
        assert label.content.startswith(b"%PDF")
    else:
        assert base64.b64decode(details.docs.label).startswith(b"%PDF")

    trackers, messages = await track(sb.client, carrier, headers, identifier_of(carrier, details))
    assert messages == []
    (tracker,) = trackers
    assert tracker.events and all(e.code and e.timestamp for e in tracker.events)
    assert tracker.events[0].code == carrier.leg_end_code
    assert tracker.events[-1].status in ("pending", "picked_up", "in_transit")
    # Tradelane's table reads the leg's last event as the end of the carrier's leg in the shipment.
    leg_end = tracker.events[0]
    final = TrackingStatus.DELIVERED if carrier.name == "roadie" else TrackingStatus.ARRIVED_AT_DESTINATION
    assert karrio_status(carrier.name, leg_end.status, leg_end.reason, leg_end.code) is final

    if carrier.cancel is not None:
        confirmation, messages = await cancel(sb.client, carrier, headers, identifier_of(carrier, details))
        assert messages == [] and confirmation.success is True


async def test_tracking_follows_the_compressed_clock(make_sandbox: MakeSandbox, fake_clock: FakeClock,
                                                     carrier: Carrier) -> None:
    sb = await make_sandbox(clock=fake_clock, seconds_per_day=100)
    headers = await carrier.sign_in(sb.client)
    identifier = identifier_of(carrier, (await book(sb.client, carrier, headers)).details)
    seen = []
    for _ in range(6):
        (tracker,), _ = await track(sb.client, carrier, headers, identifier)
        seen.append([e.code for e in reversed(tracker.events)])
        fake_clock.wall += timedelta(seconds=50)  # half a virtual day
    assert [len(codes) for codes in seen] == sorted(len(codes) for codes in seen)
    assert len(seen[0]) == 1 and seen[-1][-1] == carrier.leg_end_code
    assert carrier.leg_end_code not in seen[0]


CANCELLABLE = sorted(name for name, c in CARRIERS.items() if c.cancel is not None)


def test_only_dhl_express_has_no_cancel() -> None:
    """DHL's XML-PI (what Karrio's extension speaks) has no shipment cancel; every other carrier is cancellable."""
    assert set(CARRIERS) - set(CANCELLABLE) == {"dhl_express"}


@pytest.mark.parametrize("name", CANCELLABLE)
async def test_a_cancelled_shipment_stops_tracking_where_it_was(make_sandbox: MakeSandbox, fake_clock: FakeClock,
                                                                name: str) -> None:
    carrier = CARRIERS[name]
    sb = await make_sandbox(clock=fake_clock, seconds_per_day=100)
    headers = await carrier.sign_in(sb.client)
    identifier = identifier_of(carrier, (await book(sb.client, carrier, headers)).details)
    fake_clock.wall += timedelta(seconds=10)
    confirmation, _ = await cancel(sb.client, carrier, headers, identifier)
    assert confirmation.success is True
    fake_clock.wall += timedelta(days=30)
    (tracker,), _ = await track(sb.client, carrier, headers, identifier)
    assert len(tracker.events) == 1
    states = {r["kind"]: r["state"] for r in await sb.records(REFERENCE)}
    assert states in ({"booking": "cancelled", "label": "voided"}, {"slot": "released"})


async def test_karrio_reads_the_emulators_errors(make_sandbox: MakeSandbox, carrier: Carrier) -> None:
    sb = await make_sandbox()
    headers = await carrier.sign_in(sb.client)
    request = carrier.mapper.create_rate_request(rate_request(carrier))
    response = await send(sb.client, carrier, carrier.rate, request,
                          {**headers, "X-Sandbox-Fault": "kind=reject;code=SERVICE_UNAVAILABLE_FOR_LANE"})
    assert response.status_code == 422
    rates, messages = carrier.mapper.parse_rate_response(decode(carrier, response.text, request.ctx))
    assert rates == []
    assert [m.code for m in messages] == ["SERVICE_UNAVAILABLE_FOR_LANE"]
