"""HS code checks: digits, national length, chapter of the edition in force, known 6-digit subheading."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import VALID_EXAMPLES, in_country, load_example
from tradelane.decisions.hs_codes import check_hs_codes, check_item_code
from tradelane.decisions.models import Severity
from tradelane.models import Item, ShipmentRequest
from tradelane.rules import RuleBook, RuleDataError, RuleStatus
from tradelane.rules.schemas.hs_codes import HsEdition, HsLength, HsSubheading

BOOK = RuleBook()


def request(destination: str = "DE", codes: tuple[str, ...] = ("392690",), on: str = "2026-12-01") -> ShipmentRequest:
    body = load_example("basic-cn-de.json")
    body["ship_date"] = on
    body["destination"] = in_country(body["destination"], destination)
    body["items"] = [{**body["items"][0], "hs_code": code} for code in codes]
    return ShipmentRequest.model_validate(body)


def outcome(req: ShipmentRequest, book: RuleBook = BOOK) -> list[tuple[str, Severity]]:
    return [(f.code, f.severity) for f in check_hs_codes(req, book)]


BROKER = ("HS_NATIONAL_DIGITS_BY_BROKER", Severity.INFO)


@pytest.mark.parametrize(("destination", "code", "on", "expected"), [
    ("DE", "392690", "2026-12-01", [BROKER]),
    ("US", "8471300100", "2026-12-01", []),
    ("US", "84713001", "2026-12-01", [("HS_LENGTH_INVALID", Severity.BLOCK)]),
    ("DE", "85444290", "2026-12-01", []),
    ("FR", "8544429090", "2026-12-01", []),
    ("JP", "847130000", "2026-12-01", []),
    ("JP", "8471300000", "2026-12-01", [("HS_LENGTH_INVALID", Severity.BLOCK)]),
    ("AU", "6912000010", "2026-12-01", []),
    ("DE", "3926909", "2026-12-01", [("HS_LENGTH_INVALID", Severity.BLOCK)]),
    ("NZ", "39269000", "2026-12-01", [("HS_NATIONAL_LENGTH_UNKNOWN", Severity.WARNING)]),
    ("DE", "770000", "2026-12-01", [("HS_CHAPTER_RESERVED", Severity.BLOCK)]),
    ("DE", "001234", "2026-12-01", [("HS_CHAPTER_INVALID", Severity.BLOCK)]),
    ("US", "980100", "2026-12-01", [("HS_CHAPTER_NATIONAL", Severity.BLOCK)]),
    ("US", "9801001012", "2026-12-01", [("HS_CHAPTER_NATIONAL", Severity.INFO)]),
    ("DE", "392699", "2026-12-01", [BROKER, ("HS_SUBHEADING_UNKNOWN", Severity.HOLD)]),
    ("DE", "392690", "2028-01-03", [BROKER, ("HS_SUBHEADING_UNKNOWN", Severity.HOLD)]),
    ("DE", "392690", "2021-06-01", [BROKER, ("HS_EDITION_UNKNOWN", Severity.WARNING)]),
], ids=[
    "hs-6-digits-broker-completes", "hs-us-length-10", "hs-us-length-8-rejected", "hs-eu-cn-8", "hs-eu-taric-10",
    "hs-jp-length-9", "hs-jp-length-10-rejected", "hs-au-8-plus-2-statistical", "hs-7-digits-rejected",
    "hs-national-length-unknown-nz", "hs-chapter-77-reserved", "hs-chapter-00-invalid",
    "hs-chapter-98-national-only-6-digits", "hs-chapter-98-us-national-length", "hs-subheading-unknown-hold",
    "hs-2028-edition-no-subheadings-loaded", "hs-before-hs-2022-no-edition",
])
def test_hs_rules(destination, code, on, expected):
    assert outcome(request(destination, (code,), on)) == expected


def test_length_error_names_the_field_and_the_expected_lengths():
    [finding] = check_hs_codes(request("US", ("392690", "84713001")), BOOK)[1:]
    assert finding.field == "items[1].hs_code"
    assert finding.message == ("items[1].hs_code: '84713001' has 8 digits; US expects 6 (international subheading) "
                               "or 10 (US HTS)")
    assert finding.details == {"expected": "6,10"}
    assert finding.source.startswith("Harmonized Tariff Schedule of the United States")  # sourced (issue 21)


def test_unknown_subheading_says_the_list_is_a_sample():
    hold = check_hs_codes(request("DE", ("392699",)), BOOK)[1]
    assert "subheading 392699 is not known in HS 2022" in hold.message
    assert "is a sample of 72 common subheadings" in hold.message
    assert hold.details == {"subheading": "392699", "edition": "HS 2022"}


def test_2028_says_no_subheading_list_is_loaded():
    hold = check_hs_codes(request("DE", ("392690",), "2028-01-03"), BOOK)[1]
    assert "no HS 2028 subheading list is loaded" in hold.message


@pytest.mark.parametrize("code", ["3926.90", "39269O", "３９２６９０", ""],
                         ids=["dot", "letter-o", "fullwidth", "empty"])
def test_hs_not_digits_blocks(code):
    [finding] = check_item_code(code, "items[0].hs_code", "DE", request().ship_date, BOOK)
    assert (finding.code, finding.severity) == ("HS_NOT_DIGITS", Severity.BLOCK)
    assert finding.message.startswith(f"items[0].hs_code: '{code}' is not digits only")


def test_not_digits_through_the_request_check():
    # The request model refuses such codes already; the check must not rely on it.
    bad = Item.model_construct(**{**request().items[0].model_dump(), "hs_code": "12AB56"})
    req = request().model_copy(update={"items": [bad]})
    assert outcome(req) == [("HS_NOT_DIGITS", Severity.BLOCK)]


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=[p.stem for p in VALID_EXAMPLES])
def test_examples_have_only_info_findings(path):
    req = ShipmentRequest.model_validate_json(path.read_text())
    findings = check_hs_codes(req, BOOK)
    assert [f.severity for f in findings] == [Severity.INFO] * len(req.items)


def test_tables_load_with_a_source_on_every_row():
    editions, lengths, subheadings = BOOK.table(HsEdition), BOOK.table(HsLength), BOOK.table(HsSubheading)
    assert (len(editions), len(lengths), len(subheadings)) == (2, 11, 72)  # Mexico split at the NICO
    assert all(len(row.source) >= 3 for table in (editions, lengths, subheadings) for row in table)
    assert all(row.status is RuleStatus.SAMPLE for row in subheadings)
    assert {"392690", "854442", "847130", "850760", "691200", "701337"} <= {row.code for row in subheadings}
    eu = next(row for row in lengths if "DE" in row.countries)
    assert len(eu.countries) == 27 and eu.lengths == [8, 10]


def test_editions_switch_on_2028_01_01():
    hs2022, hs2028 = BOOK.table(HsEdition).rows
    assert (hs2022.edition, str(hs2022.valid_to), hs2022.reserved_chapters, hs2022.national_chapters) == (
        "HS 2022", "2028-01-01", [77], [98, 99])
    assert (hs2028.edition, str(hs2028.valid_from)) == ("HS 2028", "2028-01-01")


def _operator_dir(tmp_path: Path, subheadings: str) -> RuleBook:
    (tmp_path / "hs_subheadings.yaml").write_text(subheadings, encoding="utf-8")
    return RuleBook(tmp_path)


def test_operator_supplied_full_list_replaces_the_sample(tmp_path):
    book = _operator_dir(tmp_path, """
table: hs_subheadings
defaults: {edition: HS 2022, valid_from: 2022-01-01, valid_to: 2028-01-01, source: "Operator's licensed HS 2022 list",
           status: sourced}
rules:
  - {code: "392690", description: "Other articles of plastics: other"}
  - {code: "392699", description: "Invented for the test"}
""")
    assert outcome(request("DE", ("392699",)), book) == [BROKER]
    hold = check_hs_codes(request("DE", ("854442",)), book)[1]
    assert hold.code == "HS_SUBHEADING_UNKNOWN"
    assert "not among the 2 HS 2022 subheadings loaded" in hold.message and "sample" not in hold.message


def test_a_country_in_two_overlapping_length_rows_is_refused(tmp_path):
    (tmp_path / "hs_lengths.yaml").write_text("""
table: hs_lengths
defaults: {valid_from: 2020-01-01, valid_to: null, source: "test rows", status: sample}
rules:
  - {countries: [US], system: HTS, lengths: [10]}
  - {countries: [CA, US], system: other, lengths: [8]}
""", encoding="utf-8")
    with pytest.raises(RuleDataError, match="hs_lengths: rows for US overlap"):
        check_hs_codes(request("US", ("392690",)), RuleBook(tmp_path))


KNOWN = sorted(row.code for row in BOOK.table(HsSubheading))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(KNOWN), st.sampled_from([0, 2, 4]), st.integers(min_value=0, max_value=9999))
def test_known_subheading_at_an_eu_length_passes(subheading, extra, suffix):
    code = subheading + str(suffix).zfill(4)[:extra]
    severities = {f.severity for f in check_item_code(code, "items[0].hs_code", "DE", request().ship_date, BOOK)}
    assert severities <= {Severity.INFO}


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=1, max_size=12).filter(lambda c: len(c) not in (6, 8, 10)))
def test_any_other_length_is_blocked_for_the_eu(code):
    [finding] = check_item_code(code, "items[3].hs_code", "DE", request().ship_date, BOOK)
    assert (finding.code, finding.severity, finding.field) == ("HS_LENGTH_INVALID", Severity.BLOCK, "items[3].hs_code")
    assert f"has {len(code)} digits" in finding.message
