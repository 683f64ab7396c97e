"""Lithium batteries as IATA DGR 67th edition (2026) writes them: packing instructions 965-970, their sections,
Wh and lithium limits per cell and battery, counts per package, state of charge, labels, marks and declarations.

Each case is named after the rule it checks; date cases give the day before and the day of the change, limit cases
the exact threshold and the step past it.
"""

from typing import Any

import pytest
from pydantic import ValidationError

from tests.support import load_example
from tradelane.decisions.dangerous_goods import assess_dangerous_goods, leg_allowed
from tradelane.decisions.models import Severity
from tradelane.enums import Aircraft, Mode
from tradelane.models import ShipmentRequest
from tradelane.rules import default_book

BOOK = default_book()
MARK = "Lithium battery mark"
CLASS_9 = "Class 9 lithium battery hazard label"
CAO = "Cargo Aircraft Only"
DECLARATION = "dangerous_goods_declaration"


def shipment(dg: dict[str, Any], ship_date: str = "2026-12-03", parcels: int = 1) -> ShipmentRequest:
    """The power-bank example with its item's dangerous goods replaced."""
    body = load_example("lithium-powerbank-cn-us.json")
    body["items"][0]["dangerous_goods"] = dg
    body["ship_date"] = ship_date
    body["parcels"] = body["parcels"] * parcels
    return ShipmentRequest.model_validate(body)


def ion(wh: float | None, **more: Any) -> dict[str, Any]:
    return {"un_number": "UN3480", "watt_hours": wh, "state_of_charge_pct": 30, **more}


def metal(grams: float | None, un: str = "UN3090", **more: Any) -> dict[str, Any]:
    return {"un_number": un, "lithium_content_g": grams, **more}


# (dangerous_goods, ship date, parcels) -> (packing instruction, section, labels, marks, declaration, CAO)
SECTIONS = {
    # PI 965: Section II for standalone lithium ion ended on 2022-04-01 (DGR 63rd edition).
    "pi965-section-ii-2-batteries-until-2022-03-31": (
        (ion(74, batteries_per_package=2), "2022-03-31", 1), ("965", "II", [CAO], [MARK], False, True)),
    "pi965-section-ii-removed-section-ib-from-2022-04-01": (
        (ion(74, batteries_per_package=2), "2022-04-01", 1), ("965", "IB", [CLASS_9, CAO], [MARK], True, True)),
    "pi965-section-ii-3-batteries-over-table-965-ii-is-ib": (
        (ion(74, batteries_per_package=3), "2022-03-31", 1), ("965", "IB", [CLASS_9, CAO], [MARK], True, True)),
    "pi965-section-ii-8-cells-of-20-wh-until-2022-03-31": (
        (ion(20, cells_per_package=8), "2022-03-31", 1), ("965", "II", [CAO], [MARK], False, True)),
    "pi965-section-ii-9-cells-over-8-is-ib": (
        (ion(20, cells_per_package=9), "2022-03-31", 1), ("965", "IB", [CLASS_9, CAO], [MARK], True, True)),
    "pi965-section-ii-2.7-wh-no-count-limit": (
        (ion(2.7, batteries_per_package=500), "2022-03-31", 1), ("965", "II", [CAO], [MARK], False, True)),
    "pi965-section-ib-100-wh-battery-2026": (
        (ion(100), "2026-12-03", 1), ("965", "IB", [CLASS_9, CAO], [MARK], True, True)),
    "pi965-section-ia-battery-over-100-wh": (
        (ion(100.01), "2026-12-03", 1), ("965", "IA", [CLASS_9, CAO], [], True, True)),
    "pi965-section-ib-cell-20-wh": (
        (ion(20, cells_per_package=10), "2026-12-03", 1), ("965", "IB", [CLASS_9, CAO], [MARK], True, True)),
    "pi965-section-ia-cell-over-20-wh": (
        (ion(20.01, cells_per_package=10), "2026-12-03", 1), ("965", "IA", [CLASS_9, CAO], [], True, True)),
    "pi965-section-ia-battery-with-a-cell-over-20-wh": (
        (ion(60, cell_watt_hours=30), "2026-12-03", 1), ("965", "IA", [CLASS_9, CAO], [], True, True)),
    # PI 968: lithium metal alone, 1 g per cell and 2 g per battery.
    "pi968-section-ii-until-2022-03-31": (
        (metal(2, batteries_per_package=2), "2022-03-31", 1), ("968", "II", [CAO], [MARK], False, True)),
    "pi968-section-ii-removed-section-ib-from-2022-04-01": (
        (metal(2, batteries_per_package=2), "2022-04-01", 1), ("968", "IB", [CLASS_9, CAO], [MARK], True, True)),
    "pi968-section-ib-2-g-battery": (
        (metal(2), "2026-12-03", 1), ("968", "IB", [CLASS_9, CAO], [MARK], True, True)),
    "pi968-section-ia-battery-over-2-g": (
        (metal(2.01), "2026-12-03", 1), ("968", "IA", [CLASS_9, CAO], [], True, True)),
    "pi968-section-ib-1-g-cell": (
        (metal(1, cells_per_package=20), "2026-12-03", 1), ("968", "IB", [CLASS_9, CAO], [MARK], True, True)),
    "pi968-section-ia-cell-over-1-g": (
        (metal(1.01, cells_per_package=20), "2026-12-03", 1), ("968", "IA", [CLASS_9, CAO], [], True, True)),
    "pi968-section-ia-battery-with-a-cell-over-1-g": (
        (metal(1.5, cell_lithium_content_g=1.5), "2026-12-03", 1), ("968", "IA", [CLASS_9, CAO], [], True, True)),
    # PI 966 / 967: lithium ion with equipment, Section II up to 20 Wh per cell and 100 Wh per battery.
    "pi966-section-ii-100-wh-packed-with": (
        ({"un_number": "UN3481", "packing_configuration": "packed_with_equipment", "watt_hours": 100,
          "state_of_charge_pct": 30}, "2026-12-03", 1), ("966", "II", [], [MARK], False, False)),
    "pi966-section-i-over-100-wh-packed-with": (
        ({"un_number": "UN3481", "packing_configuration": "packed_with_equipment", "watt_hours": 100.01,
          "state_of_charge_pct": 30}, "2026-12-03", 1), ("966", "I", [CLASS_9], [], True, False)),
    "pi967-section-ii-mark-for-3-batteries": (
        ({"un_number": "UN3481", "packing_configuration": "contained_in_equipment", "watt_hours": 72,
          "batteries_per_package": 3}, "2026-12-03", 1), ("967", "II", [], [MARK], False, False)),
    "pi967-section-ii-no-mark-2-batteries-2-packages": (
        ({"un_number": "UN3481", "packing_configuration": "contained_in_equipment", "watt_hours": 72,
          "batteries_per_package": 2}, "2026-12-03", 2), ("967", "II", [], [], False, False)),
    "pi967-section-ii-mark-2-batteries-3-packages": (
        ({"un_number": "UN3481", "packing_configuration": "contained_in_equipment", "watt_hours": 72,
          "batteries_per_package": 2}, "2026-12-03", 3), ("967", "II", [], [MARK], False, False)),
    "pi967-section-ii-no-mark-4-cells": (
        ({"un_number": "UN3481", "packing_instruction": "967", "watt_hours": 10, "cells_per_package": 4},
         "2026-12-03", 1), ("967", "II", [], [], False, False)),
    "pi967-section-ii-mark-5-cells": (
        ({"un_number": "UN3481", "packing_instruction": "967", "watt_hours": 10, "cells_per_package": 5},
         "2026-12-03", 1), ("967", "II", [], [MARK], False, False)),
    "pi967-section-i-over-100-wh": (
        ({"un_number": "UN3481", "packing_instruction": "967", "watt_hours": 101}, "2026-12-03", 1),
        ("967", "I", [CLASS_9], [], True, False)),
    # PI 969 / 970: lithium metal with equipment.
    "pi969-section-ii-2-g-packed-with": (
        (metal(2, "UN3091", packing_configuration="packed_with_equipment"), "2026-12-03", 1),
        ("969", "II", [], [MARK], False, False)),
    "pi969-section-i-over-2-g-packed-with": (
        (metal(2.01, "UN3091", packing_configuration="packed_with_equipment"), "2026-12-03", 1),
        ("969", "I", [CLASS_9], [], True, False)),
    "pi970-section-ii-no-mark-2-batteries": (
        (metal(0.5, "UN3091", packing_instruction="970", batteries_per_package=2), "2026-12-03", 1),
        ("970", "II", [], [], False, False)),
    "pi970-section-i-cell-over-1-g": (
        (metal(1.01, "UN3091", packing_instruction="970", cells_per_package=1), "2026-12-03", 1),
        ("970", "I", [CLASS_9], [], True, False)),
}


@pytest.mark.parametrize("case", SECTIONS.values(), ids=SECTIONS.keys())
def test_packing_instruction_section(case):
    (dg, ship_date, parcels), (pi, section, labels, marks, declaration, cao) = case
    result = assess_dangerous_goods(shipment(dg, ship_date, parcels), BOOK)
    [item] = result.items
    assert (item.packing_instruction, item.section) == (pi, section)
    assert result.labels == labels
    assert result.marks == [f"{mark} ({item.un_number})" for mark in marks]
    assert result.shipper_declaration is declaration
    assert [d.code for d in result.documents] == ([DECLARATION] if declaration else [])
    assert result.cargo_aircraft_only is cao
    assert [f for f in result.findings if f.severity in (Severity.HOLD, Severity.BLOCK)] == []


# (dangerous goods, ship date) -> (finding code or None, severity, air forbidden)
STATE_OF_CHARGE = {
    "pi965-soc-30-is-the-limit": ((ion(74) | {"state_of_charge_pct": 30}, "2026-12-03"), (None, None, False)),
    "pi965-soc-over-30-forbidden-by-air": (
        (ion(74) | {"state_of_charge_pct": 30.5}, "2026-12-03"),
        ("DG_STATE_OF_CHARGE_OVER_LIMIT", Severity.BLOCK, True)),
    "pi966-soc-over-30-recommended-only-2025-12-31": (
        ({"un_number": "UN3481", "packing_instruction": "966", "watt_hours": 50, "state_of_charge_pct": 60},
         "2025-12-31"), ("DG_STATE_OF_CHARGE_ABOVE_RECOMMENDED", Severity.INFO, False)),
    "pi966-soc-over-30-forbidden-by-air-from-2026-01-01": (
        ({"un_number": "UN3481", "packing_instruction": "966", "watt_hours": 50, "state_of_charge_pct": 60},
         "2026-01-01"), ("DG_STATE_OF_CHARGE_OVER_LIMIT", Severity.BLOCK, True)),
    "pi966-soc-rule-not-before-2025-01-01": (
        ({"un_number": "UN3481", "packing_instruction": "966", "watt_hours": 50, "state_of_charge_pct": 60},
         "2024-12-31"), (None, None, False)),
    "pi966-soc-30-kept-2026": (
        ({"un_number": "UN3481", "packing_instruction": "966", "watt_hours": 50, "state_of_charge_pct": 30},
         "2026-01-01"), (None, None, False)),
    "pi966-soc-undeclared-hold-2026": (
        ({"un_number": "UN3481", "packing_instruction": "966", "watt_hours": 50}, "2026-01-01"),
        ("DG_STATE_OF_CHARGE_MISSING", Severity.HOLD, False)),
    "pi966-soc-2.7-wh-battery-exempt": (
        ({"un_number": "UN3481", "packing_instruction": "966", "watt_hours": 2.7, "state_of_charge_pct": 90},
         "2026-01-01"), (None, None, False)),
    "pi966-soc-applies-above-2.7-wh": (
        ({"un_number": "UN3481", "packing_instruction": "966", "watt_hours": 2.71, "state_of_charge_pct": 90},
         "2026-01-01"), ("DG_STATE_OF_CHARGE_OVER_LIMIT", Severity.BLOCK, True)),
    "pi967-soc-over-30-recommended-only-2026": (
        ({"un_number": "UN3481", "packing_instruction": "967", "watt_hours": 50, "state_of_charge_pct": 60},
         "2026-12-03"), ("DG_STATE_OF_CHARGE_ABOVE_RECOMMENDED", Severity.INFO, False)),
    "pi967-soc-undeclared-no-finding": (
        ({"un_number": "UN3481", "packing_instruction": "967", "watt_hours": 50}, "2026-12-03"), (None, None, False)),
}


@pytest.mark.parametrize("case", STATE_OF_CHARGE.values(), ids=STATE_OF_CHARGE.keys())
def test_state_of_charge(case):
    (dg, ship_date), (code, severity, air) = case
    result = assess_dangerous_goods(shipment(dg, ship_date), BOOK)
    soc = [(f.code, f.severity) for f in result.findings if f.field.endswith("state_of_charge_pct")]
    assert soc == ([] if code is None else [(code, severity)])
    assert result.air_forbidden is air


def test_pi966_soc_over_limit_names_the_configuration_and_instruction():
    dg = {"un_number": "UN3481", "packing_instruction": "966", "watt_hours": 50, "state_of_charge_pct": 45}
    result = assess_dangerous_goods(shipment(dg), BOOK)
    assert "45% is over the 30% limit for UN3481 packed with equipment (PI 966) by air" in (
        result.air_forbidden_reason or "")


MISSING = {
    "un3090-lithium-content-undeclared-hold": (
        metal(None), [("DG_LITHIUM_CONTENT_MISSING", Severity.HOLD, "items[0].dangerous_goods.lithium_content_g")],
        "IA"),
    "un3481-configuration-undeclared-stricter-pi966": (
        {"un_number": "UN3481", "watt_hours": 50, "state_of_charge_pct": 30},
        [("DG_PACKING_CONFIGURATION_UNDECLARED", Severity.INFO, "items[0].dangerous_goods.packing_configuration")],
        "II"),
    "un3480-configuration-packed-with-mismatch-hold": (
        ion(74, packing_configuration="packed_with_equipment"),
        [("DG_PACKING_CONFIGURATION_MISMATCH", Severity.HOLD, "items[0].dangerous_goods.packing_configuration")],
        "IB"),
    "un3481-pi966-declared-but-contained-in-hold": (
        {"un_number": "UN3481", "packing_instruction": "966", "packing_configuration": "contained_in_equipment",
         "watt_hours": 50},
        [("DG_PACKING_INSTRUCTION_MISMATCH", Severity.HOLD, "items[0].dangerous_goods.packing_instruction")],
        "II"),
}


@pytest.mark.parametrize("case", MISSING.values(), ids=MISSING.keys())
def test_undeclared_or_contradicting_fields(case):
    dg, findings, section = case
    result = assess_dangerous_goods(shipment(dg), BOOK)
    assert [(f.code, f.severity, f.field) for f in result.findings] == findings
    assert result.items[0].section == section


def test_package_count_undeclared_before_2022_says_which_field_would_allow_section_ii():
    result = assess_dangerous_goods(shipment(ion(74), "2022-03-31"), BOOK)
    assert result.items[0].section == "IB"
    [finding] = result.findings
    assert (finding.code, finding.severity, finding.field) == (
        "DG_PACKAGE_COUNT_UNDECLARED", Severity.INFO, "items[0].dangerous_goods.batteries_per_package")
    assert "with at most 8 cells or 2 batteries per package" in finding.message
    assert "it would be Section II" in finding.message


def test_powerbank_example_is_pi965_section_ib_cargo_aircraft_only_with_declaration():
    """The example's 74 Wh power bank at 30%: since 2022-04-01 Section IB, no longer Section II."""
    result = assess_dangerous_goods(ShipmentRequest.model_validate(load_example("lithium-powerbank-cn-us.json")),
                                    BOOK)
    [item] = result.items
    assert (item.un_number, item.packing_instruction, item.section) == ("UN3480", "965", "IB")
    assert result.labels == [CLASS_9, CAO] and result.marks == [f"{MARK} (UN3480)"]
    assert result.shipper_declaration and result.cargo_aircraft_only and not result.fully_regulated
    assert result.findings == []


# ---- the request contract ----

FIELDS = {
    "lithium-content-negative": ({"lithium_content_g": -0.1}, "items.0.dangerous_goods.lithium_content_g"),
    "cell-lithium-content-negative": ({"cell_lithium_content_g": -1}, "items.0.dangerous_goods.cell_lithium_content_g"),
    "cell-watt-hours-negative": ({"cell_watt_hours": -1}, "items.0.dangerous_goods.cell_watt_hours"),
    "cells-per-package-negative": ({"cells_per_package": -1}, "items.0.dangerous_goods.cells_per_package"),
    "batteries-per-package-fraction": ({"batteries_per_package": 1.5},
                                       "items.0.dangerous_goods.batteries_per_package"),
    "state-of-charge-over-100": ({"state_of_charge_pct": 100.1}, "items.0.dangerous_goods.state_of_charge_pct"),
    "packing-configuration-unknown": ({"packing_configuration": "loose"},
                                      "items.0.dangerous_goods.packing_configuration"),
}


@pytest.mark.parametrize("case", FIELDS.values(), ids=FIELDS.keys())
def test_battery_fields_are_validated_naming_the_field(case):
    change, field = case
    with pytest.raises(ValidationError) as raised:
        shipment({"un_number": "UN3090", **change})
    assert [".".join(str(p) for p in e["loc"]) for e in raised.value.errors()] == [field]


def test_lithium_content_is_accepted_by_the_contract():
    request = shipment(metal(0.65, packing_configuration="standalone", cells_per_package=0, batteries_per_package=2,
                             cell_lithium_content_g=0.3))
    dg = request.items[0].dangerous_goods
    assert dg is not None
    assert (dg.lithium_content_g, dg.batteries_per_package, dg.packing_configuration) == (0.65, 2, "standalone")


# ---- by leg ----

LEGS = {
    "un3480-over-100-wh-section-ia-refused-on-passenger-aircraft": (ion(160), Mode.AIR_FREIGHT, Aircraft.PASSENGER,
                                                                   "forbidden on passenger aircraft"),
    "un3480-over-100-wh-section-ia-flies-on-cargo-aircraft": (ion(160), Mode.AIR_FREIGHT, Aircraft.CARGO, None),
    "un3090-section-ib-refused-on-passenger-aircraft": (metal(1.5), Mode.AIR_EXPRESS, Aircraft.PASSENGER,
                                                        "UN3090 (lithium metal batteries alone) is forbidden"),
    "un3481-pi966-section-i-flies-on-passenger-aircraft": (
        {"un_number": "UN3481", "packing_instruction": "966", "watt_hours": 160, "state_of_charge_pct": 30},
        Mode.AIR_FREIGHT, Aircraft.PASSENGER, None),
    "un3481-pi966-soc-over-30-2026-refused-on-cargo-aircraft": (
        {"un_number": "UN3481", "packing_instruction": "966", "watt_hours": 50, "state_of_charge_pct": 31},
        Mode.AIR_EXPRESS, Aircraft.CARGO, "31% is over the 30% limit"),
    "un3481-pi966-soc-over-30-2026-goes-by-sea": (
        {"un_number": "UN3481", "packing_instruction": "966", "watt_hours": 50, "state_of_charge_pct": 31},
        Mode.OCEAN_LCL, None, None),
}


@pytest.mark.parametrize("case", LEGS.values(), ids=LEGS.keys())
def test_leg_allowed_by_section_and_state_of_charge(case):
    dg, mode, aircraft, refused = case
    reason = leg_allowed(assess_dangerous_goods(shipment(dg), BOOK), mode, aircraft)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


def test_per_cell_limit_unchecked_is_said():
    result = assess_dangerous_goods(shipment(ion(60)), BOOK)
    assert any("items[0].dangerous_goods.cell_watt_hours is not declared" in r for r in result.reasons)
    result = assess_dangerous_goods(shipment(ion(60, cell_watt_hours=20)), BOOK)
    assert not any("per-cell limit was not checked" in r for r in result.reasons)
