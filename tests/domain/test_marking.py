"""Packaging and marking by destination: ISPM 15, US origin marking, label language, carrier limits (reference s.5)."""

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import in_country, load_example
from tradelane.decisions.marking import CarrierLimit, marking
from tradelane.decisions.models import Severity
from tradelane.enums import Packaging
from tradelane.models import ShipmentRequest
from tradelane.rules import DATA_DIR, RuleBook, RuleDataError, RuleStatus
from tradelane.rules.schemas.marking import MarkingKind, MarkingRule

BOOK = RuleBook()
ISPM_MARK = "IPPC/ISPM 15 mark (symbol, country code, producer code, treatment HT/MB) on two opposite sides"


def build(example: str, changes: dict[str, Any] | None = None) -> ShipmentRequest:
    """An example request with changes at dotted paths, e.g. `{"parcels.1.ispm15_marked": False}`."""
    body = load_example(example)
    for path, value in (changes or {}).items():
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    for party in ("origin", "destination"):
        if f"{party}.country" in (changes or {}) and f"{party}.postal_code" not in (changes or {}):
            body[party] = in_country({**body[party], "country": load_example(example)[party]["country"]},
                                     body[party]["country"])
    return ShipmentRequest.model_validate(body)


def codes(result) -> list[tuple[str, str | None]]:
    return [(f.code, f.field) for f in result.violations]


# ---- rule data ----


def test_every_marking_row_loads_with_a_source():
    table = BOOK.table(MarkingRule)
    assert len(table) == 44
    assert all(len(row.source) >= 3 for row in table)
    raw = yaml.safe_load((DATA_DIR / "marking_rules.yaml").read_text())
    # No defaults carry a source: each row names its own.
    assert "source" not in raw["defaults"] and all("source" in row for row in raw["rules"])


@pytest.mark.parametrize(("kind", "country", "region", "status"), [
    (MarkingKind.ISPM15, "AU", None, RuleStatus.SOURCED),  # BICON (issue 21 audit)
    (MarkingKind.ISPM15, "DE", None, RuleStatus.SOURCED),  # Implementing Regulation (EU) 2019/2072
    (MarkingKind.ORIGIN_MARKING, "US", None, RuleStatus.SOURCED),
    (MarkingKind.LABEL_LANGUAGE, "CA", "QC", RuleStatus.SOURCED),
    (MarkingKind.LABEL_LANGUAGE, "CA", None, RuleStatus.GENERAL),
    (MarkingKind.LABEL_LANGUAGE, "DE", None, RuleStatus.GENERAL),
], ids=["ispm15-au-sourced", "ispm15-eu-sourced", "us-19cfr134-sourced", "quebec-bill96-sourced",
        "canada-bilingual-general", "main-language-general"])
def test_rows_carry_the_reference_status(kind, country, region, status):
    rows = [r for r in BOOK.table(MarkingRule).where(date(2026, 12, 1))
            if r.kind is kind and country in r.countries and r.region == region]
    assert len(rows) == 1 and rows[0].status is status


def test_ispm15_major_markets_enforce():
    enforcing = {c for r in BOOK.table(MarkingRule) if r.kind is MarkingKind.ISPM15 for c in r.countries}
    assert {"AU", "NZ", "US", "CA", "CN", "JP", "GB", "DE", "FR", "NL", "PL"} <= enforcing


def test_only_solid_wood_counts_and_plywood_is_no_packaging_value():
    # Processed wood (plywood, OSB) is ISPM 15 exempt; the Packaging enum has no such value to mislabel.
    assert not any(word in p.value for p in Packaging for word in ("plywood", "osb", "processed"))
    for row in BOOK.table(MarkingRule):
        if row.kind is MarkingKind.ISPM15:
            assert set(row.applies_to) == {Packaging.WOOD_PALLET, Packaging.WOOD_CRATE}
            assert row.min_thickness_mm == 6


def _write_table(directory: Path, rows: list[dict[str, Any]]) -> RuleBook:
    document = {"table": "marking_rules", "defaults": {"valid_to": None, "status": "sample"}, "rules": rows}
    (directory / "marking_rules.yaml").write_text(yaml.safe_dump(document))
    return RuleBook(directory)


def test_overlapping_rows_for_one_country_are_refused(tmp_path):
    row = {"kind": "label_language", "languages": ["de"], "requirement": "German text", "source": "test"}
    book = _write_table(tmp_path, [
        {**row, "countries": ["DE", "AT"], "valid_from": "2020-01-01"},
        {**row, "countries": ["DE"], "valid_from": "2024-01-01"},
    ])
    with pytest.raises(RuleDataError, match=r"marking_rules: rows for DE .* overlap"):
        marking(build("basic-cn-de.json"), book)


def test_a_label_row_without_languages_is_refused(tmp_path):
    book = _write_table(tmp_path, [{"kind": "label_language", "countries": ["DE"], "requirement": "German text",
                                    "source": "test", "valid_from": "2020-01-01"}])
    with pytest.raises(RuleDataError, match="needs languages"):
        marking(build("basic-cn-de.json"), book)


# ---- ISPM 15 ----

ISPM_CASES = [
    ("pallet-cn-au.json", {}, [0, 1], []),
    ("pallet-cn-au.json", {"parcels.1.ispm15_marked": False}, [0, 1], [1]),
    ("pallet-cn-au.json", {"parcels.0.ispm15_marked": None}, [0, 1], [0]),
    ("pallet-cn-au.json", {"parcels.0.packaging": "wood_crate", "parcels.0.ispm15_marked": False,
                           "parcels.1.ispm15_marked": False}, [0, 1], [0, 1]),
    ("pallet-cn-au.json", {"parcels.0.packaging": "plastic_pallet", "parcels.0.ispm15_marked": False,
                           "parcels.1.packaging": "carton", "parcels.1.ispm15_marked": False}, [], []),
    ("pallet-cn-au.json", {"destination.country": "NZ", "parcels.1.ispm15_marked": False}, [0, 1], [1]),
    ("pallet-cn-au.json", {"destination.country": "DE", "parcels.1.ispm15_marked": False}, [0, 1], [1]),
    ("pallet-cn-au.json", {"destination.country": "JP", "parcels.1.ispm15_marked": False}, [0, 1], [1]),
    ("pallet-cn-au.json", {"origin.country": "DE", "destination.country": "FR", "parcels.1.ispm15_marked": False},
     [], []),
    ("pallet-cn-au.json", {"origin.country": "CA", "destination.country": "US", "parcels.1.ispm15_marked": False},
     [], []),
    ("pallet-cn-au.json", {"origin.country": "AU", "parcels.1.ispm15_marked": False}, [], []),
    ("pallet-cn-au.json", {"destination.country": "AR", "parcels.1.ispm15_marked": False}, [], []),
]


@pytest.mark.parametrize(("example", "changes", "marked", "held"), ISPM_CASES, ids=[
    "ispm15-pallet-cn-au-marked-passes",
    "ispm15-unmarked-pallet-holds-parcels[1]",
    "ispm15-not-stated-holds",
    "ispm15-wood-crate-counts-as-solid-wood",
    "ispm15-plastic-pallet-and-carton-are-not-wood",
    "ispm15-nz-enforces",
    "ispm15-eu-enforces-on-entry",
    "ispm15-jp-enforces",
    "ispm15-intra-eu-exempt",
    "ispm15-us-canada-mutual-exemption",
    "ispm15-domestic-not-covered",
    "ispm15-destination-without-rule-not-checked",
])
def test_ispm15(example, changes, marked, held):
    result = marking(build(example, changes), BOOK)
    assert [m for m in result.marks if "ISPM 15" in m] == [f"parcels[{i}]: {ISPM_MARK}" for i in marked]
    assert codes(result) == [("ISPM15_MARK_MISSING", f"parcels[{i}].ispm15_marked") for i in held]
    assert all(f.severity is Severity.HOLD and f.check == "packaging" and "ISPM 15" in f.source
               for f in result.violations)


def test_ispm15_violation_names_the_parcel_and_the_rule():
    result = marking(build("pallet-cn-au.json", {"parcels.1.ispm15_marked": False}), BOOK)
    [finding] = result.violations
    assert finding.message.startswith("parcels[1].ispm15_marked: wood_pallet going to AU")
    assert finding.source == ("IPPC ISPM 15 (Annex 1 treatments, Annex 2 mark); Australia: Biosecurity Act 2015, BICON "
                              "import conditions for timber packaging and dunnage")
    assert any("ISPM 15 (AU)" in r and "plywood" in r for r in result.reasons)


def test_ispm15_without_a_rule_says_so():
    result = marking(build("pallet-cn-au.json", {"destination.country": "AR"}), BOOK)
    assert any("no rule for AR" in r and "parcels[0], parcels[1]" in r for r in result.reasons)


# ---- US origin marking (19 CFR 134) ----

ORIGIN_MARK = ("items[0] (PB-20000): 'Made in China': country of origin in English, marked legibly and permanently "
               "on each article")


@pytest.mark.parametrize(("changes", "marks", "held"), [
    ({}, [ORIGIN_MARK], []),
    ({"items.0.origin_marked": True}, [ORIGIN_MARK], []),
    ({"items.0.origin_marked": False}, [ORIGIN_MARK], ["items[0].origin_marked"]),
    ({"items.0.origin_country": "KR", "items.0.origin_marked": False},
     [ORIGIN_MARK.replace("China", "South Korea")], ["items[0].origin_marked"]),
    ({"items.0.origin_country": "US", "items.0.origin_marked": False}, [], []),
    ({"destination.country": "DE", "items.0.origin_marked": False}, [], []),
], ids=["us-origin-mark-listed-when-not-stated", "us-origin-marked", "us-origin-marking-missing-10pct-duty",
        "us-origin-english-common-name", "us-goods-into-us-need-no-origin-mark", "de-no-origin-marking-rule"])
def test_us_origin_marking(changes, marks, held):
    result = marking(build("lithium-powerbank-cn-us.json", changes), BOOK)
    assert [m for m in result.marks if "Made in" in m] == marks
    assert [f.field for f in result.violations] == held
    for finding in result.violations:
        assert (finding.code, finding.check, finding.severity) == ("ORIGIN_MARKING_MISSING", "marking", Severity.HOLD)
        assert "10% marking duty" in finding.message and "19 CFR 134" in finding.source


def test_us_origin_rule_is_explained():
    result = marking(build("lithium-powerbank-cn-us.json"), BOOK)
    assert any(r.startswith("Origin marking (US)") and "10% marking duty" in r and "19 CFR 134" in r
               for r in result.reasons)
    assert any("not stated for items[0]" in r for r in result.reasons)


# ---- label language ----

LANGUAGE_CASES = [
    # (destination, region, locale, ship date, item languages, expected language, missing languages or None)
    ("CA", "QC", None, "2025-06-01", ["en"], "fr", "fr"),
    ("CA", "QC", None, "2026-12-01", ["fr", "en"], "fr", None),
    ("CA", "QC", None, "2026-12-01", ["fr"], "fr", "en"),
    ("CA", "Québec", None, "2026-12-01", ["en"], "fr", "fr"),
    ("CA", "CA-QC", None, "2026-12-01", None, "fr", None),
    ("CA", "QC", None, "2025-05-31", ["en"], "fr", "fr"),
    ("CA", "QC", None, "2025-05-31", ["en", "fr"], "fr", None),
    ("CA", "ON", None, "2026-12-01", ["en"], "en", "fr"),
    ("US", None, None, "2026-12-01", ["en"], "en", None),
    ("DE", None, None, "2026-12-01", ["en"], "de", "de"),
    ("JP", None, None, "2026-12-01", None, "ja", None),
    ("BE", None, None, "2026-12-01", ["fr"], "nl", None),
    ("BE", None, None, "2026-12-01", ["en"], "nl", "nl,fr,de"),
    ("AR", None, "es-AR", "2026-12-01", ["en"], "es", None),
    ("AR", None, None, "2026-12-01", None, "en", None),
]


@pytest.mark.parametrize(("country", "region", "locale", "ship_date", "languages", "expected", "missing"),
                         LANGUAGE_CASES, ids=[
    "quebec-bill96-french-from-2025-06-01",
    "quebec-bill96-french-and-english-pass",
    "quebec-french-only-misses-federal-english",
    "quebec-spelled-out-with-accent",
    "quebec-iso-3166-2-code-label-listed",
    "quebec-charter-french-before-bill96",
    "quebec-before-bill96-bilingual-passes",
    "canada-federal-bilingual-ontario",
    "us-english",
    "germany-german",
    "japan-japanese",
    "belgium-any-official-language",
    "belgium-none-of-its-languages",
    "no-rule-falls-back-to-locale",
    "no-rule-no-locale-english",
])
def test_label_language(country, region, locale, ship_date, languages, expected, missing):
    request = build("basic-cn-de.json", {
        "destination.country": country, "destination.region": region, "destination.locale": locale,
        "ship_date": ship_date, "items.0.label_languages": languages,
    })
    result = marking(request, BOOK)
    assert result.label_language == expected
    held = [f for f in result.violations if f.code == "LABEL_LANGUAGE_MISSING"]
    if missing is None:
        assert held == []
    else:
        [finding] = held
        assert (finding.field, finding.check, finding.severity) == ("items[0].label_languages", "marking",
                                                                    Severity.HOLD)
        assert finding.details["missing"] == missing
    # Items without stated languages get the requirement, never a violation.
    assert result.labels[1].startswith("items[1] (CABLE-USBC-2M): product text and labels in ")


def test_quebec_rule_cites_bill96_and_the_federal_rule():
    request = build("basic-cn-de.json", {"destination.country": "CA", "destination.region": "QC",
                                          "items.0.label_languages": ["en"]})
    result = marking(request, BOOK)
    [finding] = result.violations
    assert "Bill 96" in finding.source and "Consumer Packaging and Labelling Act" in finding.source
    assert result.labels[0] == "items[0] (CASE-IP15-BLK): product text and labels in French and English (fr, en)"


def test_before_bill96_the_charter_of_the_french_language_applies():
    # Issue 21 audit: French on products is required in Quebec since the Charter (1977); Bill 96 only narrowed the
    # trademark exception from 2025-06-01. Before, Quebec had no French rule before that day.
    request = build("basic-cn-de.json", {"destination.country": "CA", "destination.region": "QC",
                                          "ship_date": "2025-05-31", "items.0.label_languages": ["en"]})
    result = marking(request, BOOK)
    [finding] = result.violations
    assert "Charter of the French Language (CQLR c C-11), s. 51" in finding.source
    assert "Bill 96" not in finding.source and "Consumer Packaging and Labelling Act" in finding.source


# ---- carrier limits ----

DHL = CarrierLimit(partner="dhl_express", max_parcel_kg=70, max_parcel_length_cm=120)


@pytest.mark.parametrize(("parcel", "limits", "expected"), [
    ({"weight_kg": 75}, [DHL], [("PARCEL_OVER_WEIGHT_LIMIT", "parcels[0].weight_kg")]),
    ({"weight_kg": 70}, [DHL], []),
    ({"width_cm": 130}, [DHL], [("PARCEL_OVER_LENGTH_LIMIT", "parcels[0].width_cm")]),
    ({"weight_kg": 75, "length_cm": 121}, [DHL],
     [("PARCEL_OVER_WEIGHT_LIMIT", "parcels[0].weight_kg"), ("PARCEL_OVER_LENGTH_LIMIT", "parcels[0].length_cm")]),
    ({"weight_kg": 75, "length_cm": 500}, [CarrierLimit(partner="bluewave")], []),
    ({"weight_kg": 75}, [DHL, CarrierLimit(partner="aerocargo", max_parcel_kg=300)],
     [("PARCEL_OVER_WEIGHT_LIMIT", "parcels[0].weight_kg")]),
    ({"weight_kg": 75}, [], []),
], ids=["carrier-weight-75kg-over-70kg", "carrier-weight-at-limit-ok", "carrier-longest-side-over-limit",
        "carrier-weight-and-length", "carrier-without-limits", "carrier-only-the-exceeded-one", "no-carrier-limits"])
def test_carrier_limits(parcel, limits, expected):
    changes = {f"parcels.0.{k}": v for k, v in parcel.items()}
    result = marking(build("basic-cn-de.json", changes), BOOK, carrier_limits=limits)
    assert codes(result) == expected
    assert all(f.severity is Severity.HOLD and f.check == "packaging" for f in result.violations)


def test_carrier_limit_message_names_partner_limit_and_value():
    result = marking(build("basic-cn-de.json", {"parcels.0.weight_kg": 75}), BOOK, carrier_limits=[DHL])
    [finding] = result.violations
    assert finding.message == "parcels[0].weight_kg: 75 kg is above dhl_express's limit of 70 kg"
    assert finding.details == {"partner": "dhl_express", "limit_kg": "70", "value_kg": "75"}


# ---- dangerous-goods marks ----


def test_dg_marks_and_labels_merge_deduplicated_in_order():
    result = marking(
        build("lithium-powerbank-cn-us.json"), BOOK,
        dg_marks=["UN3480 lithium ion batteries", ORIGIN_MARK, "UN3480 lithium ion batteries"],
        dg_labels=["Class 9 lithium battery hazard label", "Cargo Aircraft Only",
                   "Class 9 lithium battery hazard label"],
    )
    assert result.marks == [ORIGIN_MARK, "UN3480 lithium ion batteries"]
    assert result.labels == ["items[0] (PB-20000): product text and labels in English (en)",
                             "Class 9 lithium battery hazard label", "Cargo Aircraft Only"]


# ---- properties ----

parcels = st.lists(
    st.fixed_dictionaries({
        "weight_kg": st.floats(min_value=1, max_value=1000), "length_cm": st.just(100.0),
        "width_cm": st.just(80.0), "height_cm": st.just(100.0),
        "packaging": st.sampled_from([p.value for p in Packaging]),
        "ispm15_marked": st.sampled_from([True, False, None]),
    }),
    min_size=1, max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(parcels, st.sampled_from(["AU", "US", "DE", "JP"]))
def test_one_ispm15_hold_per_unmarked_solid_wood_parcel(parcel_rows, destination):
    body = load_example("pallet-cn-au.json")
    body.update(parcels=parcel_rows)
    body["destination"] = in_country(body["destination"], destination)
    result = marking(ShipmentRequest.model_validate(body), BOOK)
    solid = [i for i, p in enumerate(parcel_rows) if p["packaging"] in ("wood_pallet", "wood_crate")]
    unmarked = [i for i in solid if parcel_rows[i]["ispm15_marked"] is not True]
    assert [f.field for f in result.violations] == [f"parcels[{i}].ispm15_marked" for i in unmarked]
    assert [m for m in result.marks if "ISPM 15" in m] == [f"parcels[{i}]: {ISPM_MARK}" for i in solid]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["UN3480 mark", "Lithium battery mark", ORIGIN_MARK]), max_size=6))
def test_every_dg_mark_appears_exactly_once(dg_marks):
    result = marking(build("lithium-powerbank-cn-us.json"), BOOK, dg_marks=dg_marks)
    assert all(result.marks.count(m) == 1 for m in dg_marks)
    assert result.marks[0] == ORIGIN_MARK


# ---- speed ----
