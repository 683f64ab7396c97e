"""Dangerous goods: lithium batteries (section 4 of the reference), table-driven, plus the table itself."""

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import load_example
from tradelane.decisions.dangerous_goods import assess_dangerous_goods, leg_allowed
from tradelane.decisions.models import Severity
from tradelane.enums import Aircraft, Mode
from tradelane.models import ShipmentRequest
from tradelane.rules import RuleBook, RuleDataError, RuleStatus, default_book
from tradelane.rules.schemas.dangerous_goods import DgRule, DgTopic

BOOK = default_book()
MARK = "Lithium battery mark"
CLASS_9 = "Class 9 lithium battery hazard label"
CAO = "Cargo Aircraft Only"


def powerbank(dg: dict[str, Any] | None = None, ship_date: str | None = None, **item: Any) -> ShipmentRequest:
    """The power-bank example with its item's dangerous_goods (and other item fields) replaced."""
    body = load_example("lithium-powerbank-cn-us.json")
    if dg is not None:
        body["items"][0]["dangerous_goods"] = dg
    body["items"][0].update(item)
    if ship_date is not None:
        body["ship_date"] = ship_date
    return ShipmentRequest.model_validate(body)


def example(name: str) -> ShipmentRequest:
    return ShipmentRequest.model_validate(load_example(name))


# (dangerous_goods, ship_date, passenger forbidden, air forbidden, cargo only, fully regulated, marks, labels,
#  findings as (code, severity, field), Shipper's Declaration)
CASES = {
    "un3480-pi965-section-ib-cargo-aircraft-only-2016-04-01": (
        {"un_number": "UN3480", "packing_instruction": "965", "watt_hours": 74, "state_of_charge_pct": 30},
        None, True, False, True, False, [f"{MARK} (UN3480)"], [CLASS_9, CAO], [], True),
    "un3480-passenger-allowed-before-2016-04-01-no-section-rows": (
        {"un_number": "UN3480", "packing_instruction": "965", "watt_hours": 74, "state_of_charge_pct": 60},
        "2016-03-31", False, False, False, True, [], [],
        [("DG_SECTION_RULE_MISSING", Severity.HOLD, "items[0].dangerous_goods")], False),
    "un3480-soc-over-30": (
        {"un_number": "UN3480", "packing_instruction": "965", "watt_hours": 74, "state_of_charge_pct": 31},
        None, True, True, True, False, [f"{MARK} (UN3480)"], [CLASS_9, CAO],
        [("DG_STATE_OF_CHARGE_OVER_LIMIT", Severity.BLOCK, "items[0].dangerous_goods.state_of_charge_pct")], True),
    "un3480-soc-undeclared-hold": (
        {"un_number": "UN3480", "packing_instruction": "965", "watt_hours": 74},
        None, True, False, True, False, [f"{MARK} (UN3480)"], [CLASS_9, CAO],
        [("DG_STATE_OF_CHARGE_MISSING", Severity.HOLD, "items[0].dangerous_goods.state_of_charge_pct")], True),
    "un3480-over-100-wh-section-ia": (
        {"un_number": "UN3480", "packing_instruction": "965", "watt_hours": 160, "state_of_charge_pct": 25},
        None, True, False, True, True, [], [CLASS_9, CAO], [], True),
    "un3481-pi967-section-ii-mark": (
        {"un_number": "UN3481", "packing_instruction": "967", "watt_hours": 72},
        None, False, False, False, False, [f"{MARK} (UN3481)"], [], [], False),
    "un3481-pi966-100-wh-is-still-section-ii": (
        {"un_number": "UN3481", "packing_instruction": "966", "watt_hours": 100, "state_of_charge_pct": 30},
        None, False, False, False, False, [f"{MARK} (UN3481)"], [], [], False),
    "un3481-over-100-wh-section-i-class-9-label": (
        {"un_number": "UN3481", "packing_instruction": "967", "watt_hours": 100.5},
        None, False, False, False, True, [], [CLASS_9], [], True),
    "un3481-watt-hours-undeclared-hold": (
        {"un_number": "UN3481", "packing_instruction": "967"},
        None, False, False, False, True, [], [CLASS_9],
        [("DG_WATT_HOURS_MISSING", Severity.HOLD, "items[0].dangerous_goods.watt_hours")], True),
    "un3090-lithium-content-undeclared-hold-section-ia-cargo-aircraft-only": (
        {"un_number": "UN3090", "packing_instruction": "968"},
        None, True, False, True, True, [], [CLASS_9, CAO],
        [("DG_LITHIUM_CONTENT_MISSING", Severity.HOLD, "items[0].dangerous_goods.lithium_content_g")], True),
    "un3091-pi970-section-ii-passenger-allowed": (
        {"un_number": "UN3091", "packing_instruction": "970", "lithium_content_g": 0.5},
        None, False, False, False, False, [f"{MARK} (UN3091)"], [], [], False),
    "unknown-un-number-needs-dg-specialist": (
        {"un_number": "UN1266"},
        None, False, False, False, False, [], [],
        [("DG_UN_NUMBER_UNKNOWN", Severity.HOLD, "items[0].dangerous_goods.un_number")], False),
    "packing-instruction-mismatch-hold": (
        {"un_number": "UN3480", "packing_instruction": "967", "watt_hours": 74, "state_of_charge_pct": 30},
        None, True, False, True, False, [f"{MARK} (UN3480)"], [CLASS_9, CAO],
        [("DG_PACKING_INSTRUCTION_MISMATCH", Severity.HOLD, "items[0].dangerous_goods.packing_instruction")], True),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_lithium_battery_rules(case):
    dg, ship_date, passenger, air, cargo_only, fully, marks, labels, findings, declaration = case
    result = assess_dangerous_goods(powerbank(dg, ship_date), BOOK)
    assert (result.passenger_aircraft_forbidden, result.air_forbidden, result.cargo_aircraft_only,
            result.fully_regulated) == (passenger, air, cargo_only, fully)
    assert result.marks == marks
    assert result.labels == labels
    assert [(f.code, f.severity, f.field) for f in result.findings] == findings
    assert all(f.check == "dangerous_goods" and f.message.startswith(f"{f.field}: ") for f in result.findings)
    assert result.shipper_declaration is declaration
    assert [d.code for d in result.documents] == (["dangerous_goods_declaration"] if declaration else [])


def test_soc_over_limit_blocks_air_only_and_names_field_and_limit():
    result = assess_dangerous_goods(powerbank({"un_number": "UN3480", "watt_hours": 74, "state_of_charge_pct": 45}),
                                    BOOK)
    [finding] = result.findings
    assert finding.details == {"applies_to": "air"}
    assert "items[0].dangerous_goods.state_of_charge_pct: 45%" in finding.message
    assert "30%" in finding.message and "IATA" in (finding.source or "")
    assert "45% is over the 30% limit for UN3480" in (result.air_forbidden_reason or "")


def test_unknown_un_number_message():
    [finding] = assess_dangerous_goods(powerbank({"un_number": "UN1266"}), BOOK).findings
    assert finding.message == ("items[0].dangerous_goods.un_number: UN1266 is not in Tradelane's dangerous-goods table "
                               "(lithium batteries UN3480, UN3481, UN3090, UN3091) on 2026-12-03; needs a DG "
                               "specialist")


@pytest.mark.parametrize("declared", ["965", "PI965", "PI 965", "965 Section II", "PI 965 IB"])
def test_packing_instruction_spellings_are_accepted(declared):
    request = powerbank({"un_number": "UN3480", "packing_instruction": declared, "watt_hours": 74,
                         "state_of_charge_pct": 30})
    assert assess_dangerous_goods(request, BOOK).findings == []


def test_powerbank_example_is_cargo_aircraft_only():
    dg = assess_dangerous_goods(example("lithium-powerbank-cn-us.json"), BOOK)
    assert (dg.passenger_aircraft_forbidden, dg.air_forbidden, dg.cargo_aircraft_only) == (True, False, True)
    assert dg.findings == []


def test_laptop_example_flies_on_passenger_aircraft_with_the_mark():
    dg = assess_dangerous_goods(example("high-value-us-jp.json"), BOOK)
    assert (dg.passenger_aircraft_forbidden, dg.cargo_aircraft_only, dg.fully_regulated) == (False, False, False)
    assert dg.marks == [f"{MARK} (UN3481)"] and dg.labels == []
    assert leg_allowed(dg, Mode.AIR_FREIGHT, Aircraft.PASSENGER) is None


def test_no_dangerous_goods_gives_an_empty_assessment():
    dg = assess_dangerous_goods(example("basic-cn-de.json"), BOOK)
    assert not (dg.passenger_aircraft_forbidden or dg.air_forbidden or dg.cargo_aircraft_only or dg.fully_regulated)
    assert dg.findings == dg.marks == dg.labels == dg.documents == dg.reasons == []


def test_findings_name_the_item_they_concern():
    body = load_example("lithium-powerbank-cn-us.json")
    laptop = load_example("high-value-us-jp.json")["items"][0]
    body["items"] = [laptop, {**body["items"][0], "dangerous_goods": {"un_number": "UN3480", "watt_hours": 74,
                                                                      "state_of_charge_pct": 40}}]
    dg = assess_dangerous_goods(ShipmentRequest.model_validate(body), BOOK)
    assert [f.field for f in dg.findings] == ["items[1].dangerous_goods.state_of_charge_pct"]
    assert dg.marks == [f"{MARK} (UN3480, UN3481)"]
    assert dg.labels == [CLASS_9, CAO]


# ---- leg_allowed ----

POWERBANK = "lithium-powerbank-cn-us.json"
LEGS = {
    "powerbank-air-freight-passenger-refused": (POWERBANK, Mode.AIR_FREIGHT, Aircraft.PASSENGER,
                                                "UN3480 (Li-ion batteries alone) is forbidden on passenger aircraft "
                                                "since 2016-04-01 (IATA"),
    "powerbank-air-express-cargo-allowed": (POWERBANK, Mode.AIR_EXPRESS, Aircraft.CARGO, None),
    "powerbank-ocean-lcl-allowed": (POWERBANK, Mode.OCEAN_LCL, None, None),
    "powerbank-road-allowed": (POWERBANK, Mode.ROAD, None, None),
    "powerbank-rail-allowed": (POWERBANK, Mode.RAIL, None, None),
    "powerbank-air-unknown-aircraft-refused": (POWERBANK, Mode.AIR_EXPRESS, None, "aircraft type unknown"),
    "laptop-air-freight-passenger-allowed": ("high-value-us-jp.json", Mode.AIR_FREIGHT, Aircraft.PASSENGER, None),
    "no-dg-air-unknown-aircraft-allowed": ("basic-cn-de.json", Mode.AIR_FREIGHT, None, None),
}


@pytest.mark.parametrize("case", LEGS.values(), ids=LEGS.keys())
def test_leg_allowed(case):
    name, mode, aircraft, expected = case
    reason = leg_allowed(assess_dangerous_goods(example(name), BOOK), mode, aircraft)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason


@pytest.mark.parametrize("mode, aircraft, refused", [
    (Mode.AIR_EXPRESS, Aircraft.CARGO, True), (Mode.AIR_FREIGHT, Aircraft.PASSENGER, True),
    (Mode.OCEAN_FCL, None, False), (Mode.ROAD, None, False),
], ids=["un3480-soc-over-30-no-cargo-aircraft", "un3480-soc-over-30-no-passenger-aircraft",
        "un3480-soc-over-30-by-sea", "un3480-soc-over-30-by-road"])
def test_soc_over_30_rules_out_every_aircraft(mode, aircraft, refused):
    dg = assess_dangerous_goods(powerbank({"un_number": "UN3480", "watt_hours": 74, "state_of_charge_pct": 80}),
                                BOOK)
    reason = leg_allowed(dg, mode, aircraft)
    assert (reason is not None) is refused
    if refused:
        assert "80% is over the 30% limit" in reason


def test_assessment_survives_serialisation_for_leg_allowed():
    dg = assess_dangerous_goods(example(POWERBANK), BOOK)
    copy = type(dg).model_validate_json(dg.model_dump_json())
    assert leg_allowed(copy, Mode.AIR_FREIGHT, Aircraft.PASSENGER) == leg_allowed(dg, Mode.AIR_FREIGHT,
                                                                                  Aircraft.PASSENGER)


# ---- invariants ----

@settings(max_examples=150, deadline=None)
@given(un=st.sampled_from(["UN3480", "UN3481", "UN3090", "UN3091"]),
       wh=st.none() | st.floats(min_value=0, max_value=500, allow_nan=False),
       soc=st.none() | st.floats(min_value=0, max_value=100, allow_nan=False))
def test_assessment_invariants(un, wh, soc):
    dg = assess_dangerous_goods(powerbank({"un_number": un, "watt_hours": wh, "state_of_charge_pct": soc}), BOOK)
    assert dg.cargo_aircraft_only == dg.passenger_aircraft_forbidden == (un in ("UN3480", "UN3090"))
    # UN3481 without a configuration is classified packed with equipment (PI 966): 30% mandatory above 2.7 Wh.
    soc_limited = un == "UN3480" or (un == "UN3481" and (wh is None or wh > 2.7))
    assert dg.air_forbidden == (soc_limited and soc is not None and soc > 30)
    # Lithium metal without its lithium content is held and treated as fully regulated.
    assert dg.fully_regulated == (un in ("UN3090", "UN3091") or wh is None or wh > 100)
    # Every section but II asks for the Class 9 label and the declaration; standalone has no Section II since 2022.
    assert (CLASS_9 in dg.labels) == dg.shipper_declaration == (dg.fully_regulated or un in ("UN3480", "UN3090"))
    for mode in (Mode.OCEAN, Mode.OCEAN_FCL, Mode.OCEAN_LCL, Mode.RAIL, Mode.ROAD):
        assert leg_allowed(dg, mode, None) is None
    assert (leg_allowed(dg, Mode.AIR_EXPRESS, Aircraft.CARGO) is None) == (not dg.air_forbidden)
    assert (leg_allowed(dg, Mode.AIR_FREIGHT, Aircraft.PASSENGER) is None) == (
        not dg.air_forbidden and not dg.passenger_aircraft_forbidden)


# ---- the table ----

def test_every_row_loads_with_a_source():
    table = BOOK.table(DgRule)
    assert len(table) == 27
    assert all(len(row.source) >= 3 and row.valid_from and row.status for row in table)
    assert {row.un_number for row in table if row.topic is DgTopic.UN_NUMBER} == {"UN3480", "UN3481", "UN3090",
                                                                                  "UN3091"}


@pytest.mark.parametrize("un, on, passenger, pis", [
    ("UN3480", date(2016, 4, 1), False, ("965",)),
    ("UN3480", date(2016, 3, 31), True, ("965",)),
    ("UN3481", date(2026, 12, 3), True, ("966", "967")),
    ("UN3090", date(2026, 12, 3), False, ("968",)),
    ("UN3091", date(2026, 12, 3), True, ("969", "970")),
], ids=["un3480-pi965-forbidden-from-2016-04-01", "un3480-allowed-until-2016-03-31", "un3481-pi966-967",
        "un3090-pi968", "un3091-pi969-970"])
def test_un_number_rows(un, on, passenger, pis):
    row = BOOK.table(DgRule).first(on, topic=DgTopic.UN_NUMBER, un_number=un)
    assert row is not None
    assert (row.passenger_aircraft, row.packing_instructions) == (passenger, pis)


def test_statuses_follow_the_reference():
    table = BOOK.table(DgRule)
    on = date(2026, 12, 3)
    assert table.first(on, topic=DgTopic.OCEAN).status is RuleStatus.SOURCED
    assert table.first(on, topic=DgTopic.STATE_OF_CHARGE, packing_instruction="966").status is RuleStatus.VERIFY
    assert table.first(on, topic=DgTopic.STATE_OF_CHARGE, packing_instruction="965").status is RuleStatus.SOURCED
    assert table.first(on, topic=DgTopic.UN_NUMBER, un_number="UN3480").status is RuleStatus.SOURCED


def test_a_row_missing_its_topic_fields_is_refused(tmp_path):
    (tmp_path / "dangerous_goods.yaml").write_text(
        "table: dangerous_goods\nrules:\n"
        "  - {topic: un_number, un_number: UN3480, source: test source, valid_from: 2020-01-01, valid_to: null,"
        " status: sourced}\n")
    with pytest.raises(RuleDataError, match="dangerous_goods.yaml: rules.0.*needs proper_shipping_name"):
        RuleBook(tmp_path).table(DgRule)


# ---- performance ----
