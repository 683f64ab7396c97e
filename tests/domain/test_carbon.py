"""ISO 14083 / GLEC footprint: factor selection, hand-computed CO2e, and WTW never mixed with TTW."""

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import load_example
from tradelane.decisions.carbon import (
    FactorNotFound,
    emission_factor,
    leg_emission,
    shipment_emissions,
)
from tradelane.decisions.geo import distance_km
from tradelane.decisions.models import PackagingWaste
from tradelane.decisions.waste import packaging_waste
from tradelane.enums import Aircraft, Mode
from tradelane.models import ShipmentRequest
from tradelane.rules import DATA_DIR, RuleBook, RuleDataError, RuleStatus
from tradelane.rules.schemas.carbon import EmissionFactor

ON = date(2026, 12, 1)
SHARED_BOOK = RuleBook()  # for hypothesis tests, which cannot take function fixtures


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return RuleBook()


def test_emission_factor_table_loads_with_source_edition_and_basis(book):
    rows = list(book.table(EmissionFactor))
    assert len(rows) == 21
    assert all(len(row.source) > 10 for row in rows)
    intensities = [row for row in rows if row.kind == "intensity"]
    assert all(row.edition and row.basis for row in intensities)
    # Everything the calculation may select is well-to-wheel.
    assert {row.basis for row in intensities if row.used} == {"WTW"}


def test_the_sourced_ttw_freighter_point_is_documented_but_never_used(book):
    ttw = [r for r in book.table(EmissionFactor) if r.basis == "TTW"]
    assert [(r.mode, r.aircraft, r.g_per_tkm, r.used, r.status) for r in ttw] == [
        ("air_freight", Aircraft.CARGO, 498, False, RuleStatus.SOURCED)]
    assert emission_factor(Mode.AIR_FREIGHT, Aircraft.CARGO, ON, book).g_per_tkm == 850


@pytest.mark.parametrize(("mode", "aircraft", "g_per_tkm"), [
    (Mode.AIR_EXPRESS, None, 850),
    (Mode.AIR_EXPRESS, Aircraft.CARGO, 850),
    (Mode.AIR_EXPRESS, Aircraft.PASSENGER, 600),
    (Mode.AIR_FREIGHT, Aircraft.PASSENGER, 600),
    (Mode.AIR_FREIGHT, Aircraft.CARGO, 850),
    (Mode.AIR_FREIGHT, None, 850),
    (Mode.OCEAN, None, 12),
    (Mode.OCEAN_FCL, None, 12),
    (Mode.OCEAN_LCL, None, 12),
    (Mode.RAIL, None, 20),
    (Mode.ROAD, None, 80),
], ids=["express-freighter-network", "express-cargo", "express-on-passenger-belly", "air-freight-belly",
        "air-freight-freighter", "air-unknown-aircraft-conservative", "ocean", "ocean-fcl-shares-ocean",
        "ocean-lcl-shares-ocean", "rail", "road-articulated-truck"])
def test_factor_selection(book, mode, aircraft, g_per_tkm):
    row = emission_factor(mode, aircraft, ON, book)
    assert row.g_per_tkm == g_per_tkm
    assert row.basis == "WTW" and row.status is RuleStatus.VERIFY


@pytest.mark.parametrize(("mode", "aircraft", "km", "tonnes", "kg"), [
    (Mode.RAIL, None, 1000.0, 1.0, 20.0),                      # 20 x 1000 x 1.0 / 1000
    (Mode.OCEAN_FCL, None, 12_000.0, 2.5, 360.0),             # 12 x 12000 x 2.5 / 1000
    (Mode.ROAD, None, 850.0, 0.8, 54.4),                      # 80 x 850 x 0.8 / 1000
    (Mode.AIR_FREIGHT, Aircraft.PASSENGER, 9_000.0, 0.05, 270.0),  # 600 x 9000 x 0.05 / 1000
    (Mode.AIR_EXPRESS, None, 8914.5, 0.0018, 13.639),         # 850 x 8914.5 x 0.0018 / 1000 = 13.63919
    (Mode.AIR_FREIGHT, Aircraft.PASSENGER, 1.0, 0.001, 0.001),  # 0.0006 rounds to 3 decimals
    (Mode.ROAD, None, 0.0, 5.0, 0.0),
], ids=["rail-1t-1000km", "ocean-fcl", "road", "air-belly", "air-express-basic-cn-de", "rounds-to-3-decimals",
        "zero-distance"])
def test_leg_emission_by_hand(book, mode, aircraft, km, tonnes, kg):
    leg = leg_emission(mode, aircraft, km, "test basis", tonnes, ON, book)
    assert leg.co2e_kg == kg
    assert (leg.mode, leg.distance_km, leg.mass_t, leg.distance_basis) == (mode, km, tonnes, "test basis")
    assert "planning default" in leg.factor_source and leg.factor_source.endswith("[verify]")


def test_basic_cn_de_by_express_end_to_end(book):
    request = ShipmentRequest.model_validate(load_example("basic-cn-de.json"))
    km, basis = distance_km(Mode.AIR_EXPRESS, "CN", "DE", request.ship_date, book)
    leg = leg_emission(Mode.AIR_EXPRESS, None, km, basis, request.total_weight_kg / 1000, request.ship_date, book)
    assert (km, leg.factor_g_per_tkm, leg.mass_t) == (8914.5, 850, 0.0018)
    assert leg.co2e_kg == 13.639
    assert leg.distance_basis.startswith("great-circle 8,820 km + 95 km (GLEC air)")


@pytest.mark.parametrize(("args", "message"), [
    ((Mode.RAIL, Aircraft.CARGO, 100.0, 1.0), "aircraft: cargo given for a rail leg"),
    ((Mode.RAIL, None, -1.0, 1.0), "distance_km: -1.0 is not a distance"),
    ((Mode.RAIL, None, 100.0, -0.5), "mass_t: -0.5 is not a mass"),
    ((Mode.RAIL, None, float("nan"), 1.0), "distance_km: nan is not a distance"),
], ids=["aircraft-on-rail", "negative-distance", "negative-mass", "nan-distance"])
def test_bad_leg_inputs_are_refused_naming_the_argument(book, args, message):
    mode, aircraft, km, tonnes = args
    with pytest.raises(ValueError, match=message):
        leg_emission(mode, aircraft, km, "b", tonnes, ON, book)


def _book_with(tmp_path: Path, old: str, new: str) -> RuleBook:
    text = (DATA_DIR / "emission_factors.yaml").read_text()
    assert old in text
    (tmp_path / "emission_factors.yaml").write_text(text.replace(old, new, 1))
    return RuleBook(tmp_path)


def test_loader_refuses_a_used_ttw_row(tmp_path):
    # Flip the documented TTW freighter point to `used`: the loader must refuse it rather than mix bases.
    book = _book_with(tmp_path, "    basis: TTW\n    used: false\n", "    basis: TTW\n")
    with pytest.raises(RuleDataError, match=r"basis: a TTW factor cannot be used \(air_freight 498"):
        book.table(EmissionFactor)


def test_loader_refuses_a_used_wtt_row(tmp_path):
    book = _book_with(tmp_path, "    basis: WTT\n    used: false\n", "    basis: WTT\n")
    with pytest.raises(RuleDataError, match="basis: a WTT factor cannot be used"):
        book.table(EmissionFactor)


def test_only_a_ttw_row_on_file_gives_no_footprint(tmp_path):
    # Without the WTW freighter row, the TTW 498 point must not stand in for it.
    book = _book_with(tmp_path, "    vehicle: freighter\n    g_per_tkm: 850\n",
                      "    vehicle: freighter\n    g_per_tkm: 850\n    valid_to: 2021-01-01\n")
    with pytest.raises(FactorNotFound, match=r"only a TTW figure \(498 g/tkm, reference only\)"):
        leg_emission(Mode.AIR_FREIGHT, Aircraft.CARGO, 1000.0, "b", 1.0, ON, book)
    # Still fine on a date the WTW row covered.
    assert leg_emission(Mode.AIR_FREIGHT, Aircraft.CARGO, 1000.0, "b", 1.0, date(2020, 6, 1), book).co2e_kg == 850.0


def test_shipment_emissions_sum_the_legs_and_carry_packaging(book):
    legs = [leg_emission(Mode.ROAD, None, 100.0, "b", 1.0, ON, book),      # 8.0
            leg_emission(Mode.OCEAN, None, 12_000.0, "b", 2.5, ON, book),  # 360.0
            leg_emission(Mode.RAIL, None, 1000.0, "b", 1.0, ON, book)]     # 20.0
    packaging = PackagingWaste(material_kg=0.211, recyclable_share=0.9)
    total = shipment_emissions(legs, packaging)
    assert total.emissions_kg_co2e == 388.0
    assert total.legs == legs and total.packaging is packaging
    assert total.method == "ISO 14083 / GLEC Framework, well-to-wheel"
    assert shipment_emissions([]).emissions_kg_co2e == 0.0


def test_packaging_adds_no_co2e(book):
    request = ShipmentRequest.model_validate(load_example("pallet-cn-au.json"))
    leg = leg_emission(Mode.OCEAN_FCL, None, 10_000.0, "b", 0.8, ON, book)
    assert shipment_emissions([leg], packaging_waste(request, book)).emissions_kg_co2e == leg.co2e_kg == 96.0


@settings(max_examples=100, deadline=None)
@given(mode=st.sampled_from(list(Mode)), km=st.floats(0, 25_000), a=st.floats(0, 50), b=st.floats(0, 50))
def test_co2e_is_additive_in_mass_and_never_negative(mode, km, a, b):
    book = SHARED_BOOK

    def kg(t: float) -> float:
        return leg_emission(mode, None, km, "b", t, ON, book).co2e_kg
    assert kg(a) >= 0
    # Each figure is rounded to 3 decimals, so sums may differ by the rounding of three numbers.
    assert abs(kg(a + b) - (kg(a) + kg(b))) <= 0.0015 + 1e-9 * kg(a + b)
