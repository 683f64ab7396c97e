"""Issue 21 audit of the tables nobody had audited: each finding as a rule, on the day before and the day of a
change. Rows confirmed against their primary source state it (`status: sourced`, the source named); rows kept
`verify` say why (docs/rules-audit.md)."""

from datetime import date

import pytest

from tests.support import in_country, load_example
from tradelane.decisions.hs_codes import check_hs_codes
from tradelane.decisions.marking import marking
from tradelane.decisions.models import Severity
from tradelane.decisions.restricted import check_restricted
from tradelane.decisions.sanctions import check_sanctions
from tradelane.enums import Mode
from tradelane.models import ShipmentRequest
from tradelane.rules import RuleBook, RuleStatus
from tradelane.rules.schemas.hs_codes import HsLength
from tradelane.rules.schemas.marking import MarkingKind, MarkingRule
from tradelane.rules.schemas.planner import VolumetricDivisor
from tradelane.rules.schemas.restricted import RestrictedGoods
from tradelane.rules.schemas.sanctions import SanctionsProgramme

BOOK = RuleBook()
BLOCK, HOLD = Severity.BLOCK, Severity.HOLD
SOURCED, VERIFY, SAMPLE = RuleStatus.SOURCED, RuleStatus.VERIFY, RuleStatus.SAMPLE


def shipment(destination: str = "DE", *, region: str | None = None, on: str = "2026-12-01", hs_code: str = "392690",
             description: str = "Widget", languages: list[str] | None = None) -> ShipmentRequest:
    body = load_example("basic-cn-de.json")
    body["ship_date"] = on
    body["destination"] = in_country(body["destination"], destination, region=region)
    body["items"] = [{**body["items"][0], "hs_code": hs_code, "description": description,
                      "label_languages": languages}]
    return ShipmentRequest.model_validate(body)


def restricted(req: ShipmentRequest) -> list[tuple[str, Severity, str]]:
    return [(f.code, f.severity, f.details["rule_id"]) for f in check_restricted(req, BOOK)]


# ---- restricted_goods ----


@pytest.mark.parametrize(("hs_code", "description", "destination", "on", "expected"), [
    ("710210", "Unsorted diamonds", "DE", "2026-12-01", [("RESTRICTED_GOODS", HOLD, "kimberley-rough-diamonds")]),
    ("710221", "Industrial diamonds, unworked", "DE", "2026-12-01",
     [("RESTRICTED_GOODS", HOLD, "kimberley-rough-diamonds")]),
    ("710231", "Rough gem diamond", "DE", "2026-12-01", [("RESTRICTED_GOODS", HOLD, "kimberley-rough-diamonds")]),
    ("710239", "Polished diamond, 0.5 carat", "DE", "2026-12-01", []),
    ("710229", "Worked industrial diamond", "DE", "2026-12-01", []),
    ("420221", "Ostrich leather handbag", "DE", "2026-12-01", []),
    ("420221", "Crocodile leather handbag", "DE", "2026-12-01",
     [("RESTRICTED_GOODS", HOLD, "cites-exotic-leather")]),
    ("854340", "Disposable vape", "AU", "2023-12-31", []),
    ("854340", "Disposable vape", "AU", "2024-01-01", [("PROHIBITED_GOODS", BLOCK, "au-disposable-vapes")]),
    ("854340", "Disposable vape", "AU", "2024-03-01", [("LICENCE_REQUIRED", HOLD, "au-vapes"),
                                                       ("PROHIBITED_GOODS", BLOCK, "au-disposable-vapes")]),
    ("854340", "Refillable vape kit", "AU", "2024-01-01", []),
], ids=[
    "kimberley-rough-unsorted-710210", "kimberley-rough-industrial-710221", "kimberley-rough-gem-710231",
    "kimberley-polished-diamond-not-rough", "kimberley-worked-industrial-not-rough",
    "cites-ostrich-leather-not-listed", "cites-crocodile-leather-appendix-ii",
    "au-disposable-vapes-day-before-2024-01-01", "au-disposable-vapes-prohibited-from-2024-01-01",
    "au-disposable-vapes-and-licence-from-2024-03-01", "au-refillable-vape-not-disposable",
])
def test_restricted_goods_audit(hs_code, description, destination, on, expected):
    assert restricted(shipment(destination, on=on, hs_code=hs_code, description=description)) == expected


@pytest.mark.parametrize(("rule_id", "status", "cited"), [
    ("kimberley-rough-diamonds", SOURCED, "7102.10, 7102.21 and 7102.31"),
    ("cites-ivory", SOURCED, "Articles III-V"),
    ("cites-exotic-leather", VERIFY, "Article IV"),
    ("sg-e-cigarettes", SOURCED, "section 16(1)"),
    ("in-e-cigarettes", SOURCED, "Act 42 of 2019"),
    ("au-vapes", SOURCED, "Customs (Prohibited Imports) Regulations 1956"),
    ("au-disposable-vapes", VERIFY, "Customs (Prohibited Imports) Regulations 1956"),
    ("au-plants-seeds", VERIFY, "Biosecurity Act 2015"),
])
def test_restricted_rows_name_their_primary_source(rule_id, status, cited):
    [row] = [r for r in BOOK.table(RestrictedGoods) if r.rule_id == rule_id]
    assert row.status is status and cited in row.source
    if status is VERIFY:
        assert row.note, f"{rule_id}: a verify row says why"


# ---- sanctions ----


@pytest.mark.parametrize(("programme_id", "cited"), [
    ("us-crimea", "EO 13685"),
    ("us-dnr", "EO 14065"),
    ("us-lnr", "EO 14065"),
    ("us-sy", "EO 14312"),
    ("eu-dnr-lnr", "2022/263"),
    ("eu-kherson-zaporizhzhia", "2022/1903"),
    ("un-kp", "resolution 1718"),
])
def test_sanctions_programmes_confirmed_against_their_orders(programme_id, cited):
    [row] = [r for r in BOOK.table(SanctionsProgramme) if r.programme_id == programme_id]
    assert row.status is SOURCED and cited in row.source


@pytest.mark.parametrize(("region", "on", "expected"), [
    ("UA-14", "2022-02-20", []),
    ("UA-14", "2022-02-21", ["us-dnr"]),
    ("UA-14", "2022-02-23", ["us-dnr", "eu-dnr-lnr"]),
    ("UA-65", "2022-10-05", []),
    ("UA-65", "2022-10-06", ["eu-kherson-zaporizhzhia"]),
], ids=["eo-14065-day-before", "eo-14065-day-of", "eu-2022-263-day-of", "eu-2022-1903-day-before",
        "eu-2022-1903-day-of"])
def test_occupied_regions_embargo_dates(region, on, expected):
    findings = check_sanctions(shipment("UA", region=region, on=on), BOOK)
    assert [f.details["programme_id"] for f in findings] == expected
    assert all(f.severity is BLOCK for f in findings)


# ---- marking_rules ----


@pytest.mark.parametrize(("on", "label_language", "cited"), [
    ("2025-05-31", "fr", "s. 51;"),
    ("2025-06-01", "fr", "Bill 96"),
], ids=["quebec-charter-french-before-bill96", "quebec-bill96-from-2025-06-01"])
def test_quebec_french_product_text_since_the_charter(on, label_language, cited):
    result = marking(shipment("CA", region="QC", on=on, languages=["en"]), BOOK)
    assert result.label_language == label_language
    [finding] = [f for f in result.violations if f.code == "LABEL_LANGUAGE_MISSING"]
    assert finding.details["missing"] == "fr" and cited in finding.source


@pytest.mark.parametrize(("country", "status", "cited"), [
    ("AU", SOURCED, "BICON"),
    ("NZ", SOURCED, "Wood Packaging Material from All Countries"),
    ("US", SOURCED, "7 CFR 319.40-3"),
    ("CA", SOURCED, "D-98-08"),
    ("DE", SOURCED, "2019/2072"),
    ("GB", VERIFY, "ISPM 15"),
    ("CN", VERIFY, "ISPM 15"),
    ("CH", VERIFY, "ISPM 15"),
])
def test_ispm15_rows_name_the_destinations_own_instrument(country, status, cited):
    [row] = [r for r in BOOK.table(MarkingRule) if r.kind is MarkingKind.ISPM15 and country in r.countries]
    assert row.status is status and cited in row.source and row.min_thickness_mm == 6


# ---- volumetric_divisors ----


@pytest.mark.parametrize(("mode", "divisor", "status", "cited"), [
    (Mode.AIR_FREIGHT, 6000, SOURCED, "IATA TACT"),
    (Mode.AIR_EXPRESS, 5000, SOURCED, "DHL Express, FedEx, UPS"),
    (Mode.OCEAN_LCL, 1000, SOURCED, "revenue (freight) tonne"),
    (Mode.ROAD, 4000, VERIFY, "3000-4000"),
    (Mode.RAIL, 3000, SAMPLE, "sample"),
])
def test_volumetric_divisors_name_the_tariff_rule(mode, divisor, status, cited):
    row = BOOK.table(VolumetricDivisor).first(date(2026, 12, 1), mode=mode)
    assert row is not None
    assert (row.divisor_cm3_per_kg, row.status) == (divisor, status) and cited in row.source


# ---- hs_lengths ----


@pytest.mark.parametrize(("code", "on", "expected"), [
    ("8471300100", "2020-12-27", [("HS_LENGTH_INVALID", BLOCK)]),
    ("8471300100", "2020-12-28", [("HS_EDITION_UNKNOWN", Severity.WARNING)]),
    ("84713001", "2020-12-27", [("HS_EDITION_UNKNOWN", Severity.WARNING)]),
    ("8471300100", "2026-12-01", []),
], ids=["mx-nico-10-digits-day-before-2020-12-28", "mx-nico-10-digits-from-2020-12-28",
        "mx-8-digit-fraction-before-nico", "mx-nico-10-digits-today"])
def test_mexico_nico_extension_from_2020_12_28(code, on, expected):
    findings = check_hs_codes(shipment("MX", on=on, hs_code=code), BOOK)
    assert sorted((f.code, f.severity) for f in findings) == sorted(expected)


@pytest.mark.parametrize(("country", "status", "cited"), [
    ("US", SOURCED, "Harmonized Tariff Schedule"),
    ("FR", SOURCED, "2658/87"),
    ("CA", SOURCED, "Customs Tariff"),
    ("AU", SOURCED, "Customs Tariff Act 1995"),
    ("BR", SOURCED, "NCM"),
    ("GB", VERIFY, "Reference section 3"),
    ("JP", VERIFY, "Reference section 3"),
])
def test_hs_length_rows_name_the_national_tariff(country, status, cited):
    [row] = [r for r in BOOK.table(HsLength).where(date(2026, 12, 1)) if country in r.countries]
    assert row.status is status and cited in row.source
