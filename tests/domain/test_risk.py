"""The lane risk register: dated chokepoints, recurring seasons, origin closures, transit sanctions, strikes."""

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradelane.decisions.geo import UnknownLocation
from tradelane.decisions.risk import lane_risks
from tradelane.enums import Mode
from tradelane.rules import RuleBook, RuleDataError, RuleStatus
from tradelane.rules.schemas.risk import RiskEntry

SHARED_BOOK = RuleBook()  # for hypothesis tests, which cannot take function fixtures
SEA = [Mode.OCEAN]
RUSSIA_RAIL = ["KZ", "RU", "BY", "PL"]


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return RuleBook()


def test_register_loads_with_a_source_and_a_known_category_on_every_row(book):
    entries = list(book.table(RiskEntry))
    assert len(entries) == 12
    assert all(len(entry.source) > 10 for entry in entries)
    assert {entry.category for entry in entries} == {"chokepoint", "weather", "congestion", "sanctions", "strike"}
    required = {"red-sea-suez-2023-12", "red-sea-suez-2026-03", "typhoon-west-pacific", "atlantic-hurricanes",
                "north-atlantic-winter-storms", "lunar-new-year-2026", "golden-week-cn", "rail-via-russia-belarus",
                "ila-strike-2024-10"}
    assert required <= {entry.id for entry in entries}


def test_red_sea_2026_entry_is_open_ended_verify_with_a_cape_diversion(book):
    entry = next(e for e in book.table(RiskEntry) if e.id == "red-sea-suez-2026-03")
    assert (entry.valid_from, entry.valid_to, entry.status, entry.extra_transit_days) == (
        date(2026, 3, 1), None, RuleStatus.VERIFY, 10)


# (origin, destination, modes, via, ship date) -> hit ids, in register order
CASES = [
    ("red-sea-suez-2026-03", "CN", "DE", SEA, [], date(2026, 3, 15), ["red-sea-suez-2026-03"]),
    ("red-sea-suez-2026-03-symmetric-de-in", "DE", "IN", [Mode.OCEAN_LCL], [], date(2026, 4, 1),
     ["red-sea-suez-2026-03"]),
    ("red-sea-suez-2023-12-diversion", "CN", "NL", [Mode.OCEAN_FCL], [], date(2024, 5, 10),
     ["red-sea-suez-2023-12"]),
    ("red-sea-carriers-back-feb-2026", "VN", "DE", SEA, [], date(2026, 2, 20), []),
    ("red-sea-not-for-air", "CN", "DE", [Mode.AIR_FREIGHT], [], date(2026, 3, 15), []),
    ("typhoon-season-aug-cn", "CN", "AU", SEA, [], date(2026, 8, 10), ["typhoon-west-pacific"]),
    ("typhoon-season-aug-cn-air", "DE", "CN", [Mode.AIR_EXPRESS], [], date(2026, 8, 10), ["typhoon-west-pacific"]),
    ("no-typhoon-in-march", "CN", "AU", SEA, [], date(2026, 3, 15), []),
    ("no-typhoon-for-rail", "CN", "PL", [Mode.RAIL], ["KZ"], date(2026, 8, 10), []),
    ("rail-via-russia-sanctions-exposure", "CN", "DE", [Mode.RAIL], RUSSIA_RAIL, date(2026, 12, 1),
     ["rail-via-russia-belarus"]),
    ("rail-middle-corridor-avoids-russia", "CN", "DE", [Mode.RAIL], ["KZ", "AZ", "GE", "TR"], date(2026, 12, 1), []),
    ("road-into-russia-is-exposed", "PL", "RU", [Mode.ROAD], [], date(2026, 12, 1), ["rail-via-russia-belarus"]),
    ("no-sanctions-exposure-before-2022", "CN", "DE", [Mode.RAIL], RUSSIA_RAIL, date(2021, 12, 1), []),
    ("lunar-new-year-feb-cn-origin", "CN", "DE", [Mode.AIR_FREIGHT], [], date(2026, 2, 17), ["lunar-new-year-2026"]),
    ("lunar-new-year-jan-2027-kr-origin", "KR", "US", [Mode.AIR_FREIGHT], [], date(2027, 1, 25),
     ["lunar-new-year-2027"]),
    ("lunar-new-year-not-inbound", "DE", "CN", [Mode.AIR_FREIGHT], [], date(2026, 2, 17), []),
    ("lunar-new-year-over-by-mid-march", "CN", "DE", [Mode.AIR_FREIGHT], [], date(2026, 3, 11), []),
    ("golden-week-cn-origin", "CN", "DE", [Mode.AIR_FREIGHT], [], date(2026, 10, 3),
     ["typhoon-west-pacific", "golden-week-cn"]),
    ("golden-week-over-oct-8", "CN", "DE", [Mode.RAIL], ["KZ"], date(2026, 10, 8), []),
    ("golden-week-not-hk-origin", "HK", "DE", [Mode.RAIL], [], date(2026, 10, 3), []),
    ("atlantic-hurricanes-sep", "DE", "US", SEA, [], date(2026, 9, 10), ["atlantic-hurricanes"]),
    ("north-atlantic-winter-storms-jan", "US", "DE", SEA, [], date(2027, 1, 15), ["north-atlantic-winter-storms"]),
    ("no-winter-storms-in-may", "DE", "US", SEA, [], date(2026, 5, 15), []),
    ("ila-strike-2024-10", "DE", "US", [Mode.OCEAN_FCL], [], date(2024, 10, 2),
     ["atlantic-hurricanes", "ila-strike-2024-10"]),
    ("ila-strike-over-oct-4", "DE", "US", [Mode.OCEAN_FCL], [], date(2024, 10, 4), ["atlantic-hurricanes"]),
    ("no-entries-de-fr-road", "DE", "FR", [Mode.ROAD], [], date(2026, 5, 5), []),
]


@pytest.mark.parametrize(("origin", "destination", "modes", "via", "on", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_lane_risks(book, origin, destination, modes, via, on, expected):
    result = lane_risks(origin, destination, modes, via, on, book)
    assert [hit.risk_id for hit in result.hits] == expected
    assert len(result.reasons) == len(expected)
    for hit, reason in zip(result.hits, result.reasons):
        assert hit.risk_id in reason and hit.source in reason
    if not expected:
        assert result.score == 0.0 and result.hits == [] and result.reasons == []


@pytest.mark.parametrize(("case", "score"), [
    ("red-sea-suez-2026-03", 0.35),
    ("golden-week-cn-origin", 0.235),       # 1 - (1 - 0.15)(1 - 0.1)
    ("ila-strike-2024-10", 0.46),           # 1 - (1 - 0.1)(1 - 0.4)
    ("rail-via-russia-sanctions-exposure", 0.3),
    ("no-entries-de-fr-road", 0.0),
])
def test_scores_combine_as_independent_chances(book, case, score):
    origin, destination, modes, via, on, _ = next(c[1:] for c in CASES if c[0] == case)
    assert lane_risks(origin, destination, modes, via, on, book).score == score


def test_hits_carry_the_register_effects(book):
    hit = lane_risks("CN", "DE", SEA, [], date(2026, 3, 15), book).hits[0]
    assert (hit.category, hit.extra_transit_days, str(hit.insurance_loading_pct)) == ("chokepoint", 10, "0.05")
    assert hit.source.endswith("[verify]")


def test_unknown_origin_raises(book):
    with pytest.raises(UnknownLocation):
        lane_risks("XX", "DE", SEA, [], date(2026, 3, 15), book)


def _register(tmp_path: Path, rows: str) -> RuleBook:
    header = "table: risk_register\ndefaults: {valid_to: null, status: sample}\nrules:\n"
    (tmp_path / "risk_register.yaml").write_text(header + rows)
    return RuleBook(tmp_path)


def test_a_season_window_may_wrap_the_new_year(tmp_path):
    book = _register(tmp_path, """
  - {id: year-end-peak, category: congestion, description: Year-end peak, season: ["12-20", "01-05"],
     score: 0.2, valid_from: 2020-01-01, source: test, status: sample}
""")
    hits = {on: bool(lane_risks("DE", "FR", [Mode.ROAD], [], on, book).hits)
            for on in (date(2026, 12, 19), date(2026, 12, 25), date(2027, 1, 5), date(2027, 1, 6))}
    assert hits == {date(2026, 12, 19): False, date(2026, 12, 25): True, date(2027, 1, 5): True,
                    date(2027, 1, 6): False}


@pytest.mark.parametrize(("row", "message"), [
    ("{id: x, category: flood, description: abc, score: 0.1, valid_from: 2020-01-01, source: test}",
     "category"),
    ("{id: x, category: weather, description: abc, score: 1.5, valid_from: 2020-01-01, source: test}", "score"),
    ("{id: x, category: weather, description: abc, score: 0.1, months: [13], valid_from: 2020-01-01, source: test}",
     "not months"),
    ("{id: x, category: weather, description: abc, score: 0.1, via: [UK], valid_from: 2020-01-01, source: test}",
     "'UK' is not an ISO 3166-1 alpha-2"),
    ("{id: x, category: weather, description: abc, score: 0.1, from_regions: [EUR], valid_from: 2020-01-01, "
     "source: test}", "from_regions"),
    ("{id: x, category: weather, description: abc, score: 0.1, months: [1], season: ['01-01', '01-02'], "
     "valid_from: 2020-01-01, source: test}", "give one or the other"),
], ids=["unknown-category", "score-above-1", "month-13", "uk-is-not-a-country-code", "unknown-region",
        "months-and-season"])
def test_bad_register_rows_are_refused(tmp_path, row, message):
    with pytest.raises(RuleDataError, match=message):
        _register(tmp_path, f"  - {row}\n").table(RiskEntry)


COUNTRIES = ["CN", "DE", "US", "IN", "VN", "NL", "AU", "KR", "PL", "RU", "BR", "GB"]


@settings(max_examples=150, deadline=None)
@given(origin=st.sampled_from(COUNTRIES), destination=st.sampled_from(COUNTRIES),
       modes=st.lists(st.sampled_from(list(Mode)), min_size=1, max_size=3),
       via=st.lists(st.sampled_from(["RU", "BY", "KZ", "TR"]), max_size=2),
       on=st.dates(date(2023, 1, 1), date(2027, 12, 31)))
def test_score_is_bounded_and_no_lower_than_the_worst_hit(origin, destination, modes, via, on):
    result = lane_risks(origin, destination, modes, via, on, SHARED_BOOK)
    assert 0.0 <= result.score <= 1.0
    assert result.score >= max((hit.score for hit in result.hits), default=0.0) - 0.0005
    reordered = lane_risks(origin, destination, list(reversed(modes)), via, on, SHARED_BOOK)
    assert [h.risk_id for h in reordered.hits] == [h.risk_id for h in result.hits]
