"""KarrioParcel against recording carriers: what it sends per carrier and operation, and how each failure is typed.

UPS requests and answers are checked against UPS's published OpenAPI files; the other carriers' answers are
fixtures in their published formats as Karrio reads them.
"""

import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from xml.etree import ElementTree

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.errors import (
    PARTNER_BAD_RESPONSE,
    PARTNER_CANNOT_CANCEL,
    PARTNER_RATE_LIMITED,
    PARTNER_REJECTED,
    PARTNER_UNAVAILABLE,
)
from activities.protocols.base import Endpoint
from activities.protocols.karrio_carriers import CARRIERS
from activities.protocols.karrio_parcel import KarrioParcel, chargeable_weight_kg
from infra.platform.partner_credentials import credentials
from tests.protocols.karrio_support import RecordingCarrier, UpsContract, answer, call, shipment
from tradelane.connections import PartnerProtocol, directory
from tradelane.enums import Mode, TrackingStatus

UPS = Endpoint(partner="ups", base_url="https://ups.test",
               credentials={"client_id": "ups-client", "client_secret": "ups-secret", "account_number": "A1B2C3"},
               options={"carrier": "ups", "service": "ups_worldwide_saver"})
UPS_TOKEN = ("POST", "/security/v1/oauth/token")
UPS_RATE = ("POST", "/api/rating/v2409/Shop")
UPS_SHIP = ("POST", "/api/shipments/v2409/ship")
UPS_VOID = ("DELETE", "/api/shipments/v2409/void/cancel/1ZA1B2C30400000017")
UPS_TRACK = ("GET", "/api/track/v1/details/1ZA1B2C30400000017")
TRACKING = "1ZA1B2C30400000017"
KARRIO_UPS_SHIP_DEVIATIONS = frozenset({
    # Where Karrio 2026.1.32's UPS ship request departs from UPS's Shipping.yaml (UPS's JSON API, converted from
    # its XML schemas, takes a lone object for a one-element array; the lengths are the spec's). Reported, not
    # patched: the adapter sends what Karrio builds.
    "'v2409' is too long",
    "{'Value': 'SHP-2026-000207'} is not of type 'array'",
    "'haruto.sato@example.jp' is not of type 'array'",
    "'01' is not of type 'array'",
    "'Laptop computer, 14 inch, with Li-i' is not of type 'array'",
    "'2026-12-02' is too long",
    "'19.69' is too long",
    "'15.75' is too long",
    "'9.84' is too long",
})


@pytest.fixture(scope="module")
def contract() -> UpsContract:
    return UpsContract()


def ups(**routes) -> RecordingCarrier:
    return RecordingCarrier({UPS_TOKEN: answer("ups_token.json"), **routes})


async def failure(coro) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await coro
    return caught.value


# ---- UPS: what is sent, checked against UPS's OpenAPI ------------------------------------------------------------


async def test_ups_quote_signs_in_once_and_rates_the_shipment_as_ups_publishes_it(contract):
    carrier = ups()
    carrier.routes[UPS_RATE] = answer("ups_rate.json")
    adapter, request = KarrioParcel(), shipment()
    async with carrier.client() as http:
        first = await adapter.quote(http, UPS, request, None, None)
        await adapter.quote(http, UPS, request, None, None)

    assert len(carrier.sent(*UPS_TOKEN)) == 1, "the OAuth token is cached per (base_url, client_id)"
    token_call = carrier.sent(*UPS_TOKEN)[0]
    assert token_call.headers["Authorization"] == "Basic " + base64.b64encode(b"ups-client:ups-secret").decode()
    assert token_call.content == b"grant_type=client_credentials"
    rate_call = carrier.sent(*UPS_RATE)[0]
    assert rate_call.url.params["additionalinfo"] == "timeintransit"
    assert rate_call.headers["Authorization"] == "Bearer ups-token-1"
    body = carrier.json(*UPS_RATE)["RateRequest"]["Shipment"]
    assert body["Shipper"]["ShipperNumber"] == "A1B2C3"
    assert body["ShipTo"]["Address"]["CountryCode"] == "JP"
    weight = body["Package"][0]["PackageWeight"]
    assert (weight["UnitOfMeasurement"]["Code"], weight["Weight"]) == ("LBS", "15.88"), "UPS wants pounds from the US"
    contract.check_request(token_call, "ups token")
    contract.check_request(rate_call, "ups rate", frozenset({"'65' is too short"}))  # Karrio's Service code
    contract.check_response(rate_call, "ups_rate.json")
    contract.check_response(token_call, "ups_token.json")

    assert first.partner == "ups" and first.mode == Mode.AIR_EXPRESS
    assert (first.amount, first.currency) == (Decimal("182.40"), "USD"), "the connection's service, not the cheapest"
    assert (first.transit_days_min, first.transit_days_max) == (2, 2)
    assert first.chargeable_weight_kg == 10.0, "50 x 40 x 25 / 5000 beats 7.2 kg"
    assert first.quote_id.startswith("ups:ups_worldwide_saver:")


async def test_ups_quote_without_a_service_takes_the_cheapest_and_assumes_1_to_5_days_when_none_is_stated():
    carrier = ups()
    carrier.routes[UPS_RATE] = answer("ups_rate.json")
    endpoint = Endpoint(partner="ups", base_url="https://ups.test", credentials=UPS.credentials,
                        options={"carrier": "ups"})
    async with carrier.client() as http:
        quote = await KarrioParcel().quote(http, endpoint, shipment(), None, None)
    assert quote.amount == Decimal("151.10")
    assert (quote.transit_days_min, quote.transit_days_max) == (1, 5)


async def test_ups_book_sends_customs_and_both_idempotency_headers_and_returns_the_tracking_number(contract):
    carrier = ups()
    carrier.routes[UPS_SHIP] = answer("ups_ship.json")
    request = shipment()
    async with carrier.client() as http:
        record = await KarrioParcel().book(http, UPS, call(request, key="SHP-2026-000207:book:ups"))
        again = await KarrioParcel().book(http, UPS, call(request, key="SHP-2026-000207:book:ups"))

    first, retry = carrier.sent(*UPS_SHIP)
    assert first.headers["Idempotency-Key"] == "SHP-2026-000207:book:ups"
    assert len(first.headers["transId"]) == 32
    assert first.headers["transId"] == retry.headers["transId"], "stable across retries"
    body = carrier.json(*UPS_SHIP)["ShipmentRequest"]["Shipment"]
    assert body["Service"]["Code"] == "65"
    product = body["ShipmentServiceOptions"]["InternationalForms"]["Product"][0]
    assert (product["CommodityCode"], product["OriginCountryCode"], product["Unit"]["Number"]) == ("847130", "CN", "3")
    assert body["ShipmentServiceOptions"]["InternationalForms"]["InvoiceNumber"] == "NW-55120"
    contract.check_request(first, "ups ship", KARRIO_UPS_SHIP_DEVIATIONS)
    contract.check_response(first, "ups_ship.json")

    assert record.model_dump() == again.model_dump() == {
        "kind": "booking", "partner": "ups", "ref": TRACKING, "state": "booked", "tracking_number": TRACKING,
        "hold_reason": None}


async def test_ups_label_comes_with_the_shipment_so_create_label_calls_nobody():
    carrier = ups()
    async with carrier.client() as http:
        label = await KarrioParcel().create_label(http, UPS, call(ref=TRACKING))
    assert carrier.requests == []
    assert (label.kind, label.ref, label.state, label.tracking_number) == ("label", TRACKING, "created", TRACKING)


async def test_ups_void_and_cancel_delete_the_shipment_and_twice_is_fine(contract):
    carrier = ups()
    answers = iter([answer("ups_void.json"), answer("ups_void_already.json", 400)])
    carrier.routes[UPS_VOID] = lambda _: next(answers)
    async with carrier.client() as http:
        voided = await KarrioParcel().void_label(http, UPS, call(ref=TRACKING, key="SHP-1:void_label:ups"))
        cancelled = await KarrioParcel().cancel_booking(http, UPS, call(ref=TRACKING, key="SHP-1:cancel:ups"))
    first, second = carrier.sent(*UPS_VOID)
    assert first.content == b"" and first.headers["Idempotency-Key"] == "SHP-1:void_label:ups"
    contract.check_request(first, "ups void")
    contract.check_response(first, "ups_void.json")
    contract.check_response(second, "ups_void_already.json", status=400)
    assert (voided.kind, voided.state, cancelled.kind, cancelled.state) == ("label", "voided", "booking", "cancelled")


async def test_ups_track_maps_each_event_oldest_first_with_stable_ids(contract):
    carrier = ups()
    carrier.routes[UPS_TRACK] = answer("ups_track.json")
    async with carrier.client() as http:
        events = await KarrioParcel().track(http, UPS, "SHP-2026-000207", TRACKING, TRACKING)
        again = await KarrioParcel().track(http, UPS, "SHP-2026-000207", TRACKING, TRACKING)
    request = carrier.sent(*UPS_TRACK)[0]
    assert "transId" in request.headers and "Idempotency-Key" not in request.headers
    contract.check_request(request, "ups track")
    contract.check_response(request, "ups_track.json")

    assert [(e.code, e.status) for e in events] == [
        ("PU", TrackingStatus.PICKED_UP), ("DP", TrackingStatus.IN_TRANSIT),
        ("CM", TrackingStatus.CUSTOMS_HOLD), ("KB", TrackingStatus.DELIVERED)]
    assert events[0].occurred_at == datetime(2026, 12, 2, 18, 5, tzinfo=UTC)
    assert events[0].location == "Long Beach, CA, 90810, US"
    assert all(e.via == "poll" and e.booking_ref == TRACKING and e.tracking_number == TRACKING for e in events)
    assert [e.event_id for e in events] == [e.event_id for e in again]
    assert len({e.event_id for e in events}) == 4 and events[0].event_id.startswith(f"ups:{TRACKING}:")


async def test_ups_tracking_code_no_table_knows_is_an_unknown_event_not_a_failure(contract):
    carrier = ups()
    carrier.routes[UPS_TRACK] = answer("ups_track_unknown.json")
    async with carrier.client() as http:
        events = await KarrioParcel().track(http, UPS, "SHP-2026-000207", TRACKING, TRACKING)
    contract.check_response(carrier.sent(*UPS_TRACK)[0], "ups_track_unknown.json")
    assert [(e.code, e.status) for e in events] == [("ZZ9", TrackingStatus.UNKNOWN)]


async def test_ups_rejected_token_is_dropped_and_signed_in_again_once():
    carrier = ups()
    answers = iter([httpx.Response(401, json={"response": {"errors": [{"code": "250002", "message": "Invalid "
                                                                        "Authentication Information."}]}}),
                    answer("ups_rate.json")])
    carrier.routes[UPS_RATE] = lambda _: next(answers)
    async with carrier.client() as http:
        await KarrioParcel().quote(http, UPS, shipment(), None, None)
    assert len(carrier.sent(*UPS_TOKEN)) == 2 and len(carrier.sent(*UPS_RATE)) == 2


# ---- failures, typed for the retry policy --------------------------------------------------------------------------


async def test_a_200_whose_body_is_not_json_is_a_bad_response_naming_partner_and_operation():
    carrier = ups()
    carrier.routes[UPS_SHIP] = httpx.Response(200, text="<html>maintenance</html>")
    async with carrier.client() as http:
        err = await failure(KarrioParcel().book(http, UPS, call(shipment())))
    assert err.type == PARTNER_BAD_RESPONSE and err.non_retryable
    assert "ups (ups) book" in str(err) and "not JSON" in str(err)


async def test_a_200_with_json_karrio_cannot_use_is_a_bad_response():
    carrier = ups()
    carrier.routes[UPS_SHIP] = httpx.Response(200, json={"ShipmentResponse": {"ShipmentResults": {"Unexpected": 1}}})
    carrier.routes[UPS_RATE] = httpx.Response(200, json={"hello": "world"})
    async with carrier.client() as http:
        booking = await failure(KarrioParcel().book(http, UPS, call(shipment())))
        quote = await failure(KarrioParcel().quote(http, UPS, shipment(), None, None))
    assert booking.type == quote.type == PARTNER_BAD_RESPONSE
    assert booking.non_retryable and "book" in str(booking) and "quote" in str(quote)


async def test_a_500_is_unavailable_and_retryable():
    carrier = ups()
    carrier.routes[UPS_RATE] = httpx.Response(503, text="upstream down")
    async with carrier.client() as http:
        err = await failure(KarrioParcel().quote(http, UPS, shipment(), None, None))
    assert err.type == PARTNER_UNAVAILABLE and not err.non_retryable


async def test_a_429_is_rate_limited_and_waits_the_carriers_retry_after():
    carrier = ups()
    carrier.routes[UPS_SHIP] = httpx.Response(429, headers={"Retry-After": "7"}, json={"response": {"errors": [
        {"code": "429", "message": "Too Many Requests"}]}})
    async with carrier.client() as http:
        err = await failure(KarrioParcel().book(http, UPS, call(shipment())))
    assert err.type == PARTNER_RATE_LIMITED and not err.non_retryable
    assert err.next_retry_delay == timedelta(seconds=7)


async def test_a_400_is_rejected_with_the_carriers_code_and_message(contract):
    carrier = ups()
    carrier.routes[UPS_SHIP] = answer("ups_error.json", 400)
    async with carrier.client() as http:
        err = await failure(KarrioParcel().book(http, UPS, call(shipment())))
    contract.check_response(carrier.sent(*UPS_SHIP)[0], "ups_error.json", status=400)
    assert err.type == PARTNER_REJECTED and err.non_retryable
    assert err.details[:2] == ("120802", "Address Validation Error on ShipTo address")


async def test_a_slow_partner_times_out_as_unavailable():
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    carrier = ups()
    carrier.routes[UPS_TRACK] = slow
    async with carrier.client() as http:
        err = await failure(KarrioParcel().track(http, UPS, "SHP-2026-000207", TRACKING, TRACKING))
    assert err.type == PARTNER_UNAVAILABLE and not err.non_retryable and "timed out" in str(err)


async def test_a_refused_connection_is_unavailable():
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    carrier = RecordingCarrier({UPS_TOKEN: refused})
    async with carrier.client() as http:
        err = await failure(KarrioParcel().quote(http, UPS, shipment(), None, None))
    assert err.type == PARTNER_UNAVAILABLE and "sign-in" in str(err)


async def test_a_connection_naming_no_known_carrier_or_missing_credentials_is_not_retried():
    async with RecordingCarrier({}).client() as http:
        unknown = await failure(KarrioParcel().quote(http, Endpoint("x", "https://x.test", options={"carrier": "tnt"}),
                                                     shipment(), None, None))
        bare = Endpoint("ups", "https://ups.test", options={"carrier": "ups"})
        missing = await failure(KarrioParcel().quote(http, bare, shipment(), None, None))
    assert unknown.non_retryable and "tnt" in str(unknown)
    assert missing.non_retryable and "client_id" in str(missing) and "ups-secret" not in str(missing)


def test_chargeable_weight_is_per_parcel_the_larger_of_actual_and_volumetric():
    assert chargeable_weight_kg(shipment()) == 10.0
    assert chargeable_weight_kg(shipment("basic-cn-de.json")) >= shipment("basic-cn-de.json").total_weight_kg


def test_the_contract_checks_cover_distinct_ups_payloads(contract):
    # Runs last in this module (pytest keeps file order): every UPS payload above was checked against UPS's spec.
    assert len(contract.validated) >= 10, sorted(contract.validated)



# ---- FedEx ----------------------------------------------------------------------------------------------------------

FEDEX = Endpoint(partner="fedex", base_url="https://fedex.test",
                 credentials={"api_key": "fx-key", "secret_key": "fx-secret", "account_number": "740561073"},
                 options={"carrier": "fedex"})
FEDEX_TN = "794953555571"


def fedex(routes: dict | None = None) -> RecordingCarrier:
    return RecordingCarrier({("POST", "/oauth/token"): answer("fedex_token.json"), **(routes or {})})


async def test_fedex_quote_book_cancel_and_track_in_fedexs_format():
    carrier = fedex()
    carrier.routes.update({
        ("POST", "/rate/v1/rates/quotes"): answer("fedex_rate.json"),
        ("POST", "/ship/v1/shipments"): answer("fedex_ship.json"),
        ("PUT", "/ship/v1/shipments/cancel"): answer("fedex_cancel.json"),
        ("POST", "/track/v1/trackingnumbers"): answer("fedex_track.json"),
    })
    adapter, request = KarrioParcel(), shipment()
    async with carrier.client() as http:
        quote = await adapter.quote(http, FEDEX, request, None, None)
        booking = await adapter.book(http, FEDEX, call(request, key="SHP-1:book:fedex"))
        cancelled = await adapter.cancel_booking(http, FEDEX, call(ref=booking.ref, key="SHP-1:cancel:fedex"))
        events = await adapter.track(http, FEDEX, "SHP-2026-000207", booking.ref, booking.tracking_number)

    token = carrier.sent("POST", "/oauth/token")
    assert len(token) == 1 and b"client_id=fx-key" in token[0].content and b"grant_type=client_credentials" in \
        token[0].content
    assert (quote.amount, quote.currency) == (Decimal("201.35"), "USD")
    ship = carrier.sent("POST", "/ship/v1/shipments")[0]
    assert ship.headers["Idempotency-Key"] == "SHP-1:book:fedex" and ship.headers["x-customer-transaction-id"]
    assert ship.headers["Authorization"] == "Bearer fedex-token-1"
    sent = carrier.json("POST", "/ship/v1/shipments")
    assert sent["accountNumber"] == {"value": "740561073"}
    commodity = sent["requestedShipment"]["customsClearanceDetail"]["commodities"][0]
    assert (commodity["harmonizedCode"], commodity["countryOfManufacture"], commodity["quantity"]) == \
        ("847130", "CN", 3)
    assert (booking.ref, booking.tracking_number, booking.state) == (FEDEX_TN, FEDEX_TN, "booked")
    assert carrier.json("PUT", "/ship/v1/shipments/cancel")["trackingNumber"] == FEDEX_TN
    assert cancelled.state == "cancelled"
    assert carrier.json("POST", "/track/v1/trackingnumbers")["trackingInfo"][0]["trackingNumberInfo"][
        "trackingNumber"] == FEDEX_TN
    assert [(e.code, e.status) for e in events] == [
        ("PU", TrackingStatus.PICKED_UP), ("DP", TrackingStatus.IN_TRANSIT), ("CC", TrackingStatus.CUSTOMS_CLEARED)]


async def test_fedex_error_answer_is_rejected_with_fedexs_code():
    carrier = fedex({("POST", "/ship/v1/shipments"): answer("fedex_error.json", 400)})
    async with carrier.client() as http:
        err = await failure(KarrioParcel().book(http, FEDEX, call(shipment())))
    assert err.type == PARTNER_REJECTED and err.details[0] == "RECIPIENTCONTACT.PHONENUMBER.INVALID"


# ---- Roadie ---------------------------------------------------------------------------------------------------------

ROADIE = Endpoint(partner="roadie", base_url="https://roadie.test", credentials={"api_key": "rd-key"},
                  options={"carrier": "roadie", "mode": "road"})


def local_shipment():
    request = shipment()
    destination = request.destination.model_copy(update={
        "address_lines": ["600 Wilshire Blvd"], "city": "Los Angeles", "postal_code": "90017", "country": "US",
        "region": "CA"})
    return request.model_copy(update={"destination": destination})


async def test_roadie_quotes_books_by_id_tracks_by_id_and_cancels_with_its_bearer_key():
    carrier = RecordingCarrier({
        ("POST", "/v1/estimates"): answer("roadie_estimate.json"),
        ("POST", "/v1/shipments"): answer("roadie_shipment.json"),
        ("GET", "/v1/shipments"): answer("roadie_track.json"),
        ("DELETE", "/v1/shipments/4791"): httpx.Response(200, json={}),
    })
    adapter, request = KarrioParcel(), local_shipment()
    async with carrier.client() as http:
        quote = await adapter.quote(http, ROADIE, request, None, None)
        booking = await adapter.book(http, ROADIE, call(request, key="SHP-1:book:roadie"))
        events = await adapter.track(http, ROADIE, "SHP-2026-000207", booking.ref, booking.tracking_number)
        voided = await adapter.void_label(http, ROADIE, call(ref=booking.ref, key="SHP-1:void:roadie"))

    assert all(r.headers["Authorization"] == "Bearer rd-key" for r in carrier.requests)
    assert (quote.amount, quote.currency, quote.mode, quote.transit_days_max) == (Decimal("18.50"), "USD", Mode.ROAD, 1)
    assert carrier.json("POST", "/v1/shipments")["reference_id"] == "SHP-2026-000207"
    assert carrier.sent("POST", "/v1/shipments")[0].headers["Idempotency-Key"] == "SHP-1:book:roadie"
    assert booking.ref == "4791"
    assert carrier.sent("GET", "/v1/shipments")[0].url.params["ids"] == "4791"
    assert [(e.code, e.status) for e in events] == [
        ("driver_assigned", TrackingStatus.UNKNOWN), ("pickup_confirmed", TrackingStatus.IN_TRANSIT),
        ("en_route_to_delivery", TrackingStatus.OUT_FOR_DELIVERY)]
    assert voided.state == "voided" and carrier.sent("DELETE", "/v1/shipments/4791")


# ---- DHL Express (XML-PI, as Karrio speaks it) ----------------------------------------------------------------------

DHL = Endpoint(partner="dhl", base_url="https://dhl.test",
               credentials={"site_id": "dhl-site", "password": "dhl-pass", "account_number": "950000002"},
               options={"carrier": "dhl_express"})
DHL_SERVLET = ("POST", "/XMLShippingServlet")
DHL_NS = {"dhl": "http://www.dhl.com"}


async def test_dhl_express_books_in_xml_with_its_message_reference_and_tracks_the_waybill():
    carrier = RecordingCarrier({DHL_SERVLET: answer("dhl_express_ship.xml")})
    adapter, request = KarrioParcel(), shipment()
    async with carrier.client() as http:
        booking = await adapter.book(http, DHL, call(request, key="SHP-1:book:dhl"))
        await adapter.book(http, DHL, call(request, key="SHP-1:book:dhl"))
        carrier.routes[DHL_SERVLET] = answer("dhl_express_track.xml")
        events = await adapter.track(http, DHL, "SHP-2026-000207", booking.ref, booking.tracking_number)

    first, retry, track = carrier.requests
    assert first.headers["Content-Type"] == "application/xml" and "Authorization" not in first.headers
    body = ElementTree.fromstring(first.content)
    reference = body.findtext("Request/ServiceHeader/MessageReference")
    assert reference == first.headers["Message-Reference"] == retry.headers["Message-Reference"]
    assert len(reference) == 32 and first.headers["Idempotency-Key"] == "SHP-1:book:dhl"
    assert body.findtext("Request/ServiceHeader/SiteID") == "dhl-site"
    assert body.findtext("ExportDeclaration/ExportLineItem/CommodityCode") == "847130"
    assert body.findtext("Dutiable/TermsOfTrade") == "DDP"
    assert (booking.ref, booking.tracking_number) == ("4781209365", "4781209365")
    assert ElementTree.fromstring(track.content).findtext("AWBNumber") == "4781209365"
    assert [(e.code, e.status) for e in events] == [
        ("PU", TrackingStatus.PICKED_UP), ("CR", TrackingStatus.CUSTOMS_CLEARED),
        ("WC", TrackingStatus.OUT_FOR_DELIVERY)]


async def test_dhl_express_error_in_a_200_is_rejected_with_its_condition_code():
    carrier = RecordingCarrier({DHL_SERVLET: answer("dhl_express_error.xml")})
    async with carrier.client() as http:
        err = await failure(KarrioParcel().book(http, DHL, call(shipment())))
    assert err.type == PARTNER_REJECTED and err.non_retryable and err.details[0] == "PV001"


async def test_dhl_express_lets_an_unscanned_waybill_lapse_because_its_api_has_no_cancel():
    carrier = RecordingCarrier({DHL_SERVLET: answer("dhl_express_track_unscanned.xml")})
    async with carrier.client() as http:
        record = await KarrioParcel().cancel_booking(http, DHL, call(ref="4781209365"))
    (asked,) = carrier.requests  # only whether it was scanned: there is no cancel to call
    assert ElementTree.fromstring(asked.content).findtext("AWBNumber") == "4781209365"
    assert record.state == "cancelled"


async def test_dhl_express_cannot_undo_a_scanned_waybill_and_says_so_for_good():
    """A waybill DHL has scanned holds goods in its network: the undo must not report a cancel that never happened
    (the fault matrix found such waybills left live behind rejected shipments); it fails for good, for the
    reconciliation list."""
    carrier = RecordingCarrier({DHL_SERVLET: answer("dhl_express_track.xml")})
    async with carrier.client() as http:
        err = await failure(KarrioParcel().void_label(http, DHL, call(ref="4781209365")))
    assert err.type == PARTNER_CANNOT_CANCEL and err.non_retryable
    assert "4781209365" in str(err) and "3 time(s)" in str(err)


async def test_a_200_with_xml_that_is_not_xml_is_a_bad_response():
    carrier = RecordingCarrier({DHL_SERVLET: httpx.Response(200, text="{\"ok\": true}")})
    async with carrier.client() as http:
        err = await failure(KarrioParcel().book(http, DHL, call(shipment())))
    assert err.type == PARTNER_BAD_RESPONSE and "not XML" in str(err)


@pytest.mark.parametrize("name", sorted(n for n, c in directory().connections.items()
                                        if c.protocol is PartnerProtocol.KARRIO))
def test_each_karrio_connection_names_every_credential_its_carrier_requires(name: str) -> None:
    row = directory().connections[name]
    carrier = CARRIERS[row.options["carrier"]]
    assert set(carrier.required) <= set(row.credentials) <= set(carrier.credentials) | set(carrier.aliases.values())
    # In production each one comes from the environment variable the row names.
    env = {variable: f"live-{field}" for field, variable in row.credentials.items()}
    assert credentials(row, "production", env) == {field: f"live-{field}" for field in row.credentials}
