"""Faults that strike after the partner acted (`sandbox.aftermath`): the record is made, the answer is lost or
unreadable, and a retry under the same Idempotency-Key gets the record the first call made."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Harness

Payload = Callable[..., dict[str, Any]]
BOOKINGS = "/partners/aerocargo/bookings"


async def add_rule(sb: Harness, **rule: Any) -> None:
    response = await sb.client.post("/_faults", json=rule)
    assert response.status_code == 201, response.text


async def book(sb: Harness, body: dict[str, Any], key: str = "k1") -> Any:
    return await sb.client.post(BOOKINGS, json=body, headers={"Idempotency-Key": key})


async def test_act_then_timeout_books_then_answers_504(sb: Harness, payload: Payload) -> None:
    await add_rule(sb, shipment_id="shp-book-1", operation="book", kind="act_then_timeout", times=1)
    response = await book(sb, payload("booking"))
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "GATEWAY_TIMEOUT"
    assert response.headers["X-Sandbox-Fault-Applied"] == "act_then_timeout"
    # The partner acted: the booking exists and is live, though the caller never heard of it.
    [record] = await sb.records("shp-book-1")
    assert (record["kind"], record["state"], record["idempotency_key"]) == ("booking", "confirmed", "k1")
    # A retry under the same key finds it (200 replay), no second booking.
    retry = await book(sb, payload("booking"))
    assert retry.status_code == 200
    assert retry.json()["booking_id"] == record["id"]
    assert len(await sb.records("shp-book-1")) == 1


async def test_garbled_books_then_answers_a_body_that_does_not_parse(sb: Harness, payload: Payload) -> None:
    await add_rule(sb, shipment_id="shp-book-1", operation="book", kind="garbled", times=1)
    response = await book(sb, payload("booking"))
    assert response.status_code == 201
    assert response.headers["X-Sandbox-Fault-Applied"] == "garbled"
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    [record] = await sb.records("shp-book-1")
    assert record["state"] == "confirmed"
    retry = await book(sb, payload("booking"))
    assert (retry.status_code, retry.json()["booking_id"]) == (200, record["id"])


@pytest.mark.parametrize("kind", ["act_then_timeout", "garbled"])
async def test_a_refused_call_passes_unchanged(sb: Harness, payload: Payload, kind: str) -> None:
    # The partner refuses the parcel: it did not act, so there is no uncertain outcome to simulate.
    await add_rule(sb, shipment_id="shp-book-1", operation="book", kind=kind)
    heavy = [{"weight_kg": 90000, "length_cm": 40, "width_cm": 30, "height_cm": 20}]
    response = await book(sb, payload("booking", parcels=heavy))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "PARCEL_LIMIT_EXCEEDED"
    assert "X-Sandbox-Fault-Applied" not in response.headers
    assert await sb.records("shp-book-1") == []


async def test_the_fault_header_defers_too(sb: Harness, payload: Payload) -> None:
    response = await sb.client.post(BOOKINGS, json=payload("booking"),
                                    headers={"Idempotency-Key": "k1", "X-Sandbox-Fault": "kind=act_then_timeout"})
    assert response.status_code == 504
    assert len(await sb.records("shp-book-1")) == 1
