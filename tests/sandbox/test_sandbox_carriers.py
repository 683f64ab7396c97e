"""Carrier endpoints: quotes, idempotent bookings and labels, cancel/void, rejections."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Harness

Payload = Callable[..., dict[str, Any]]


async def book(sb: Harness, body: dict[str, Any], key: str = "book-1", partner: str = "aerocargo") -> dict[str, Any]:
    response = await sb.client.post(f"/partners/{partner}/bookings", json=body, headers={"Idempotency-Key": key})
    assert response.status_code == 201, response.text
    return response.json()


async def label(
    sb: Harness, booking_id: str, shipment_id: str, key: str = "label-1", partner: str = "aerocargo"
) -> dict[str, Any]:
    response = await sb.client.post(
        f"/partners/{partner}/bookings/{booking_id}/labels",
        json={"shipment_id": shipment_id},
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 201, response.text
    return response.json()


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


async def test_quote(sb: Harness, payload: Payload) -> None:
    response = await sb.client.post("/partners/aerocargo/quotes", json=payload("quote"))
    assert response.status_code == 200
    assert response.json() == {
        "quote_id": "QTE-000001",
        "partner": "aerocargo",
        "mode": "air_freight",
        # 60 + 4.2 * max(10 kg actual, 24000 cm3 / 6000 = 4 kg volumetric)
        "price": {"amount": "102.00", "currency": "USD"},
        "transit_days": {"min": 4, "max": 7},
        "chargeable_weight_kg": 10.0,
        "co2e_kg": 60.0,
    }
    assert await sb.records() == []  # quoting changes nothing


async def test_booking_is_idempotent(sb: Harness, payload: Payload) -> None:
    body = payload("booking")
    first = await book(sb, body)
    assert first["state"] == "confirmed" and first["idempotency_key"] == "book-1"
    # 60 + 4.2 * max(14.5 kg actual, 30000 cm3 / 6000 = 5 kg volumetric)
    assert first["price"] == {"amount": "120.90", "currency": "USD"}
    again = await sb.client.post("/partners/aerocargo/bookings", json=body, headers={"Idempotency-Key": "book-1"})
    assert again.status_code == 200
    assert again.json() == first
    records = await sb.records("shp-book-1")
    assert [(r["kind"], r["id"]) for r in records] == [("booking", first["booking_id"])]


async def test_same_key_returns_current_state_after_cancel(sb: Harness, payload: Payload) -> None:
    body = payload("booking")
    booking = await book(sb, body)
    await sb.client.post(f"/partners/aerocargo/bookings/{booking['booking_id']}/cancel")
    again = await sb.client.post("/partners/aerocargo/bookings", json=body, headers={"Idempotency-Key": "book-1"})
    assert again.status_code == 200
    assert again.json() == {**booking, "state": "cancelled"}
    assert len(await sb.records()) == 1


async def test_key_reused_with_different_body(sb: Harness, payload: Payload) -> None:
    await book(sb, payload("booking"))
    other = payload("booking", service_level="economy")
    response = await sb.client.post("/partners/aerocargo/bookings", json=other, headers={"Idempotency-Key": "book-1"})
    assert response.status_code == 422
    assert error_code(response) == "IDEMPOTENCY_KEY_REUSED"
    assert len(await sb.records()) == 1


async def test_same_key_at_another_partner_is_another_booking(sb: Harness, payload: Payload) -> None:
    a = await book(sb, payload("booking"), partner="aerocargo")
    b = await book(sb, payload("booking"), partner="bluewave")
    assert a["booking_id"] != b["booking_id"] and b["mode"] == "ocean"


async def test_booking_requires_idempotency_key(sb: Harness, payload: Payload) -> None:
    response = await sb.client.post("/partners/aerocargo/bookings", json=payload("booking"))
    assert response.status_code == 400
    assert error_code(response) == "IDEMPOTENCY_KEY_REQUIRED"
    assert await sb.records() == []


@pytest.mark.parametrize(
    ("partner", "overrides", "code"),
    [
        ("silkrail", {"origin_country": "US"}, "LANE_NOT_SERVED"),
        ("silkrail", {"origin_country": "DE", "destination_country": "FR"}, "LANE_NOT_SERVED"),
        ("aerocargo", {"parcels": [{"weight_kg": 301, "length_cm": 10, "width_cm": 10, "height_cm": 10}]},
         "PARCEL_LIMIT_EXCEEDED"),
        ("aerocargo", {"parcels": [{"weight_kg": 1, "length_cm": 10, "width_cm": 310, "height_cm": 10}]},
         "PARCEL_LIMIT_EXCEEDED"),
    ],
)
async def test_business_rejections(
    sb: Harness, payload: Payload, partner: str, overrides: dict[str, Any], code: str
) -> None:
    quote = await sb.client.post(f"/partners/{partner}/quotes", json=payload("quote", **overrides))
    assert (quote.status_code, error_code(quote)) == (422, code)
    booking = await sb.client.post(
        f"/partners/{partner}/bookings", json=payload("booking", **overrides), headers={"Idempotency-Key": "k"}
    )
    assert (booking.status_code, error_code(booking)) == (422, code)
    assert await sb.records() == []
    # The failed key was not consumed: a valid body under the same key books normally.
    ok = await sb.client.post(
        f"/partners/{partner}/bookings", json=payload("booking"), headers={"Idempotency-Key": "k"}
    )
    assert ok.status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("post", "/partners/fedups/quotes", 404, "UNKNOWN_PARTNER"),
        ("post", "/partners/parcelnow/bookings", 404, "OPERATION_NOT_SUPPORTED"),
        ("post", "/partners/clearpath/quotes", 404, "OPERATION_NOT_SUPPORTED"),
        ("post", "/partners/aerocargo/bookings/BKG-999999/cancel", 404, "NOT_FOUND"),
        ("post", "/partners/aerocargo/labels/LBL-999999/void", 404, "NOT_FOUND"),
        ("get", "/partners/aerocargo/tracking/17600000042", 404, "NOT_FOUND"),
        ("get", "/nowhere", 404, "NOT_FOUND"),
    ],
)
async def test_not_found_family(sb: Harness, payload: Payload, method: str, path: str, status: int, code: str) -> None:
    kwargs: dict[str, Any] = {}
    if method == "post":
        kwargs = {"json": payload("booking"), "headers": {"Idempotency-Key": "k"}}
    response = await sb.client.request(method, path, **kwargs)
    assert (response.status_code, error_code(response)) == (status, code)


async def test_malformed_body_uses_the_error_shape(sb: Harness, payload: Payload) -> None:
    body = payload("quote", parcels=[], origin_country="CHN")
    response = await sb.client.post("/partners/aerocargo/quotes", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert "body.parcels" in error["message"] and "body.origin_country" in error["message"]


async def test_cancel_is_idempotent(sb: Harness, payload: Payload) -> None:
    booking = await book(sb, payload("booking"))
    url = f"/partners/aerocargo/bookings/{booking['booking_id']}/cancel"
    first, second = await sb.client.post(url), await sb.client.post(url)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == {**booking, "state": "cancelled"}
    [record] = await sb.records()
    assert [h["state"] for h in record["history"]] == ["confirmed", "cancelled"]


async def test_cancel_of_another_partners_booking_is_not_found(sb: Harness, payload: Payload) -> None:
    booking = await book(sb, payload("booking"), partner="aerocargo")
    response = await sb.client.post(f"/partners/bluewave/bookings/{booking['booking_id']}/cancel")
    assert (response.status_code, error_code(response)) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("partner", "pattern"),
    [("aerocargo", r"176\d{8}"), ("bluewave", r"BWLU\d{7}"), ("silkrail", r"SR\d{9}")],
)
async def test_labels_are_idempotent_with_carrier_tracking_numbers(
    sb: Harness, payload: Payload, partner: str, pattern: str
) -> None:
    booking = await book(sb, payload("booking"), partner=partner)
    first = await label(sb, booking["booking_id"], "shp-book-1", partner=partner)
    assert re.fullmatch(pattern, first["tracking_number"])
    assert (first["state"], first["format"], first["booking_id"]) == ("active", "PDF", booking["booking_id"])
    again = await sb.client.post(
        f"/partners/{partner}/bookings/{booking['booking_id']}/labels",
        json={"shipment_id": "shp-book-1"},
        headers={"Idempotency-Key": "label-1"},
    )
    assert again.status_code == 200 and again.json() == first
    second = await label(sb, booking["booking_id"], "shp-book-1", key="label-2", partner=partner)
    assert int(second["tracking_number"][-3:]) == int(first["tracking_number"][-3:]) + 1  # counter-derived
    assert [r["kind"] for r in await sb.records()] == ["booking", "label", "label"]


async def test_label_requires_key_and_live_booking(sb: Harness, payload: Payload) -> None:
    booking = await book(sb, payload("booking"))
    url = f"/partners/aerocargo/bookings/{booking['booking_id']}/labels"
    missing = await sb.client.post(url, json={"shipment_id": "shp-book-1"})
    assert (missing.status_code, error_code(missing)) == (400, "IDEMPOTENCY_KEY_REQUIRED")
    await sb.client.post(f"/partners/aerocargo/bookings/{booking['booking_id']}/cancel")
    cancelled = await sb.client.post(url, json={"shipment_id": "shp-book-1"}, headers={"Idempotency-Key": "l"})
    assert (cancelled.status_code, error_code(cancelled)) == (409, "BOOKING_CANCELLED")
    assert [r["kind"] for r in await sb.records()] == ["booking"]


async def test_label_key_reused_for_another_booking(sb: Harness, payload: Payload) -> None:
    a = await book(sb, payload("booking"), key="a")
    b = await book(sb, payload("booking"), key="b")
    await label(sb, a["booking_id"], "shp-book-1", key="lbl")
    response = await sb.client.post(
        f"/partners/aerocargo/bookings/{b['booking_id']}/labels",
        json={"shipment_id": "shp-book-1"},
        headers={"Idempotency-Key": "lbl"},
    )
    assert (response.status_code, error_code(response)) == (422, "IDEMPOTENCY_KEY_REUSED")


async def test_void_is_idempotent(sb: Harness, payload: Payload) -> None:
    booking = await book(sb, payload("booking"))
    lbl = await label(sb, booking["booking_id"], "shp-book-1")
    url = f"/partners/aerocargo/labels/{lbl['label_id']}/void"
    first, second = await sb.client.post(url), await sb.client.post(url)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == {**lbl, "state": "voided"}


async def test_inspect_lists_every_record_in_creation_order(sb: Harness, payload: Payload) -> None:
    booking = await book(sb, payload("booking"))
    lbl = await label(sb, booking["booking_id"], "shp-book-1")
    filing = await sb.client.post(
        "/partners/clearpath/filings",
        json=payload("filing", shipment_id="shp-book-1"),
        headers={"Idempotency-Key": "f"},
    )
    slot = await sb.client.post(
        "/partners/parcelnow/slots",
        json=payload("slot", shipment_id="shp-book-1", events_url=None),
        headers={"Idempotency-Key": "s"},
    )
    await book(sb, payload("booking", shipment_id="someone-else"), key="other")
    records = await sb.records("shp-book-1")
    assert [(r["kind"], r["partner"], r["id"], r["idempotency_key"]) for r in records] == [
        ("booking", "aerocargo", booking["booking_id"], "book-1"),
        ("label", "aerocargo", lbl["label_id"], "label-1"),
        ("filing", "clearpath", filing.json()["filing_id"], "f"),
        ("slot", "parcelnow", slot.json()["slot_id"], "s"),
    ]
    assert [r["state"] for r in records[:3]] == ["confirmed", "active", "cleared"]
    assert all(r["shipment_id"] == "shp-book-1" and r["created_at"] for r in records)
    everything = await sb.client.get("/_inspect/bookings")
    assert everything.json()["shipment_id"] is None
    assert len(everything.json()["records"]) == 5


async def test_healthz(sb: Harness) -> None:
    response = await sb.client.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_concurrent_retries_with_one_key_make_one_booking(sb: Harness, payload: Payload) -> None:
    body = payload("booking")
    responses = await asyncio.gather(
        *(sb.client.post("/partners/bluewave/bookings", json=body, headers={"Idempotency-Key": "race"})
          for _ in range(8))
    )
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["booking_id"] for r in responses}) == 1
    assert len(await sb.records()) == 1
