"""Locations, regions, road zones and planning distances (GLEC air: great-circle + 95 km)."""

from datetime import date
from pathlib import Path

import pytest
from geopy.distance import great_circle
from hypothesis import given, settings
from hypothesis import strategies as st

from tradelane.decisions.geo import UnknownLocation, distance_km, location, region_of, road_connected
from tradelane.enums import Mode
from tradelane.rules import DATA_DIR, RuleBook, RuleDataError, RuleStatus
from tradelane.rules.schemas.carbon import EmissionFactor
from tradelane.rules.schemas.geo import REGIONS, Location

ON = date(2026, 12, 1)
SHARED_BOOK = RuleBook()  # for hypothesis tests, which cannot take function fixtures

# The brief's region list, verbatim: another module prices freight by these codes.
EXPECTED_REGIONS = {
    "EAS": "CN JP KR TW HK MN KP",
    "SEA": "SG VN TH MY ID PH",
    "SAS": "IN BD PK LK",
    "MEA": "AE SA IL EG QA IR SY",
    "NEU": "DE NL BE FR GB IE DK SE NO FI PL AT CH CZ LU EE LV LT IS SK HU",
    "MED": "IT ES PT GR HR SI MT CY TR",
    "EEU": "RU BY UA RO BG MD KZ",
    "NAM": "US CA MX CU",
    "LAM": "BR AR CL CO PE",
    "OCE": "AU NZ",
    "AFR": "ZA NG KE MA",
}
COUNTRY_REGION = [(c, region) for region, codes in EXPECTED_REGIONS.items() for c in codes.split()]
COUNTRIES = [c for c, _ in COUNTRY_REGION]


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return RuleBook()


def test_locations_table_loads_with_a_source_on_every_row(book):
    rows = list(book.table(Location))
    assert len(rows) == 76
    assert all(row.source == "approximate gateway coordinates" and row.status is RuleStatus.GENERAL for row in rows)
    assert sorted(r.country for r in rows) == sorted(COUNTRIES)


@pytest.mark.parametrize(("country", "region"), COUNTRY_REGION, ids=[f"{c}-in-{r}" for c, r in COUNTRY_REGION])
def test_every_listed_country_is_in_its_region(book, country, region):
    assert region_of(country, ON, book) == region
    assert region in REGIONS


@pytest.mark.parametrize(("a", "b", "connected"), [
    ("DE", "PL", True),
    ("GB", "FR", True),
    ("DE", "TR", True),
    ("PL", "RU", True),
    ("US", "MX", True),
    ("CA", "US", True),
    ("CN", "KZ", True),
    ("CN", "MN", True),
    ("CN", "DE", False),
    ("KZ", "RU", False),
    ("MT", "IT", False),
    ("CY", "GR", False),
    ("IS", "NO", False),
    ("JP", "KR", False),
    ("CU", "US", False),
    ("US", "DE", False),
    ("AU", "AU", True),
], ids=["eu-de-pl", "eu-gb-fr-tunnel", "eu-de-tr", "eu-pl-ru", "na-us-mx", "na-ca-us", "ea-cn-kz", "ea-cn-mn",
        "cn-de-no-road", "kz-is-east-asia-zone", "malta-island", "cyprus-island", "iceland-island", "jp-kr-islands",
        "cuba-island", "transatlantic", "same-country-domestic"])
def test_road_zones(book, a, b, connected):
    assert road_connected(a, b, ON, book) is connected
    assert road_connected(b, a, ON, book) is connected


def test_unknown_country_raises_a_key_error_naming_it(book):
    with pytest.raises(UnknownLocation) as caught:
        location("XX", ON, book)
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == "'XX': no row of table 'locations' is in force on 2026-12-01; add the country to " \
                                "locations.yaml"
    with pytest.raises(UnknownLocation):
        distance_km(Mode.ROAD, "DE", "XX", ON, book)


def test_location_rows_are_effective_dated(book):
    # The table starts 2020-01-01: an earlier ship date has no location.
    with pytest.raises(UnknownLocation):
        region_of("DE", date(2019, 12, 31), book)


def _gc(book, a: str, b: str) -> float:
    here, there = location(a, ON, book), location(b, ON, book)
    return great_circle((here.lat, here.lon), (there.lat, there.lon)).km


@pytest.mark.parametrize("mode", [Mode.AIR_FREIGHT, Mode.AIR_EXPRESS], ids=["air-freight", "air-express"])
def test_glec_air_distance_is_great_circle_plus_95_km(book, mode):
    km, basis = distance_km(mode, "CN", "DE", ON, book)
    assert location("CN", ON, book).gateway == "Shanghai" and location("DE", ON, book).gateway == "Frankfurt"
    assert 8_800 <= km <= 9_500
    assert km == round(_gc(book, "CN", "DE") + 95, 1) == 8914.5
    assert basis == "great-circle 8,820 km + 95 km (GLEC air), Shanghai-Frankfurt"


@pytest.mark.parametrize(("mode", "a", "b", "factor", "label"), [
    (Mode.OCEAN, "CN", "AU", 1.3, "sea routing approximation, verify"),
    (Mode.OCEAN_FCL, "CN", "NL", 2.2, "sea route via Suez approximation, verify"),
    (Mode.OCEAN_LCL, "NL", "CN", 2.2, "sea route via Suez approximation, verify"),
    (Mode.OCEAN, "CN", "IT", 1.7, "sea route via Suez approximation, verify"),
    (Mode.OCEAN, "SG", "DE", 1.5, "sea route via Suez approximation, verify"),
    (Mode.OCEAN, "IN", "GB", 1.7, "sea route via Suez approximation, verify"),
    (Mode.ROAD, "DE", "PL", 1.2, "road circuity approximation, verify"),
    (Mode.RAIL, "CN", "DE", 1.25, "rail circuity approximation, verify"),
], ids=["sea-default-cn-au", "sea-suez-eas-neu-fcl", "sea-suez-symmetric-lcl", "sea-suez-eas-med",
        "sea-suez-sea-neu", "sea-suez-sas-neu", "road-circuity-de-pl", "rail-circuity-cn-de"])
def test_uplifted_distances(book, mode, a, b, factor, label):
    km, basis = distance_km(mode, a, b, ON, book)
    assert km == round(_gc(book, a, b) * factor, 1)
    assert f"x {factor:g} ({label})" in basis


def test_the_three_sea_modes_share_one_distance(book):
    figures = {distance_km(mode, "CN", "DE", ON, book)[0] for mode in (Mode.OCEAN, Mode.OCEAN_FCL, Mode.OCEAN_LCL)}
    assert figures == {round(_gc(book, "CN", "DE") * 2.2, 1)}


def test_rail_cn_de_is_close_to_the_real_line(book):
    km, _ = distance_km(Mode.RAIL, "CN", "DE", ON, book)
    assert 10_500 <= km <= 11_500  # China-Germany lines run ~11,000 km


def test_distances_are_cached_on_the_book(book):
    first = distance_km(Mode.RAIL, "CN", "PL", ON, book)
    assert distance_km(Mode.RAIL, "CN", "PL", ON, book) is first
    cache = book.cached("geo.distance_cache", dict)
    assert any(key[:3] == (Mode.RAIL, "CN", "PL") for key in cache)


@settings(max_examples=60, deadline=None)
@given(a=st.sampled_from(COUNTRIES), b=st.sampled_from(COUNTRIES), mode=st.sampled_from(list(Mode)))
def test_distance_is_symmetric_and_never_below_great_circle(a, b, mode):
    book = SHARED_BOOK
    there, _ = distance_km(mode, a, b, ON, book)
    back, _ = distance_km(mode, b, a, ON, book)
    assert there == back
    assert there >= round(_gc(book, a, b), 1)


def test_emission_table_refuses_an_unknown_region_in_a_distance_row(tmp_path: Path):
    text = (DATA_DIR / "emission_factors.yaml").read_text()
    (tmp_path / "emission_factors.yaml").write_text(text.replace("to_regions: [NEU]", "to_regions: [EUR]", 1))
    book = RuleBook(tmp_path)
    book.table(EmissionFactor)  # the row model itself accepts any 3-letter code; geo checks the region list
    with pytest.raises(RuleDataError, match=r"unknown region\(s\) \['EUR'\]"):
        distance_km(Mode.OCEAN, "CN", "DE", ON, book)
