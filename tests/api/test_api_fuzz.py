"""Hostile input on the real API: every invalid request is a 4xx naming the problem, and nothing is started or written.

The body limit (`starter.limits.BodySizeLimit`) is first tested on a small app of its own, then on the real API
with a real Temporal dev server: mutated requests (hypothesis, see `test_request_fuzz.py`) to create, quote,
decide, cancel and post tracking events; then bodies that are not requests at all (not JSON, wrong content type,
nested thousands deep, over the size limit).
"""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select
from temporalio.service import RPCError, RPCStatusCode

from infra.persistence.db import ShipmentRow
from infra.persistence.receipts import WebhookReceiptRow
from infra.platform.dev_secrets import dev_partner_key, dev_partner_secret
from infra.platform.webhooks import signed_headers
from starter.errors import field_path
from starter.limits import BodySizeLimit
from tests.api.test_request_fuzz import ALWAYS_INVALID, Kind, errors_of, mutated
from tests.support import load_example, unique_id
from tradelane.models import ShipmentRequest
from tradelane.shipment.state import ApprovalDecision, CancelRequest
from tradelane.tracking_codes import PartnerEvent

JSON = {"Content-Type": "application/json"}
API_FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# --- the body limit on a small app --------------------------------------------------------------------------------

LIMIT = 100


def small_app() -> tuple[FastAPI, list[int]]:
    """An app echoing the size of what it received; the list records each body that reached it."""
    app = FastAPI()
    reached: list[int] = []

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        reached.append(len(body))
        return {"received": len(body)}

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodySizeLimit, max_bytes=LIMIT)
    return app, reached


def too_large(field_message: str) -> dict[str, Any]:
    return {"error": {"code": "BODY_TOO_LARGE", "message": f"request body is larger than {LIMIT} bytes",
                      "fields": [{"field": "body", "message": field_message}]}}


async def chunks(sizes: list[int]) -> AsyncIterator[bytes]:
    """A body streamed without Content-Length (chunked)."""
    for size in sizes:
        yield b"x" * size


BY_LENGTH = f"Content-Length is {LIMIT + 1} bytes; at most {LIMIT} are accepted"
BY_STREAM = f"more than {LIMIT} bytes were sent; at most {LIMIT} are accepted"
SMALL_CASES = [
    # (what, body, status, answer, the body size the app saw or None when it saw nothing)
    ("empty body", b"", 200, {"received": 0}, 0),
    ("exactly the limit", b"x" * LIMIT, 200, {"received": LIMIT}, LIMIT),
    ("one byte over, by Content-Length", b"x" * (LIMIT + 1), 413, too_large(BY_LENGTH), None),
    ("a megabyte, by Content-Length", b"x" * 1_000_000, 413,
     too_large(f"Content-Length is 1000000 bytes; at most {LIMIT} are accepted"), None),
    ("chunked, under the limit in three chunks", [40, 40, 20], 200, {"received": LIMIT}, LIMIT),
    ("chunked, over the limit in the third chunk", [40, 40, 21], 413, too_large(BY_STREAM), None),
    ("chunked, one huge chunk", [10_000], 413, too_large(BY_STREAM), None),
]


@pytest.mark.parametrize(("body", "status", "answer", "reached"), [c[1:] for c in SMALL_CASES],
                         ids=[c[0] for c in SMALL_CASES])
async def test_body_limit_refuses_large_bodies_before_the_app_sees_them(body, status, answer, reached):
    app, seen = small_app()
    content = chunks(body) if isinstance(body, list) else body
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://small") as client:
        response = await client.post("/echo", content=content)
    assert (response.status_code, response.json()) == (status, answer)
    assert response.headers["content-type"] == "application/json"
    assert seen == ([] if reached is None else [reached])


async def test_body_limit_lets_requests_without_a_body_through():
    app, _ = small_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://small") as client:
        response = await client.get("/ping")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def call_asgi(headers: list[tuple[bytes, bytes]], messages: list[dict[str, Any]]
                    ) -> tuple[int, dict[str, Any] | None, list[bytes]]:
    """Drive `BodySizeLimit` by hand (headers a client library would not send): status, JSON answer, and the
    bodies the inner app read."""
    read: list[bytes] = []

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        read.append(body)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    pending = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    await BodySizeLimit(inner, max_bytes=LIMIT)(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body) if body else None, read


def request(body: bytes, more_body: bool = False) -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": more_body}


RAW_CASES = [
    # (what, headers, messages, status, error code or None, the bodies the app read)
    ("Content-Length not a number", [(b"content-length", b"ten")], [request(b"0123456789")], 400,
     "INVALID_CONTENT_LENGTH", []),
    ("two different Content-Lengths", [(b"content-length", b"5"), (b"content-length", b"10")], [request(b"01234")],
     400, "INVALID_CONTENT_LENGTH", []),
    ("a body longer than its Content-Length claims", [(b"content-length", b"10")],
     [request(b"x" * 60, True), request(b"x" * 60)], 413, "BODY_TOO_LARGE", []),
    ("a client that disconnects mid-body", [], [request(b"x" * 10, True), {"type": "http.disconnect"}], 204, None,
     [b"x" * 10]),
    ("Content-Length at the limit", [(b"Content-Length", str(LIMIT).encode())], [request(b"x" * LIMIT)], 204, None,
     [b"x" * LIMIT]),
]


@pytest.mark.parametrize(("headers", "messages", "status", "code", "read"), [c[1:] for c in RAW_CASES],
                         ids=[c[0] for c in RAW_CASES])
async def test_body_limit_on_raw_asgi_messages(headers, messages, status, code, read):
    got_status, answer, got_read = await call_asgi(headers, messages)
    assert (got_status, answer and answer["error"]["code"], got_read) == (status, code, read)
    if answer is not None:
        assert answer["error"]["fields"][0]["field"] in ("body", "Content-Length")


async def test_body_limit_passes_other_scopes_through():
    seen: list[str] = []

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def unused() -> dict[str, Any]:
        raise AssertionError("the limit must not read a lifespan's messages")

    async def discard(message: dict[str, Any]) -> None:
        raise AssertionError("the limit must not answer a lifespan")

    await BodySizeLimit(inner, max_bytes=LIMIT)({"type": "lifespan"}, unused, discard)
    assert seen == ["lifespan"]


# --- the real API ---------------------------------------------------------------------------------------------


async def assert_nothing_started(harness, shipment_id: str) -> None:
    """No workflow, no read-model row, no partner booking for `shipment_id`."""
    with pytest.raises(RPCError) as err:
        await harness.handle(shipment_id).describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND
    with Session(harness.engine) as session:
        assert session.get(ShipmentRow, shipment_id) is None
    assert await harness.inspect(shipment_id) == []


def fields_of(model: type, body: Any) -> list[str]:
    """The fields the API must name for `body`: the model's own errors, as `field_path` shows them."""
    return [field_path(("body", *e["loc"])) for e in errors_of(model, body)]


def assert_refused_naming(response: httpx.Response, content: bytes, limit: int, fields: list[str]) -> None:
    """422 naming exactly `fields`, or 413 naming the body when `content` is over the body limit (a long string
    of control characters, each sent as a six-byte escape, can be)."""
    error = response.json()["error"]
    if len(content) > limit:
        assert (response.status_code, error["code"], error["fields"][0]["field"]) == (413, "BODY_TOO_LARGE", "body")
        return
    assert response.status_code == 422, response.text
    assert error["code"] == "INVALID_REQUEST"
    assert [f["field"] for f in error["fields"]] == fields
    assert all(f["field"] and f["message"] for f in error["fields"])


CREATE_KINDS = (Kind.DROP, Kind.WRONG_TYPE, Kind.UNICODE, *ALWAYS_INVALID)


@pytest.mark.temporal
@API_FUZZ
@given(data=st.data())
async def test_invalid_shipment_requests_are_refused_naming_the_fields_and_start_nothing(harness, data):
    shipment_id = unique_id("fuzz")
    m = data.draw(mutated(kinds=CREATE_KINDS, shipment_id=shipment_id), label="request")
    fields = fields_of(ShipmentRequest, m.body)
    assume(fields)  # a mutation pydantic accepts (lax types, a dropped optional field) is a valid request
    endpoint = data.draw(st.sampled_from(["/v1/shipments", "/v1/quotes"]), label="endpoint")
    # json.dumps, not httpx's json=: NaN and Infinity must reach the server as the tokens Python's parser reads.
    content = json.dumps(m.body).encode()
    response = await harness.api.post(endpoint, content=content, headers=JSON)
    assert_refused_naming(response, content, harness.settings.max_body_bytes, fields)
    await assert_nothing_started(harness, shipment_id)


def sign_as_partner(body: bytes, partner: str = "roadlink") -> dict[str, str]:
    """What a partner sends besides the body: its own key, and its own secret's signature. Signed here rather than
    by `DevCallers`, which reads the body as JSON to put its event id in a header, and fails on a body nested too
    deep or an id that is not ASCII."""
    return {"Authorization": f"Bearer {dev_partner_key(partner)}",
            **signed_headers(dev_partner_secret(partner), "fuzz", int(time.time()), body)}


DECISION = {"gate": "high_value", "decision": "approve", "actor": "ops@test", "comment": "value checked"}
CANCEL = {"actor": "ops@test", "reason": "the customer withdrew the order"}
# Unknown fields are ignored, not refused, by these three models (no `extra="forbid"`), so no EXTRA_FIELD here.
OPS_KINDS = (Kind.DROP, Kind.WRONG_TYPE, Kind.OUT_OF_RANGE, Kind.NON_FINITE, Kind.TOO_LONG, Kind.UNICODE,
             Kind.DEEP_JUNK)


def event_for(shipment_id: str) -> dict[str, Any]:
    return {"event_id": f"fuzz:{shipment_id}:1", "partner": "roadlink", "shipment_id": shipment_id,
            "code": "COLLECTED", "occurred_at": "2026-12-01T08:00:00+01:00", "description": "Collected",
            "location": "Poznan, PL", "tracking_number": "RL000000123", "sequence": 1}


@pytest.fixture
async def held(harness) -> AsyncIterator[str]:
    """A running shipment waiting for ops at the `high_value` gate; cancelled (properly) afterwards."""
    shipment_id = unique_id("fuzz-held")
    await harness.start(load_example("high-value-us-jp.json", shipment_id))
    await harness.until_held(shipment_id)
    yield shipment_id
    response = await harness.api.post(f"/v1/shipments/{shipment_id}/cancel", json=CANCEL)
    assert response.status_code == 202, response.text
    assert (await harness.result(shipment_id)).status.value == "cancelled"


def snapshot(state: Any) -> dict[str, Any]:
    """What a decision, a cancellation or an event would change in a held shipment."""
    return state.model_dump(include={"stage", "status", "gates", "transitions", "events", "events_received",
                                     "cancel_request", "ignored_signals"})


@pytest.mark.temporal
@API_FUZZ
@given(data=st.data())
async def test_malformed_decisions_cancels_and_events_are_refused_and_change_nothing(harness, held, data):
    what, path, model, base = data.draw(st.sampled_from([
        ("decision", f"/v1/shipments/{held}/approvals", ApprovalDecision, DECISION),
        ("cancel", f"/v1/shipments/{held}/cancel", CancelRequest, CANCEL),
        ("event", "/v1/carrier-events", PartnerEvent, event_for(held)),
    ]), label="endpoint")
    m = data.draw(mutated(kinds=OPS_KINDS, model=model, bases=(base,)), label="body")
    fields = fields_of(model, m.body)
    assume(fields)
    before = snapshot(await harness.state(held))
    content = json.dumps(m.body).encode()
    headers = JSON | (sign_as_partner(content)
                      if what == "event" else {})
    response = await harness.api.post(path, content=content, headers=headers)
    # Events are signed properly, so what is refused is the body itself: a 422 naming its fields, as for ops.
    assert_refused_naming(response, content, harness.settings.max_body_bytes, fields)
    assert snapshot(await harness.state(held)) == before
    with Session(harness.engine) as session:
        assert session.exec(select(WebhookReceiptRow).where(WebhookReceiptRow.shipment_id == held)).all() == []


# --- bodies that are not requests at all ----------------------------------------------------------------------


def endpoints(shipment_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each POST endpoint with a valid body for it."""
    return {
        "create": ("/v1/shipments", load_example("basic-cn-de.json", shipment_id)),
        "quote": ("/v1/quotes", load_example("basic-cn-de.json", shipment_id)),
        "packing list": ("/v1/documents/packing-list", load_example("basic-cn-de.json", shipment_id)),
        "decision": (f"/v1/shipments/{shipment_id}/approvals", DECISION),
        "cancel": (f"/v1/shipments/{shipment_id}/cancel", CANCEL),
        "event": ("/v1/carrier-events", event_for(shipment_id)),
    }


def over_limit(valid: bytes, limit: int) -> bytes:
    """A valid body padded with whitespace (still valid JSON) past the limit: only the limit can refuse it."""
    return valid + b" " * (limit + 1 - len(valid))


SPECIAL = [
    # (what, body from the endpoint's valid body and the limit, content type, chunked, status, the field named)
    ("not JSON", lambda valid, limit: b"ship it, please", "application/json", False, 422, "body"),
    ("truncated JSON", lambda valid, limit: valid[: len(valid) // 2], "application/json", False, 422, "body"),
    ("a JSON array", lambda valid, limit: b"[]", "application/json", False, 422, "body"),
    ("JSON null", lambda valid, limit: b"null", "application/json", False, 422, "body"),
    ("a JSON string", lambda valid, limit: b'"hello"', "application/json", False, 422, "body"),
    ("empty body", lambda valid, limit: b"", "application/json", False, 422, "body"),
    ("valid JSON sent as text/plain", lambda valid, limit: valid, "text/plain", False, 422, "body"),
    ("valid JSON sent as a form", lambda valid, limit: valid, "application/x-www-form-urlencoded", False, 422,
     "body"),
    ("valid JSON without a content type", lambda valid, limit: valid, None, False, 422, "body"),
    ("arrays nested 5000 deep", lambda valid, limit: b"[" * 5000 + b"]" * 5000, "application/json", False, 422,
     "body"),
    ("objects nested 5000 deep", lambda valid, limit: b'{"a":' * 5000 + b"1" + b"}" * 5000, "application/json",
     False, 422, "body"),
    ("invalid UTF-8", lambda valid, limit: b'{"shipment_id": "\xff\xfe"}', "application/json", False, 422, "body"),
    ("a 5000-digit number", lambda valid, limit: b'{"n": 1' + b"0" * 5000 + b"}", "application/json", False, 422,
     "body"),
    ("valid JSON over the limit (Content-Length)", over_limit, "application/json", False, 413, "body"),
    ("valid JSON over the limit (chunked)", over_limit, "application/json", True, 413, "body"),
]


NO_ENVELOPE = "no error envelope: "


async def outcome(client: httpx.AsyncClient, path: str, body: bytes, headers: dict[str, str], chunked: bool
                  ) -> tuple[Any, str]:
    """(status, what the error names: its first field, else its code) of one request, or ("crash", the exception)
    when the app raised."""

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start:start + 4096]

    try:
        response = await client.post(path, content=stream() if chunked else body, headers=headers)
    # An exception out of the app is what a server answers with 500: record it as the outcome to compare.
    except Exception as exc:  # noqa: BLE001
        return "crash", f"{type(exc).__name__}: {exc}"[:200]
    try:
        error = response.json()["error"]
        return response.status_code, (error.get("fields") or [{"field": f"code {error['code']}"}])[0]["field"]
    except (ValueError, KeyError, TypeError, IndexError):
        return response.status_code, NO_ENVELOPE + response.text[:120]


@pytest.mark.temporal
@pytest.mark.parametrize(("make", "content_type", "chunked", "status", "field"), [c[1:] for c in SPECIAL],
                         ids=[c[0] for c in SPECIAL])
async def test_bodies_that_are_not_requests_are_refused_naming_the_body(harness, make, content_type, chunked,
                                                                        status, field):
    shipment_id = unique_id("fuzz-raw")
    limit = harness.settings.max_body_bytes
    got: dict[str, Any] = {}
    for what, (path, valid) in endpoints(shipment_id).items():
        body = make(json.dumps(valid).encode(), limit)
        headers = {} if content_type is None else {"Content-Type": content_type}
        if what == "event":
            headers |= sign_as_partner(body)
        got[what] = await outcome(harness.api, path, body, headers, chunked)
    assert got == dict.fromkeys(endpoints(shipment_id), (status, field))
    await assert_nothing_started(harness, shipment_id)
