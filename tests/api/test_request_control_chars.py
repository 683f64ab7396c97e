"""Control characters in any text field of any request body are refused, naming the field (issue 18).

A line break in an `order_ref` was accepted and then failed building the customer's e-mail on every retry; a NUL in
`merchant_id` or an event's location failed the PostgreSQL write of the read model on every retry. Every request
model the API takes a body as is walked here: each string in a valid example, with a control character put
anywhere in it (hypothesis), must be refused with the error's `loc` at exactly that string. Partners' events that
Tradelane reads itself (polls, DCSA callbacks) are cleaned instead, since refusing them would lose the event.
"""

import copy
import unicodedata
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from tests.support import EXAMPLES, load_example
from tradelane.enums import TrackingStatus
from tradelane.inventory.models import Network, SaleRecord, StockAdjustment, SuggestionDecision
from tradelane.models import ShipmentRequest
from tradelane.shipment.events import CarrierEvent
from tradelane.shipment.state import ApprovalDecision, CancelRequest
from tradelane.tracking_codes import PartnerEvent

Path = tuple[str | int, ...]

CONTROL_CHARACTERS = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc"]

# One valid body per request model the API reads (routes: shipments, quotes, documents, decide, cancel, carrier
# events, inventory movements, network, sales, suggestion decisions).
REQUESTS: dict[str, tuple[type[BaseModel], dict[str, Any]]] = {
    "shipment": (ShipmentRequest, load_example("basic-cn-de.json")),
    "decision": (ApprovalDecision, {"gate": "high_value", "decision": "approve", "actor": "ops@test",
                                    "comment": "value checked"}),
    "cancel": (CancelRequest, {"actor": "ops@test", "reason": "the customer withdrew the order"}),
    "partner_event": (PartnerEvent, {"event_id": "rl:1", "partner": "roadlink", "shipment_id": "S-1",
                                     "code": "COLLECTED", "occurred_at": "2026-12-01T08:00:00+01:00",
                                     "description": "Collected", "location": "Poznan, PL",
                                     "tracking_number": "RL000000123", "booking_ref": "RL-B-1", "sequence": 1}),
    "stock_adjustment": (StockAdjustment, {"warehouse_id": "BER-1", "sku": "PB-10K", "kind": "receipt",
                                           "quantity": 5, "reason": "goods receipt", "actor": "ops@test",
                                           "reference": "GRN-1"}),
    "network": (Network, {k: v for k, v in yaml.safe_load((EXAMPLES / "inventory" / "network.yaml").read_text())
                          .items() if k in Network.model_fields}),
    "sale": (SaleRecord, {"day": "2026-11-30", "sku": "PB-10K", "market": "DE", "quantity": 3}),
    "suggestion_decision": (SuggestionDecision, {"actor": "ops@test", "approve": ["s-1"], "reject": ["s-2"],
                                                 "comment": "ok"}),
}


def strings(value: Any, path: Path = ()) -> list[Path]:
    """Paths of every string in a JSON value."""
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in strings(item, (*path, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in strings(item, (*path, index))]
    return []


def replaced(body: dict[str, Any], path: Path, value: str) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


def at(body: Any, path: Path) -> Any:
    for key in path:
        body = body[key]
    return body


@pytest.mark.parametrize("name", REQUESTS)
def test_the_examples_are_valid_and_have_text(name):
    model, body = REQUESTS[name]
    model.model_validate(body)
    assert strings(body)


@pytest.mark.parametrize("name", REQUESTS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_control_character_in_any_text_field_is_refused_naming_that_field(name, data):
    model, body = REQUESTS[name]
    path = data.draw(st.sampled_from(strings(body)), label="field")
    text = at(body, path)
    bad = data.draw(st.sampled_from(CONTROL_CHARACTERS), label="control character")
    # Inside the text, not at its ends, where whitespace stripping might drop a CR, LF or tab.
    position = data.draw(st.integers(min_value=min(1, len(text)), max_value=max(len(text) - 1, 1)), label="where")
    value = text[:position] + bad + text[position:]
    with pytest.raises(ValidationError) as err:
        model.model_validate(replaced(body, path, value))
    assert [tuple(e["loc"]) for e in err.value.errors()] == [path]


def test_the_refusal_says_which_character():
    with pytest.raises(ValidationError) as err:
        CancelRequest.model_validate({"actor": "ops@test", "reason": "line one\r\nBcc: all@example.com"})
    [error] = err.value.errors()
    assert error["loc"] == ("reason",) and "control characters (found U+000D)" in error["msg"]


def test_a_polled_partner_event_is_cleaned_not_refused():
    raw = {**REQUESTS["partner_event"][1], "location": "Pozna\x00n, PL", "description": "Col\r\nlected"}
    event = PartnerEvent.polled(raw, "roadlink")
    assert (event.location, event.description, event.via) == ("Poznan, PL", "Collected", "poll")


def test_every_route_to_the_workflow_cleans_a_partners_event_text():
    """DCSA callbacks and polls and Karrio polls build `CarrierEvent`s directly: a NUL or line break from the
    partner never reaches the read model or an e-mail."""
    event = CarrierEvent(event_id="dcsa:\x001", partner="bluewave", shipment_id="S-1", code="ARRI\x1b",
                         status=TrackingStatus.ARRIVED_AT_DESTINATION, description="Arrived\nat berth",
                         location="Rotter\x00dam", occurred_at=datetime(2026, 12, 1, tzinfo=UTC),
                         tracking_number="BW\r1", booking_ref=None)
    assert [event.event_id, event.code, event.description, event.location, event.tracking_number] == [
        "dcsa:1", "ARRI", "Arrivedat berth", "Rotterdam", "BW1"]
