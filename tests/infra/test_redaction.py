"""Personal data never reaches a log line: PII keys are redacted wherever they sit, e-mail addresses and phone numbers
inside any text are masked, and ids, countries, amounts, timestamps and codes stay readable."""

import json
import logging
import sys

import pytest
import structlog

from infra.platform.logging import configure_logging
from infra.platform.redaction import PII_KEYS, REDACTED, redact, redact_processor, redact_text
from tests.support import load_example
from tradelane.models import ShipmentRequest

MASKED_TEXT = [
    ("+49 30 1234567", "[phone]"),
    ("+1-212-555-0100", "[phone]"),
    ("(030) 1234567", "[phone]"),
    ("+86 755 8888 0000", "[phone]"),
    ("+1 (212) 555-0100", "[phone]"),
    ("+49 (0)30 1234567", "[phone]"),
    ("+1.212.555.0100", "[phone]"),
    ("call +4930123456 after 5", "call [phone] after 5"),
    ("jonas.becker@example.de", "[email]"),
    ("mail to <ops@acme.example>: refused", "mail to <[email]>: refused"),
    ("SMTP 550 for {'kunde+dhl@post.example.co.uk': (550, 'no')}", "SMTP 550 for {'[email]': (550, 'no')}"),
    ("+4930123456@fax.example", "[email]"),
    ("Jonas <jonas.becker@example.de>, +49 30 1234567", "Jonas <[email]>, [phone]"),
]

KEPT_TEXT = [
    "2026-12-01T10:00:00+00:00",
    "2026-12-01T10:00:00.123456+00:00",
    "2026-12-01 10:00:00 +0000",
    "UTC offset +05:30",
    "148.07 EUR",
    "landed cost 6122.78 USD, duties +12345.67",
    "SR123456789CN",
    "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b",
    "8471300000",
    "shipment:SHP-2026-000207",
    "tl:SHP-2026-000123:book:ups",
    "ORD-88231",
    "UN3480 (2 items), 1234567 g",
    "abc+1234567def",
    "weights (12) and 3",
]


@pytest.mark.parametrize(("text", "expected"), MASKED_TEXT, ids=[t for t, _ in MASKED_TEXT])
def test_emails_and_phone_numbers_in_text_are_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", KEPT_TEXT, ids=KEPT_TEXT)
def test_ids_amounts_timestamps_and_codes_are_kept(text: str) -> None:
    assert redact_text(text) == text


PII_VALUE_CASES = [
    ("name", "Jonas Becker"),
    ("company", "Acme Trading Co., Ltd."),
    ("contact_name", "Li Wei"),
    ("address_lines", ["Invalidenstrasse 117", "Hinterhaus"]),
    ("address", {"street": "Invalidenstrasse 117", "city": "Berlin"}),
    ("street", "Invalidenstrasse 117"),
    ("postal_code", "10115"),
    ("phone", "030 1234567"),  # a national number the text rule would keep: the key alone redacts it
    ("email", "jonas.becker@example.de"),
    ("recipient", "https://merchant.example/hooks/tradelane"),
    ("sender", "Tradelane <noreply@tradelane.example>"),
    ("to", "jonas.becker@example.de"),
    ("from", "noreply@tradelane.example"),
    ("To", "jonas.becker@example.de"),
    ("Reply-To", "support@acme.example"),
]


@pytest.mark.parametrize(("key", "value"), PII_VALUE_CASES, ids=[k for k, _ in PII_VALUE_CASES])
def test_pii_keys_are_redacted_at_any_depth(key: str, value: object) -> None:
    event = {"shipment_id": "SHP-1", "legs": [{"partner": "ups", "contact": {key: value, "country": "DE"}}]}

    assert redact(event) == {
        "shipment_id": "SHP-1", "legs": [{"partner": "ups", "contact": {key: REDACTED, "country": "DE"}}]}


@pytest.mark.parametrize("key", ["country", "shipment_id", "order_ref", "merchant_id", "partner", "stage",
                                 "workflow_id", "tracking_number", "hs_code"])
def test_business_keys_are_not_pii(key: str) -> None:
    assert key not in PII_KEYS
    assert redact({key: "SHP-2026-000207"}) == {key: "SHP-2026-000207"}


def test_a_shipment_request_keeps_ids_countries_and_goods_but_loses_both_parties() -> None:
    request = ShipmentRequest.model_validate(load_example("basic-cn-de.json"))

    redacted = redact({"request": request, "pair": (request.origin, "ops@acme.example")})

    body = redacted["request"]
    assert (body["shipment_id"], body["order_ref"], body["merchant_id"]) == ("SHP-2026-000123", "ORD-88231",
                                                                             "acme-store")
    assert body["destination"] == {
        "name": REDACTED, "company": REDACTED, "address_lines": REDACTED, "city": "Berlin", "postal_code": REDACTED,
        "country": "DE", "region": None, "phone": REDACTED, "email": REDACTED, "locale": "de-DE"}
    assert (body["origin"]["country"], body["origin"]["name"]) == ("CN", REDACTED)
    assert [item["hs_code"] for item in body["items"]] == ["392690", "854442"]
    assert body["items"][0]["unit_value"] == "12.50"
    origin, address = redacted["pair"]
    assert (origin["name"], origin["country"], address) == (REDACTED, "CN", "[email]")


def test_the_processor_leaves_structlogs_own_keys_and_masks_the_message() -> None:
    event = {"event": "mail to jonas.becker@example.de refused", "timestamp": "2026-12-01T10:00:00.101150Z",
             "level": "warning", "logger": "activities.notifications", "name": "Jonas Becker", "attempt": 3,
             "temporal_activity": {"activity_type": "notifications.deliver", "workflow_id": "shipment:SHP-1"}}

    out = redact_processor(None, "warning", dict(event))

    assert out == {**event, "event": "mail to [email] refused", "name": REDACTED}


def test_the_processor_redacts_the_text_of_an_attached_exception() -> None:
    try:
        raise RuntimeError("recipient refused: {'jonas.becker@example.de': (550, 'unknown user')}")
    except RuntimeError:
        out = redact_processor(None, "error", {"event": "notification_failed", "exc_info": sys.exc_info()})

    assert "exc_info" not in out
    assert "RuntimeError: recipient refused: {'[email]': (550, 'unknown user')}" in out["exception"]
    assert "jonas.becker" not in out["exception"]


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_logs_of_structlog_and_stdlib_loggers_carry_no_personal_data(capsys, logging_restored) -> None:
    request = ShipmentRequest.model_validate(load_example("basic-cn-de.json", "SHP-2026-000777"))
    configure_logging("json", "INFO")
    structlog.stdlib.get_logger("tradelane.test").info("shipment received", request=request,
                                                        recipient=request.destination.email)
    # Temporal's workflow.logger is a stdlib logger: its fields arrive as `extra` and ExtraAdder lifts them.
    logging.getLogger("temporalio.workflow").warning(
        "shipment held for %s", request.destination.email,
        extra={"request": request, "temporal_workflow": {"workflow_id": "shipment:SHP-2026-000777"}})
    lines = _json_lines(capsys.readouterr().out)

    by_event = {line["event"]: line for line in lines}
    assert set(by_event) == {"shipment received", "shipment held for [email]"}
    for line in lines:
        # The timestamp is left out of the search: its digits may spell a postal code by chance.
        text = json.dumps({k: v for k, v in line.items() if k != "timestamp"}, ensure_ascii=False)
        for party in (request.origin, request.destination):
            secrets = [party.name, party.phone, party.email, party.postal_code, *party.address_lines]
            if party.company:
                secrets.append(party.company)
            leaked = [s for s in secrets if s and s in text]
            assert leaked == [], f"{line['event']!r} leaks {leaked}"
        assert line["request"]["shipment_id"] == "SHP-2026-000777"
        assert (line["request"]["origin"]["country"], line["request"]["destination"]["country"]) == ("CN", "DE")
    assert by_event["shipment received"]["recipient"] == REDACTED
    assert by_event["shipment held for [email]"]["temporal_workflow"] == {"workflow_id": "shipment:SHP-2026-000777"}
