"""Packaging waste: the merchant's packaging weight when given, else an estimate from the packaging table."""

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import load_example
from tradelane.decisions.waste import UnknownPackaging, packaging_waste
from tradelane.enums import Packaging
from tradelane.models import ShipmentRequest
from tradelane.rules import RuleBook, RuleStatus
from tradelane.rules.schemas.waste import PackagingMaterial

SHARED_BOOK = RuleBook()  # for hypothesis tests, which cannot take function fixtures


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return RuleBook()


def request_with(parcels: list[dict], name: str = "basic-cn-de.json") -> ShipmentRequest:
    body = load_example(name)
    body["parcels"] = parcels
    return ShipmentRequest.model_validate(body)


def parcel(packaging: str, kg: float, dims: tuple[float, float, float], **extra) -> dict:
    length, width, height = dims
    return {"weight_kg": kg, "length_cm": length, "width_cm": width, "height_cm": height, "packaging": packaging,
            **extra}


def test_every_packaging_type_has_one_row_with_a_source(book):
    rows = list(book.table(PackagingMaterial))
    assert sorted(row.packaging for row in rows) == sorted(Packaging)
    assert all(len(row.source) > 10 and row.status in (RuleStatus.SAMPLE, RuleStatus.GENERAL) for row in rows)


@pytest.mark.parametrize(("parcels", "kg", "share", "by_material"), [
    # 35 x 25 x 12 cm carton: surface 2(0.0875 + 0.042 + 0.03) = 0.319 m2; 0.02 + 0.6 x 0.319 = 0.2114
    ([parcel("carton", 1.8, (35, 25, 12))], 0.211, 0.9, {"corrugated cardboard": 0.211}),
    # two EUR-size pallets at 25 kg each
    ([parcel("wood_pallet", 420, (120, 100, 150), ispm15_marked=True),
      parcel("wood_pallet", 380, (120, 100, 140), ispm15_marked=True)], 50.0, 0.95,
     {"softwood (ISPM 15 treated)": 50.0}),
    # the merchant's own figure wins over the estimate
    ([parcel("carton", 1.8, (35, 25, 12), packaging_weight_kg=0.35)], 0.35, 0.9, {"corrugated cardboard": 0.35}),
    # 40 x 30 x 5 polybag: surface 2(0.12 + 0.02 + 0.015) = 0.31 m2; 0.005 + 0.06 x 0.31 = 0.0236
    ([parcel("polybag", 0.6, (40, 30, 5))], 0.024, 0.3, {"LDPE film": 0.024}),
    # carton 1.0 kg given (0.9 recyclable) + plastic pallet 15 kg (0.95): (0.9 + 14.25) / 16 = 0.946875
    ([parcel("carton", 3.0, (40, 30, 20), packaging_weight_kg=1.0), parcel("plastic_pallet", 300, (120, 100, 100))],
     16.0, 0.947, {"corrugated cardboard": 1.0, "HDPE": 15.0}),
    # 120 x 100 x 150 crate: surface 2(1.2 + 1.8 + 1.5) = 9.0 m2; 10 + 8 x 9 = 82
    ([parcel("wood_crate", 500, (120, 100, 150), ispm15_marked=True)], 82.0, 0.8, {"softwood and plywood": 82.0}),
    # a huge, feather-light envelope: the estimate (0.01 + 0.25 x 2.04 m2) is capped at the parcel's 0.05 kg
    ([parcel("envelope", 0.05, (100, 100, 1))], 0.05, 0.5, {"paper mailer (padded)": 0.05}),
    # zero packaging given: nothing to recycle, share 0 rather than a division by zero
    ([parcel("polybag", 0.2, (20, 15, 2), packaging_weight_kg=0)], 0.0, 0.0, {"LDPE film": 0.0}),
], ids=["carton-estimate-basic-cn-de", "wood-pallets-pallet-cn-au", "given-weight-wins", "polybag-estimate",
        "mixed-materials-weighted-share", "wood-crate-estimate", "estimate-capped-at-parcel-weight",
        "zero-given-weight"])
def test_packaging_waste_by_hand(book, parcels, kg, share, by_material):
    waste = packaging_waste(request_with(parcels), book)
    assert (waste.material_kg, waste.recyclable_share, waste.by_material) == (kg, share, by_material)
    assert "[sample]" in waste.source or "[general]" in waste.source


def test_sources_are_cited_once_per_row(book):
    waste = packaging_waste(request_with([parcel("carton", 1, (20, 20, 20)), parcel("carton", 1, (30, 20, 20)),
                                          parcel("polybag", 1, (30, 20, 5))]), book)
    assert waste.source.count("corrugated board") == 1 and waste.source.count("LDPE") == 1


def test_a_packaging_type_without_a_row_in_force_names_the_parcel(tmp_path: Path):
    (tmp_path / "packaging_materials.yaml").write_text("""table: packaging_materials
rules:
  - {packaging: carton, material: board, kg_per_m2: 0.6, recyclable_share: 0.9, source: test table,
     valid_from: 2020-01-01, valid_to: null, status: sample}
""")
    request = request_with([parcel("carton", 1.8, (35, 25, 12)), parcel("polybag", 0.5, (30, 20, 5))])
    with pytest.raises(UnknownPackaging, match=r"parcels\[1\]\.packaging: no row for 'polybag'"):
        packaging_waste(request, RuleBook(tmp_path))


def test_rows_are_chosen_by_ship_date(tmp_path: Path):
    (tmp_path / "packaging_materials.yaml").write_text("""table: packaging_materials
defaults: {valid_to: null, status: sample}
rules:
  - {packaging: carton, material: virgin board, kg_fixed: 0.5, recyclable_share: 0.8, source: old spec,
     valid_from: 2020-01-01, valid_to: 2026-07-01}
  - {packaging: carton, material: recycled board, kg_fixed: 0.4, recyclable_share: 1.0, source: new spec,
     valid_from: 2026-07-01}
""")
    book = RuleBook(tmp_path)
    body = load_example("basic-cn-de.json")
    for ship_date, material in ((date(2026, 6, 30), "virgin board"), (date(2026, 7, 1), "recycled board")):
        body["ship_date"] = ship_date.isoformat()
        assert list(packaging_waste(ShipmentRequest.model_validate(body), book).by_material) == [material]


dims = st.tuples(st.floats(1, 300), st.floats(1, 300), st.floats(1, 300))


@settings(max_examples=80, deadline=None)
@given(parcels=st.lists(st.tuples(st.sampled_from(list(Packaging)), st.floats(0.01, 2000), dims),
                        min_size=1, max_size=5))
def test_estimates_never_exceed_the_gross_weight_and_shares_stay_in_range(parcels):
    request = request_with([parcel(kind.value, kg, size, ispm15_marked=True) for kind, kg, size in parcels])
    waste = packaging_waste(request, SHARED_BOOK)
    assert 0 <= waste.material_kg <= request.total_weight_kg + 0.001
    assert 0 <= waste.recyclable_share <= 1
    assert abs(sum(waste.by_material.values()) - waste.material_kg) <= 0.001 * len(waste.by_material)
