"""Customs broker endpoints: filings, HS code validation, withdraw and release."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Harness

Payload = Callable[..., dict[str, Any]]
FILINGS = "/partners/clearpath/filings"


async def file(sb: Harness, body: dict[str, Any], key: str = "file-1", headers: dict[str, str] | None = None) -> Any:
    return await sb.client.post(FILINGS, json=body, headers={"Idempotency-Key": key, **(headers or {})})


async def test_filing_is_idempotent(sb: Harness, payload: Payload) -> None:
    first = await file(sb, payload("filing"))
    assert first.status_code == 201
    assert first.json() == {
        "filing_id": "FIL-000001",
        "state": "cleared",
        "hold_reason": None,
        "shipment_id": "shp-file-1",
        "idempotency_key": "file-1",
    }
    # Same amount written differently is the same request.
    again = await file(sb, payload("filing", declared_value="249.9"))
    assert again.status_code == 200 and again.json() == first.json()
    changed = await file(sb, payload("filing", incoterm="DAP"))
    assert (changed.status_code, changed.json()["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert len(await sb.records("shp-file-1")) == 1


async def test_filing_requires_key(sb: Harness, payload: Payload) -> None:
    response = await sb.client.post(FILINGS, json=payload("filing"))
    assert (response.status_code, response.json()["error"]["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")


async def test_invalid_hs_code_names_the_item(sb: Harness, payload: Payload) -> None:
    body = payload("filing")
    body["items"][1]["hs_code"] = "12AB"
    response = await file(sb, body)
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "INVALID_HS_CODE",
        "message": "items[1].hs_code: '12AB' is not 6-10 digits",
    }
    assert await sb.records() == []


async def test_withdraw_is_idempotent(sb: Harness, payload: Payload) -> None:
    filing = (await file(sb, payload("filing"))).json()
    url = f"{FILINGS}/{filing['filing_id']}/withdraw"
    first, second = await sb.client.post(url), await sb.client.post(url)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == {**filing, "state": "withdrawn"}


async def test_hold_then_release_after_ops_decision(sb: Harness, payload: Payload) -> None:
    held = await file(sb, payload("filing"), headers={"X-Sandbox-Fault": "kind=hold;code=DOCUMENTS_REQUIRED"})
    assert held.status_code == 201
    assert (held.json()["state"], held.json()["hold_reason"]) == ("hold", "DOCUMENTS_REQUIRED")
    url = f"{FILINGS}/{held.json()['filing_id']}/release"
    decision = {"shipment_id": "shp-file-1", "actor": "ops@example.com", "comment": "invoice attached"}
    released = await sb.client.post(url, json=decision)
    assert released.status_code == 200 and released.json()["state"] == "cleared"
    again = await sb.client.post(url, json=decision)
    assert again.status_code == 200 and again.json() == released.json()
    [record] = await sb.records("shp-file-1")
    assert [(h["state"], h["actor"]) for h in record["history"]] == [("hold", None), ("cleared", "ops@example.com")]


async def test_release_of_withdrawn_filing_conflicts(sb: Harness, payload: Payload) -> None:
    filing = (await file(sb, payload("filing"))).json()
    await sb.client.post(f"{FILINGS}/{filing['filing_id']}/withdraw")
    response = await sb.client.post(
        f"{FILINGS}/{filing['filing_id']}/release", json={"shipment_id": "shp-file-1", "actor": "ops", "comment": ""}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (409, "FILING_WITHDRAWN")
    [record] = await sb.records()
    assert record["state"] == "withdrawn"


async def test_carrier_cannot_take_filings(sb: Harness, payload: Payload) -> None:
    response = await sb.client.post(
        "/partners/aerocargo/filings", json=payload("filing"), headers={"Idempotency-Key": "k"}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "OPERATION_NOT_SUPPORTED")


async def test_a_fenced_key_answers_what_was_made_and_refuses_what_comes_later(sb: Harness, payload: Payload) -> None:
    """Issue 18's orphan: the saga asked by key and found nothing, then the step's last attempt (in flight on a
    worker that died) reached the broker and filed. The fence is atomic with creation: after it, nothing is made
    under the key; before it, the fence answers what was made."""
    made = await file(sb, payload("filing", shipment_id="shp-fenced"), key="made-first")
    found = await sb.client.post(f"{FILINGS}/fence", json={"idempotency_key": "made-first"})
    assert found.status_code == 200
    assert [(r["id"], r["state"]) for r in found.json()["records"]] == [(made.json()["filing_id"], "cleared")]

    nothing = await sb.client.post(f"{FILINGS}/fence", json={"idempotency_key": "late"})
    assert (nothing.status_code, nothing.json()) == (200, {"records": []})
    late = await file(sb, payload("filing", shipment_id="shp-fenced"), key="late")
    assert (late.status_code, late.json()["error"]["code"]) == (409, "IDEMPOTENCY_KEY_FENCED")
    assert "late" in late.json()["error"]["message"]
    assert [r["idempotency_key"] for r in await sb.records("shp-fenced")] == ["made-first"]
    again = await sb.client.post(f"{FILINGS}/fence", json={"idempotency_key": "late"})
    assert again.json() == {"records": []}, "fencing twice is one fence"


async def test_a_fence_needs_a_key_and_a_known_partner(sb: Harness) -> None:
    no_key = await sb.client.post(f"{FILINGS}/fence", json={})
    assert no_key.status_code == 422 and "idempotency_key" in no_key.text
    unknown = await sb.client.post("/partners/nobody/filings/fence", json={"idempotency_key": "k"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "UNKNOWN_PARTNER")
