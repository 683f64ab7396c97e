"""The DCSA contract: the published OpenAPI files read at test time, and every payload checked against them.

`DcsaContract` finds the operation of a request (method and path against the specs' path templates, the line's
`/dcsa/{partner}` root removed) and validates request bodies, response bodies and callback bodies against the
operation's own schema, through jsonschema over the spec's components. It records what it validated, so a test can
say how much of the standard the adapter and the emulator exercised. Also here: the event table and the callback
signature, both pure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tradelane.dcsa_events import Ports, dcsa_event_table, to_carrier_events, verify_callback_signature
from tradelane.enums import TrackingStatus

SPECS = Path("/work/shared/specs/dcsa")
BKG = SPECS / "BKG_v2.0.5.yaml"
TNT = SPECS / "TNT_v2.2.0.yaml"



@cache
def spec(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _template(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")


@dataclass
class DcsaContract:
    """Validates DCSA exchanges against the specs and remembers which (operation, payload) pairs it checked."""

    checked: set[tuple[str, str]] = field(default_factory=set)

    def operation(self, method: str, path: str) -> tuple[Path, str, dict[str, Any]]:
        path = re.sub(r"^/dcsa/[^/]+", "", path)
        for source in (BKG, TNT):
            for template, item in spec(source)["paths"].items():
                if method.lower() in item and _template(template).match(path):
                    return source, template, item[method.lower()]
        raise AssertionError(f"{method} {path} is no operation of the DCSA specs")

    def validate(self, source: Path, schema: dict[str, Any], instance: Any, what: str) -> None:
        root = {**schema, "components": spec(source)["components"]}
        validator = jsonschema.Draft4Validator(root)  # OpenAPI 3.0 schemas: boolean exclusiveMinimum, as draft 4
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        assert not errors, f"{what}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:300]}" for e in errors[:5])

    def request(self, method: str, path: str, body: Any) -> None:
        source, template, op = self.operation(method, path)
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        self.validate(source, schema, body, f"request of {method} {template}")
        self.checked.add((f"{method.upper()} {template}", "request"))

    def response(self, method: str, path: str, status: int, body: Any) -> None:
        source, template, op = self.operation(method, path)
        responses = op["responses"]
        declared = responses.get(str(status)) or responses.get("default")
        assert declared is not None, f"{method} {template} declares no {status} response"
        schema = (declared.get("content") or {}).get("application/json", {}).get("schema")
        if schema is None:
            assert body in (None, b"", ""), f"{method} {template} {status} declares no body, got {body!r}"
        else:
            self.validate(source, schema, body, f"{status} response of {method} {template}")
        kind = f"response {status}" if str(status) in responses else "response error"
        self.checked.add((f"{method.upper()} {template}", kind))

    def callback(self, body: Any, headers: dict[str, str]) -> None:
        op = spec(TNT)["paths"]["/v2/event-subscriptions"]["post"]["callbacks"]["event"]["{$request.body.callbackUrl}"]
        post = op["post"]
        self.validate(TNT, post["requestBody"]["content"]["application/json"]["schema"], body, "callback body")
        lowered = {k.lower(): v for k, v in headers.items()}
        for parameter in post["parameters"]:
            if parameter.get("required") and not parameter.get("deprecated"):
                assert parameter["name"].lower() in lowered, f"callback header {parameter['name']} missing"
                pattern = parameter["schema"].get("pattern")
                if pattern:
                    assert re.fullmatch(pattern, lowered[parameter["name"].lower()]), parameter["name"]
        self.checked.add(("callback POST {callbackUrl}", "request"))

    def schema(self, source: Path, name: str, instance: Any) -> None:
        self.validate(source, {"$ref": f"#/components/schemas/{name}"}, instance, name)
        self.checked.add((f"schema {name}", "payload"))


# ---- the event table --------------------------------------------------------------------------------------------

PORTS = Ports(port_of_loading="CNSHA", port_of_discharge="NLRTM")


def _transport(code: str, port: str) -> dict[str, Any]:
    return {"eventType": "TRANSPORT", "eventDateTime": "2025-03-01T10:00:00Z", "eventCreatedDateTime":
            "2025-03-01T10:00:00Z", "eventClassifierCode": "ACT", "transportEventTypeCode": code,
            "transportCall": {"transportCallID": f"TC-{port}", "modeOfTransport": "VESSEL", "UNLocationCode": port}}


def _equipment(code: str, port: str) -> dict[str, Any]:
    return {"eventType": "EQUIPMENT", "eventDateTime": "2025-03-01T10:00:00Z", "eventCreatedDateTime":
            "2025-03-01T10:00:00Z", "eventClassifierCode": "ACT", "equipmentEventTypeCode": code,
            "emptyIndicatorCode": "LADEN", "equipmentReference": "BWLU0000001",
            "eventLocation": {"UNLocationCode": port}}


def _shipment(code: str, document: str) -> dict[str, Any]:
    return {"eventType": "SHIPMENT", "eventDateTime": "2025-03-01T10:00:00Z", "eventCreatedDateTime":
            "2025-03-01T10:00:00Z", "eventClassifierCode": "ACT", "shipmentEventTypeCode": code,
            "documentTypeCode": document, "documentID": "BW00000001"}


@pytest.mark.parametrize(("event", "expected"), [
    pytest.param(_transport("DEPA", "CNSHA"), TrackingStatus.IN_TRANSIT, id="departure_from_port_of_loading"),
    pytest.param(_transport("ARRI", "SGSIN"), TrackingStatus.IN_TRANSIT, id="arrival_at_transshipment_port"),
    pytest.param(_transport("DEPA", "SGSIN"), TrackingStatus.IN_TRANSIT, id="departure_from_transshipment_port"),
    pytest.param(_transport("ARRI", "NLRTM"), TrackingStatus.ARRIVED_AT_DESTINATION, id="arrival_at_port_of_discharge"),
    pytest.param(_equipment("STUF", "CNSHA"), TrackingStatus.PICKED_UP, id="stuffed_at_origin_cfs"),
    pytest.param(_equipment("GTIN", "CNSHA"), TrackingStatus.PICKED_UP, id="gated_in_at_origin"),
    pytest.param(_equipment("LOAD", "CNSHA"), TrackingStatus.IN_TRANSIT, id="loaded"),
    pytest.param(_equipment("DISC", "SGSIN"), TrackingStatus.IN_TRANSIT, id="discharged_for_transshipment"),
    pytest.param(_equipment("DISC", "NLRTM"), TrackingStatus.ARRIVED_AT_DESTINATION, id="discharged_at_destination"),
    pytest.param(_equipment("STRP", "NLRTM"), TrackingStatus.ARRIVED_AT_DESTINATION, id="stripped_at_destination"),
    pytest.param(_equipment("INSP", "NLRTM"), TrackingStatus.CUSTOMS_HOLD, id="inspected"),
    pytest.param(_shipment("HOLD", "CUS"), TrackingStatus.CUSTOMS_HOLD, id="customs_hold"),
    pytest.param(_shipment("RELS", "CUS"), TrackingStatus.CUSTOMS_CLEARED, id="customs_release"),
    pytest.param(_shipment("HOLD", "TRD"), TrackingStatus.EXCEPTION, id="other_hold"),
    pytest.param(_shipment("CONF", "BKG"), TrackingStatus.UNKNOWN, id="booking_confirmed_is_a_milestone"),
    pytest.param(_shipment("SURR", "TRD"), TrackingStatus.UNKNOWN, id="schema_valid_code_without_a_row"),
    pytest.param({**_equipment("NEWC", "NLRTM")}, TrackingStatus.UNKNOWN, id="code_of_a_later_release"),
])
def test_event_table_maps_dcsa_codes_by_place_and_document(event: dict[str, Any], expected: TrackingStatus) -> None:
    [mapped] = to_carrier_events("bluewave", "S-1", "BW00000001", [event], ports=PORTS)
    assert mapped.status is expected
    assert mapped.via == "poll" and mapped.booking_ref == "BW00000001"


def test_without_ports_place_rows_fall_back_to_any() -> None:
    [event] = to_carrier_events("bluewave", "S-1", "BW1", [_transport("ARRI", "NLRTM")])
    assert event.status is TrackingStatus.IN_TRANSIT


def test_events_come_oldest_first_and_without_event_id_get_a_stable_one() -> None:
    late, early = _equipment("DISC", "NLRTM"), {**_equipment("LOAD", "CNSHA"), "eventDateTime": "2025-02-01T00:00:00Z"}
    first = to_carrier_events("bluewave", "S-1", "BW1", [late, early], ports=PORTS)
    again = to_carrier_events("bluewave", "S-1", "BW1", [early, late], ports=PORTS)
    assert [e.code for e in first] == ["LOAD", "DISC"]
    assert [e.event_id for e in first] == [e.event_id for e in again]


def test_every_table_code_is_a_code_of_the_spec() -> None:
    schemas = spec(TNT)["components"]["schemas"]
    table = dcsa_event_table()
    assert {r.code for r in table.transport} <= set(schemas["transportEventTypeCode"]["enum"])
    assert {r.code for r in table.equipment} <= set(schemas["equipmentEventTypeCode"]["enum"])
    assert {r.code for r in table.shipment} <= set(schemas["shipmentEventTypeCode"]["enum"])
    documents = set(schemas["documentTypeCode"]["enum"]) | {"*"}
    assert {r.document for r in table.shipment} <= documents


def test_the_table_fixtures_are_spec_events() -> None:
    contract = DcsaContract()
    contract.schema(TNT, "transportEvent", _transport("ARRI", "NLRTM"))
    contract.schema(TNT, "equipmentEvent", _equipment("DISC", "NLRTM"))
    contract.schema(TNT, "shipmentEvent", _shipment("HOLD", "CUS"))


def test_status_of_reads_the_location_of_equipment_events_from_the_transport_call_too() -> None:
    event = {**_equipment("DISC", "NLRTM")}
    event.pop("eventLocation")
    event["transportCall"] = {"transportCallID": "TC", "modeOfTransport": "VESSEL", "UNLocationCode": "NLRTM"}
    [parsed] = to_carrier_events("bluewave", "S-1", "BW1", [event], ports=PORTS)
    assert parsed.status is TrackingStatus.ARRIVED_AT_DESTINATION


# ---- callback signatures ----------------------------------------------------------------------------------------

SECRET = base64.b64encode(b"a shared secret of the subscription").decode()


def _signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(base64.b64decode(secret), body, hashlib.sha256).hexdigest()


def test_a_signature_over_the_exact_body_verifies() -> None:
    body = b'[{"eventType": "SHIPMENT"}]\n'
    assert verify_callback_signature(SECRET, body, _signature(body))
    assert verify_callback_signature(SECRET, body, "  " + _signature(body).upper().replace("SHA256", "sha256") + " ")


@pytest.mark.parametrize("header", [
    pytest.param(_signature(b"[]"), id="another_body"),
    pytest.param(_signature(b'[{"eventType": "SHIPMENT"}]\n', base64.b64encode(b"other").decode()), id="other_secret"),
    pytest.param("sha1=" + _signature(b'[{"eventType": "SHIPMENT"}]\n')[7:], id="unknown_type"),
    pytest.param("not a signature", id="malformed"),
])
def test_a_wrong_signature_does_not_verify(header: str) -> None:
    assert not verify_callback_signature(SECRET, b'[{"eventType": "SHIPMENT"}]\n', header)


def test_a_secret_that_is_not_base64_verifies_nothing() -> None:
    assert not verify_callback_signature("not base64!", b"[]", _signature(b"[]"))
