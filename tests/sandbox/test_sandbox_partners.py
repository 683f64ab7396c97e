"""The partner table, pricing formula, lanes and limits as pure rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.errors import ErrorCode, SandboxError
from sandbox.models import FilingItem, Parcel
from sandbox.partners import EU_COUNTRIES, OPERATIONS_BY_KIND, PARTNERS, Operation, PartnerKind, TransportMode
from sandbox.rules import check_hs_codes, check_lane, check_parcels, price
from sandbox.scenarios import LAST_MILE_SCENARIOS, TRACKING_CODES, TRANSIT_SCENARIOS, carrier_api_steps


def parcel(kg: float, length: float = 10, width: float = 10, height: float = 10) -> Parcel:
    return Parcel(weight_kg=kg, length_cm=length, width_cm=width, height_cm=height)


def test_partner_table_matches_the_contract() -> None:
    assert {name: (p.kind, p.mode) for name, p in PARTNERS.items()} == {
        "bluewave": (PartnerKind.CARRIER, TransportMode.OCEAN),
        "silkrail": (PartnerKind.CARRIER, TransportMode.RAIL),
        "aerocargo": (PartnerKind.CARRIER, TransportMode.AIR_FREIGHT),
        "roadlink": (PartnerKind.CARRIER, TransportMode.ROAD),
        "parcelnow": (PartnerKind.LAST_MILE, None),
        "doorstep": (PartnerKind.LAST_MILE, None),
        "clearpath": (PartnerKind.CUSTOMS_BROKER, None),
        "ups": (PartnerKind.CARRIER, TransportMode.AIR_EXPRESS),
        "dhl_express": (PartnerKind.CARRIER, TransportMode.AIR_EXPRESS),
        "fedex": (PartnerKind.CARRIER, TransportMode.AIR_EXPRESS),
        "roadie": (PartnerKind.LAST_MILE, None),
    }
    assert len(EU_COUNTRIES) == 27


def test_tracking_codes_are_the_published_names() -> None:
    assert TRACKING_CODES == {
        "bluewave": (
            "GATE_IN", "LOADED", "VESSEL_DEPARTED", "TRANSSHIPMENT", "VESSEL_ARRIVED", "DISCHARGED", "AVAILABLE",
            "VESSEL_DELAYED", "CUSTOMS_HOLD", "CUSTOMS_RELEASED",
        ),
        "silkrail": ("RECEIVED", "TRAIN_DEPARTED", "BORDER_CROSSED", "TRAIN_ARRIVED", "READY_FOR_HANDOVER"),
        "aerocargo": ("RCS", "DEP", "ARR", "NFD", "DIS"),
        "roadlink": ("COLLECTED", "LINEHAUL", "ARRIVED_HUB", "DELAYED"),
        "parcelnow": ("SORTED", "OUT_FOR_DELIVERY", "DELIVERED", "NOT_HOME"),
        "doorstep": ("RECEIVED_AT_DEPOT", "ON_VEHICLE", "POD", "ATTEMPT_FAILED"),
    }
    assert [s.day_offset for s in TRANSIT_SCENARIOS["bluewave"]] == [0, 1, 2, 10, 20, 21, 22]
    assert [s.day_offset for s in LAST_MILE_SCENARIOS["doorstep"]] == [0, 0.5, 1]


@pytest.mark.parametrize(("carrier", "exception"), [("ups", "WE"), ("dhl_express", "TD"), ("fedex", "SE")])
def test_an_express_carrier_delayed_reports_its_own_exception_and_arrives_twelve_days_late(
    carrier: str, exception: str
) -> None:
    normal, delayed = carrier_api_steps(carrier, None), carrier_api_steps(carrier, "delayed")
    codes = [step.code for step in delayed]
    assert [code for code in codes if code != exception] == [step.code for step in normal]
    assert codes.index(exception) < codes.index(normal[-1].code)
    assert delayed[-1].leg_end and delayed[-1].day_offset == normal[-1].day_offset + 12


@pytest.mark.parametrize(
    ("partner", "parcels", "amount", "chargeable", "co2e"),
    [
        # actual 10 kg beats volumetric 24000/5000 = 4.8 kg: 35 + 10.8 * 10
        pytest.param("dhl_express", [parcel(10, 40, 30, 20)], "143.00", 10.0, 60.0, id="air_actual_weight"),
        # volumetric 60*50*40/5000 = 24 kg beats actual 2 kg: 35 + 10.8 * 24; CO2e uses actual 2 kg
        pytest.param("dhl_express", [parcel(2, 60, 50, 40)], "294.20", 24.0, 12.0, id="air_volumetric_weight"),
        # two parcels: actual 14.5 kg vs volume (24000+6000)/1000 = 30 kg: 180 + 0.35 * 30
        pytest.param("bluewave", [parcel(10, 40, 30, 20), parcel(4.5, 30, 20, 10)], "190.50", 30.0, 2.175,
                     id="ocean_sums_parcels"),
        # 1 kg, volume 1000/3000 = 0.333 kg: 120 + 1.4 * 1
        pytest.param("silkrail", [parcel(1)], "121.40", 1.0, 0.25, id="rail_minimal"),
        # 30 + 11.5 * 0.03 = 30.345: half-up gives 30.35 where banker's rounding would give 30.34
        pytest.param("fedex", [parcel(0.03, 1, 1, 1)], "30.35", 0.03, 0.18, id="air_rounds_half_up"),
    ],
)
def test_price_formula(partner: str, parcels: list[Parcel], amount: str, chargeable: float, co2e: float) -> None:
    result = price(PARTNERS[partner], parcels)
    assert result.amount == Decimal(amount)
    assert result.currency == "USD"
    assert result.chargeable_weight_kg == pytest.approx(chargeable)
    assert result.co2e_kg == pytest.approx(co2e)


@pytest.mark.parametrize(
    ("partner", "origin", "destination", "served"),
    [
        ("silkrail", "CN", "DE", True),
        ("silkrail", "PL", "CN", True),
        ("silkrail", "US", "DE", False),
        ("silkrail", "CN", "US", False),
        ("silkrail", "DE", "FR", False),
        ("ups", "US", "JP", True),
        ("roadie", "US", "US", True),
        ("roadie", "CN", "US", False),
        ("roadie", "US", "CA", False),
        ("bluewave", "BR", "ZA", True),
        ("parcelnow", None, "GB", True),
        ("parcelnow", None, "US", False),
        ("doorstep", None, "SG", True),
        ("doorstep", None, "DE", False),
        ("doorstep", None, "GB", True),
        ("roadlink", "DE", "GB", True),
        ("roadlink", "US", "MX", True),
        ("roadlink", "CN", "DE", False),
        ("roadlink", "DE", "US", False),
        ("aerocargo", "CN", "US", True),
        ("clearpath", None, "ZA", True),
    ],
)
def test_lanes(partner: str, origin: str | None, destination: str, served: bool) -> None:
    assert PARTNERS[partner].serves(origin, destination) is served
    if served:
        check_lane(PARTNERS[partner], origin, destination)
    else:
        with pytest.raises(SandboxError) as err:
            check_lane(PARTNERS[partner], origin, destination)
        assert (err.value.status, err.value.code) == (422, ErrorCode.LANE_NOT_SERVED)


@pytest.mark.parametrize(
    ("partner", "bad", "needle"),
    [
        ("dhl_express", parcel(70.5), "parcels[1].weight_kg"),
        ("dhl_express", parcel(5, 121), "parcels[1]: longest side 121 cm"),
        ("silkrail", parcel(5, 10, 601), "longest side 601 cm exceeds 600 cm"),
        ("bluewave", parcel(2000.1), "2000.1 kg exceeds 2000 kg"),
    ],
)
def test_parcel_limits_name_the_parcel(partner: str, bad: Parcel, needle: str) -> None:
    check_parcels(PARTNERS[partner], [parcel(70, 120)] if partner == "dhl_express" else [parcel(1)])
    with pytest.raises(SandboxError) as err:
        check_parcels(PARTNERS[partner], [parcel(1), bad])
    assert (err.value.status, err.value.code) == (422, ErrorCode.PARCEL_LIMIT_EXCEEDED)
    assert needle in err.value.message


@pytest.mark.parametrize(
    ("hs_code", "valid"),
    [("851830", True), ("8544420000", True), ("85183", False), ("85444200001", False), ("8518.30", False),
     ("12AB56", False), ("", False)],
)
def test_hs_codes_are_6_to_10_digits(hs_code: str, valid: bool) -> None:
    item = FilingItem(sku="A", description="d", hs_code=hs_code, quantity=1, unit_value=Decimal(1), origin_country="CN")
    if valid:
        check_hs_codes([item])
    else:
        with pytest.raises(SandboxError) as err:
            check_hs_codes([item, item])
        assert err.value.code == ErrorCode.INVALID_HS_CODE
        assert f"items[1].hs_code: {hs_code!r} is not 6-10 digits" in err.value.message


def test_each_kind_has_its_operations() -> None:
    assert Operation.BOOK in OPERATIONS_BY_KIND[PartnerKind.CARRIER]
    assert Operation.BOOK not in OPERATIONS_BY_KIND[PartnerKind.LAST_MILE]
    assert Operation.TRACK in OPERATIONS_BY_KIND[PartnerKind.LAST_MILE]
    assert set(Operation) == set().union(*OPERATIONS_BY_KIND.values())
