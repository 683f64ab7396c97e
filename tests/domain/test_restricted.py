"""Prohibited and restricted goods: HS prefixes, description keywords, destination or origin, dates."""

import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import VALID_EXAMPLES, in_country, load_example
from tradelane.decisions.models import Severity
from tradelane.decisions.restricted import check_restricted
from tradelane.models import ShipmentRequest
from tradelane.rules import RuleBook, RuleDataError
from tradelane.rules.schemas.restricted import RestrictedGoods

BOOK = RuleBook()
BLOCK, HOLD = Severity.BLOCK, Severity.HOLD


def request(hs_code: str, description: str = "Widget", destination: str = "DE", origin: str = "CN",
            on: str = "2026-12-01") -> ShipmentRequest:
    body = load_example("basic-cn-de.json")
    body["ship_date"] = on
    body["origin"] = in_country(body["origin"], origin)
    body["destination"] = in_country(body["destination"], destination)
    body["items"] = [{**body["items"][0], "hs_code": hs_code, "description": description}]
    return ShipmentRequest.model_validate(body)


def outcome(req: ShipmentRequest, book: RuleBook = BOOK) -> list[tuple[str, Severity, str | None, str]]:
    return [(f.code, f.severity, f.field, f.details["rule_id"]) for f in check_restricted(req, book)]


@pytest.mark.parametrize(("req", "expected"), [
    (request("930400", "Air pistol"), [("LICENCE_REQUIRED", HOLD, "items[0].hs_code", "arms-import"),
                                       ("LICENCE_REQUIRED", HOLD, "items[0].hs_code", "arms-export")]),
    (request("9306300000", "Cartridges", destination="US", origin="US"),
     [("LICENCE_REQUIRED", HOLD, "items[0].hs_code", "arms-import"),
      ("LICENCE_REQUIRED", HOLD, "items[0].hs_code", "arms-export")]),
    (request("854340", "Disposable vape pen", destination="SG"),
     [("PROHIBITED_GOODS", BLOCK, "items[0].hs_code", "sg-e-cigarettes")]),
    (request("854340", "E-cigarette starter kit", destination="IN"),
     [("PROHIBITED_GOODS", BLOCK, "items[0].hs_code", "in-e-cigarettes")]),
    (request("854340", "E-cigarette starter kit", destination="IN", on="2019-09-17"), []),
    (request("854340", "Vape kit", destination="AU", on="2024-02-29"), []),
    (request("854340", "Vape kit", destination="AU", on="2024-03-01"),
     [("LICENCE_REQUIRED", HOLD, "items[0].hs_code", "au-vapes")]),
    (request("854340", "Vape kit", destination="DE"), []),
    (request("960110", "Carved ivory figurine"), [("RESTRICTED_GOODS", HOLD, "items[0].hs_code", "cites-ivory")]),
    (request("960190", "Carved bone figurine"), []),
    (request("392690", "Ivory-coloured phone case"), []),
    (request("420221", "Python leather handbag"),
     [("RESTRICTED_GOODS", HOLD, "items[0].hs_code", "cites-exotic-leather")]),
    (request("420221", "Calf leather handbag"), []),
    (request("610910", "Replica football shirt"),
     [("RESTRICTED_GOODS", HOLD, "items[0].description", "counterfeit")]),
    (request("610910", "Football shirt, official club licence"), []),
    (request("710210", "Unsorted diamonds"),
     [("RESTRICTED_GOODS", HOLD, "items[0].hs_code", "kimberley-rough-diamonds")]),
    (request("120991", "Vegetable seeds", destination="AU"),
     [("RESTRICTED_GOODS", HOLD, "items[0].hs_code", "au-plants-seeds")]),
    (request("120991", "Vegetable seeds", destination="DE"), []),
], ids=[
    "arms-ch93-licence-import-and-export", "arms-ch93-licence-at-national-length", "sg-e-cigarettes-prohibited",
    "in-e-cigarettes-prohibited", "in-e-cigarettes-before-2019-09-18", "au-vapes-before-2024-03-01",
    "au-vapes-licence-from-2024-03-01", "e-cigarettes-not-restricted-in-de", "cites-ivory-carving",
    "bone-carving-not-ivory", "ivory-coloured-plastic-not-matched", "cites-python-handbag",
    "calf-leather-handbag-not-matched", "counterfeit-keyword-any-hs-code", "licensed-shirt-not-matched",
    "kimberley-rough-diamonds", "au-seeds-phytosanitary", "seeds-not-restricted-in-de",
])
def test_restricted_rules(req, expected):
    assert outcome(req) == expected


def test_message_names_the_field_goods_country_and_requirement():
    finding = check_restricted(request("854340", "Disposable vape pen", destination="SG"), BOOK)[0]
    assert finding.message == (
        "items[0].hs_code: 854340 'Disposable vape pen' is an electronic cigarette or vaporiser, prohibited into SG "
        "(HS prefix 854340); Singapore prohibits importing them")
    assert "section 16(1)" in finding.source and not finding.source.endswith("]")  # sourced (issue 21 audit)
    assert finding.details == {"rule_id": "sg-e-cigarettes", "matched": "HS prefix 854340", "country": "SG",
                               "direction": "import"}
    ivory = check_restricted(request("960110", "Carved IVORY figurine"), BOOK)[0]
    assert ivory.details["matched"] == "HS prefix 9601 and keyword 'ivory'"
    arms_export = check_restricted(request("930400", "Air pistol", origin="US"), BOOK)[1]
    assert "subject to licence out of US" in arms_export.message


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=[p.stem for p in VALID_EXAMPLES])
def test_examples_have_no_restricted_goods(path):
    assert check_restricted(ShipmentRequest.model_validate_json(path.read_text()), BOOK) == []


def test_table_loads_with_a_source_on_every_row():
    table = BOOK.table(RestrictedGoods)
    assert len(table) == 11
    assert all(len(row.source) >= 3 for row in table)
    assert {row.severity for row in table} == {"prohibited", "restricted", "licence"}
    for row in table:
        assert all(c == "*" or pycountry.countries.get(alpha_2=c) for c in row.countries), row.rule_id


def test_a_row_that_matches_nothing_is_refused(tmp_path):
    (tmp_path / "restricted_goods.yaml").write_text("""
table: restricted_goods
rules:
  - {rule_id: empty, countries: ["*"], severity: prohibited, goods: x, requirement: y, source: test,
     valid_from: 2020-01-01, valid_to: null, status: sample}
""", encoding="utf-8")
    with pytest.raises(RuleDataError, match="give hs_prefixes, keywords or both"):
        check_restricted(request("392690"), RuleBook(tmp_path))


COUNTRIES = sorted(c.alpha_2 for c in pycountry.countries)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(COUNTRIES), st.text(alphabet="0123456789", min_size=4, max_size=8))
def test_arms_always_need_a_licence_into_any_country(country, rest):
    codes = {f.code for f in check_restricted(request("93" + rest, "Sporting rifle", destination=country), BOOK)}
    assert codes == {"LICENCE_REQUIRED"}


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(COUNTRIES), st.sampled_from(["392690", "854442", "847130", "850760", "691200", "701337"]))
def test_ordinary_goods_are_never_restricted(country, hs_code):
    assert check_restricted(request(hs_code, "Plain household article", destination=country), BOOK) == []
