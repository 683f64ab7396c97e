"""The request contract: the shared examples parse, each invalid one names its bad field."""

import json

import pytest
from pydantic import ValidationError

from tests.support import INVALID_EXAMPLES, VALID_EXAMPLES
from tradelane.models import ShipmentRequest

EXPECTED_BAD_FIELD = {
    "bad-hs-code.json": ("items", 1, "hs_code"),
    "negative-weight.json": ("parcels", 0, "weight_kg"),
    "no-items.json": ("items",),
    "unknown-country.json": ("destination", "country"),
}


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_examples_parse(path):
    request = ShipmentRequest.model_validate_json(path.read_text())
    assert request.shipment_id == json.loads(path.read_text())["shipment_id"]
    assert request.declared_value > 0


@pytest.mark.parametrize("path", INVALID_EXAMPLES, ids=lambda p: p.name)
def test_invalid_examples_name_their_field(path):
    with pytest.raises(ValidationError) as err:
        ShipmentRequest.model_validate_json(path.read_text())
    locations = [e["loc"] for e in err.value.errors()]
    assert locations == [EXPECTED_BAD_FIELD[path.name]]


def test_hs_code_message_says_what_is_wrong():
    body = json.loads(INVALID_EXAMPLES[0].read_text())
    assert INVALID_EXAMPLES[0].name == "bad-hs-code.json"
    with pytest.raises(ValidationError, match="'85A4' is not 6-10 digits"):
        ShipmentRequest.model_validate(body)


def test_unknown_field_is_refused_not_ignored():
    body = json.loads(VALID_EXAMPLES[0].read_text())
    body["servce_level"] = "express"
    with pytest.raises(ValidationError) as err:
        ShipmentRequest.model_validate(body)
    assert err.value.errors()[0]["loc"] == ("servce_level",)


def test_declared_value_sums_quantity_times_unit_value():
    request = ShipmentRequest.model_validate_json((VALID_EXAMPLES[0]).read_text())
    expected = sum(i.unit_value * i.quantity for i in request.items)
    assert request.declared_value == expected


@pytest.mark.parametrize(("field", "value"), [
    (("order_ref",), "PO-1\r\nBcc: everyone@example.com"),  # would break the e-mail's headers on every retry
    (("merchant_id",), "shop\x00one"),                        # PostgreSQL cannot store a NUL
    (("destination", "city"), "Berlin\x1b[2J"),
])
def test_control_characters_are_refused_naming_the_field(field, value):
    body = json.loads(VALID_EXAMPLES[0].read_text())
    target = body
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    with pytest.raises(ValidationError) as err:
        ShipmentRequest.model_validate(body)
    [error] = err.value.errors()
    assert error["loc"] == field and "control characters" in error["msg"]


def test_printable_unicode_text_is_accepted():
    body = json.loads(VALID_EXAMPLES[0].read_text())
    body["destination"]["city"] = "Düsseldorf – Øst 東京"
    assert ShipmentRequest.model_validate(body).destination.city == "Düsseldorf – Øst 東京"
