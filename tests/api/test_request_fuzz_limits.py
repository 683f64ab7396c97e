"""The request limits case by case, without any service: hand-made damage to the examples is refused naming the
field and the error, carrier events, approvals and cancellations name the field they break, the examples stay valid
(and the invalid ones invalid) under the limits, and no string, list or number of a request is without a limit.
The same limits under random damage are `test_request_fuzz.py`'s.
"""

import math
from typing import Any

import pytest

from tests.api.test_request_fuzz import REQUESTS, assert_names_a_field, errors_of, shown
from tests.support import INVALID_EXAMPLES, VALID_EXAMPLES, load_example
from tradelane.models import ShipmentRequest
from tradelane.shipment.state import ApprovalDecision, CancelRequest
from tradelane.tracking_codes import PartnerEvent

BASIC, LITHIUM = "basic-cn-de.json", "lithium-powerbank-cn-us.json"
HAND_MADE = [
    # (what, example, damage, the field named, the error type)
    ("drop items[1].hs_code", BASIC, lambda b: b["items"][1].pop("hs_code"), "items[1].hs_code", "missing"),
    ("NaN weight", BASIC, lambda b: b["parcels"][0].update(weight_kg=math.nan), "parcels[0].weight_kg",
     "finite_number"),
    ("infinite watt-hours", LITHIUM, lambda b: b["items"][0]["dangerous_goods"].update(watt_hours=math.inf),
     "items[0].dangerous_goods.watt_hours", "finite_number"),
    ("a megawatt-hour battery plus one", LITHIUM,
     lambda b: b["items"][0]["dangerous_goods"].update(watt_hours=1_000_001), "items[0].dangerous_goods.watt_hours",
     "less_than_equal"),
    ("201-character description", BASIC, lambda b: b["items"][0].update(description="界" * 201),
     "items[0].description", "string_too_long"),
    ("65-character shipment id", BASIC, lambda b: b.update(shipment_id="S" * 65), "shipment_id", "string_too_long"),
    ("five address lines", BASIC, lambda b: b["origin"].update(address_lines=["a"] * 5), "origin.address_lines",
     "too_long"),
    ("51 excluded countries", BASIC, lambda b: b.update(exclude_countries=["FR"] * 51), "exclude_countries",
     "too_long"),
    ("unknown field in destination", BASIC, lambda b: b["destination"].update(floor=3), "destination.floor",
     "extra_forbidden"),
    ("unit value as a list", BASIC, lambda b: b["items"][1].update(unit_value=["9.90"]), "items[1].unit_value",
     "decimal_type"),
    ("unit value over max_digits", BASIC, lambda b: b["items"][0].update(unit_value="1e13"),
     "items[0].unit_value", "decimal_whole_digits"),
    ("lone surrogate in a name", BASIC, lambda b: b["destination"].update(name="\ud800"), "destination.name",
     "string_unicode"),
    ("shipped in the year 9999", BASIC, lambda b: b.update(ship_date="9999-12-25"), "ship_date", "less_than_equal"),
    ("delivered by the year 1", BASIC, lambda b: b.update(deliver_by="0001-01-01"), "deliver_by",
     "greater_than_equal"),
]


@pytest.mark.parametrize(("example", "damage", "field", "error_type"), [h[1:] for h in HAND_MADE],
                         ids=[h[0] for h in HAND_MADE])
def test_hand_made_damage_is_refused_naming_the_field(example, damage, field, error_type):
    body = load_example(example)
    damage(body)
    errors = errors_of(ShipmentRequest, body)
    assert shown(errors) == [(field, error_type)]
    assert_names_a_field(body, errors)


EVENT = {"event_id": "roadlink:BKG-000001:1", "partner": "roadlink", "shipment_id": "SHP-1", "code": "COLLECTED",
         "occurred_at": "2026-12-01T08:00:00+08:00", "sequence": 1}
EVENT_CASES = [
    # (what, fields changed, the field named, the error type)
    ("year 1 at +14:00 (cannot be converted to UTC)", {"occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at",
     "greater_than_equal"),
    ("year 9999", {"occurred_at": "9999-12-31T23:00:00-14:00"}, "occurred_at", "less_than"),
    ("no offset", {"occurred_at": "2026-12-01T08:00:00"}, "occurred_at", "timezone_aware"),
    ("sequence past a 32-bit column", {"sequence": 2**31}, "sequence", "less_than_equal"),
    ("negative sequence", {"sequence": -1}, "sequence", "greater_than_equal"),
    ("501-character description", {"description": "d" * 501}, "description", "string_too_long"),
    ("201-character location", {"location": "l" * 201}, "location", "string_too_long"),
    ("65-character code", {"code": "C" * 65}, "code", "string_too_long"),
]


@pytest.mark.parametrize(("change", "field", "error_type"), [c[1:] for c in EVENT_CASES],
                         ids=[c[0] for c in EVENT_CASES])
def test_carrier_event_limits_name_the_field(change, field, error_type):
    errors = errors_of(PartnerEvent, {**EVENT, **change})
    assert shown(errors) == [(field, error_type)]


def test_a_carrier_event_within_the_limits_is_valid():
    assert errors_of(PartnerEvent, {**EVENT, "sequence": 2**31 - 1, "occurred_at": "2099-12-31T23:59:59+00:00"}) == []


@pytest.mark.parametrize(("model", "body", "field"), [
    (ApprovalDecision, {"gate": "packaging", "decision": "approve", "actor": "a" * 121}, "actor"),
    (ApprovalDecision, {"gate": "packaging", "decision": "approve", "actor": "ops", "comment": "c" * 2001}, "comment"),
    (CancelRequest, {"actor": "ops", "reason": "r" * 2001}, "reason"),
    (CancelRequest, {"actor": ""}, "actor"),
], ids=["approval actor", "approval comment", "cancel reason", "empty cancel actor"])
def test_decision_and_cancel_limits_name_the_field(model, body, field):
    assert [path for path, _ in shown(errors_of(model, body))] == [field]


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.stem)
def test_every_example_stays_valid_under_the_limits(path):
    assert errors_of(ShipmentRequest, load_example(path.name)) == []


@pytest.mark.parametrize("path", INVALID_EXAMPLES, ids=lambda p: p.stem)
def test_every_invalid_example_stays_invalid(path):
    body = load_example(f"invalid/{path.name}")
    errors = errors_of(ShipmentRequest, body)
    assert errors, f"{path.name} is accepted"
    assert_names_a_field(body, errors)


# --- every string has a length limit, every list a size limit, every number a range -----------------------------


def unbounded(schema: dict[str, Any], defs: dict[str, Any], path: str) -> list[str]:
    """Paths in a JSON schema whose strings, lists or numbers have no upper limit."""
    if "$ref" in schema:
        return unbounded(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, path)
    if "anyOf" in schema:
        branches = schema["anyOf"]
        # A Decimal is `number | string`: its string form is bounded by max_digits, shown on the number form.
        if {b.get("type") for b in branches} == {"number", "string"}:
            branches = [b for b in branches if b.get("type") == "number"]
        return [found for b in branches for found in unbounded(b, defs, path)]
    kind = schema.get("type")
    if kind == "object":
        return [found for name, s in schema.get("properties", {}).items()
                for found in unbounded(s, defs, f"{path}.{name}")]
    if kind == "array":
        return ([] if "maxItems" in schema else [f"{path} (list size)"]) + unbounded(schema["items"], defs, f"{path}[]")
    if kind == "string" and not {"maxLength", "enum", "const", "format"} & set(schema):
        return [f"{path} (string length)"]
    if kind in ("number", "integer") and not {"maximum", "exclusiveMaximum"} & set(schema):
        return [f"{path} (number)"]
    return []


@pytest.mark.parametrize("model", REQUESTS, ids=lambda m: m.__name__)
def test_every_string_list_and_number_in_a_request_has_a_limit(model):
    schema = model.model_json_schema()
    assert unbounded(schema, schema.get("$defs", {}), model.__name__) == []
