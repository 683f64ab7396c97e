"""Origin-aware duties (issue 21, point 3): rows that apply to goods of some origins or HS codes only, chosen by ship
date like every other row: the US de minimis windows by origin and the Section 301 additional duties on goods of
China origin, the day before and the day of each change."""

from decimal import Decimal

import pytest

from tests.domain.test_landed_cost import money, shipment
from tradelane.decisions.landed_cost import landed_cost
from tradelane.models import ShipmentRequest
from tradelane.rules import default_book

BOOK = default_book()
D = Decimal


def mixed(items: list[tuple[str, str, str]], ship_date: str) -> ShipmentRequest:
    """A US shipment whose items (HS code, value, origin) have origins of their own."""
    request = shipment("US", [(hs, 1, value) for hs, value, _ in items], ship_date=ship_date)
    return request.model_copy(update={"items": [
        item.model_copy(update={"origin_country": origin}) for item, (_, _, origin) in zip(request.items, items)]})


# (id, HS, value, item origin, ship date, expected duties). MFN: 6109 16.5%, 3926 5.3%, 8507 3.4% (duty_rates).
CASES = [
    # US de minimis ended for goods of China and Hong Kong origin on 2025-05-02 (EO 14256), for all on 2025-08-29.
    ("us-de-minimis-china-origin-2025-05-01", "610910", "100.00", "CN", "2025-05-01", "0.00"),
    ("us-de-minimis-ended-china-origin-2025-05-02", "610910", "100.00", "CN", "2025-05-02", "169.00"),  # +7.5 +20 +125
    ("us-de-minimis-ended-hong-kong-origin-2025-05-02", "610910", "100.00", "HK", "2025-05-02", "161.50"),  # no 301
    ("us-de-minimis-other-origin-2025-05-02", "610910", "100.00", "VN", "2025-05-02", "0.00"),
    ("us-de-minimis-other-origin-2025-08-28", "610910", "100.00", "VN", "2025-08-28", "0.00"),
    ("us-de-minimis-ended-other-origin-2025-08-29", "610910", "100.00", "VN", "2025-08-29", "36.50"),  # + VN 20%
    ("us-de-minimis-china-origin-at-800-2025-05-01", "610910", "800.00", "CN", "2025-05-01", "0.00"),
    ("us-section-301-china-origin-above-800-2025-05-01", "610910", "800.01", "CN", "2025-05-01", "1352.01"),  # by line
    # IEEPA fentanyl duty on goods of China and Hong Kong origin (verify): 10% from 2025-02-04, 20% from 2025-03-04,
    # 10% from 2025-11-10, struck down 2026-02-20; not due within de minimis (before 2025-05-02).
    ("us-ieepa-china-origin-above-800-2025-02-03", "610910", "1000.00", "CN", "2025-02-03", "240.00"),  # 16.5 + 7.5
    ("us-ieepa-10-china-origin-2025-02-04", "610910", "1000.00", "CN", "2025-02-04", "340.00"),
    ("us-ieepa-20-china-origin-2025-03-04", "610910", "1000.00", "CN", "2025-03-04", "440.00"),
    ("us-ieepa-20-hong-kong-origin-2025-11-09", "610910", "1000.00", "HK", "2025-11-09", "465.00"),  # 16.5+20+10
    ("us-ieepa-10-china-origin-2025-11-10", "610910", "1000.00", "CN", "2025-11-10", "440.00"),  # + reciprocal 10
    ("us-ieepa-10-china-origin-2026-02-19", "610910", "1000.00", "CN", "2026-02-19", "440.00"),
    ("us-ieepa-struck-down-2026-02-20", "610910", "1000.00", "CN", "2026-02-20", "240.00"),
    ("us-ieepa-not-due-within-de-minimis-2025-03-04", "610910", "100.00", "CN", "2025-03-04", "0.00"),
    # Section 301 List 3 (25%) on 392690 of China origin; 2023 ship dates answered.
    ("us-section-301-list-3-china-origin-2023-01-02", "392690", "1000.00", "CN", "2023-01-02", "303.00"),
    ("us-section-301-list-3-not-for-vietnam-origin-2023-01-02", "392690", "1000.00", "VN", "2023-01-02", "53.00"),
    # Lithium-ion batteries of China origin: 7.5% until 2025-12-31, 25% from 2026-01-01 (89 FR 76581).
    ("us-section-301-li-ion-7.5-2025-12-31", "850760", "100.00", "CN", "2025-12-31", "30.90"),  # 3.4+7.5+10+10
    ("us-section-301-li-ion-25-2026-01-01", "850760", "100.00", "CN", "2026-01-01", "48.40"),  # 3.4+25+10+10
    ("us-section-301-li-ion-25-after-ieepa-2026-03-01", "850760", "100.00", "CN", "2026-03-01", "38.40"),  # + s.122
    # IEEPA reciprocal duties (verify): 10% on every origin but CA and MX from 2025-04-05; China and Hong Kong 125%
    # from 2025-04-10 and 10% from 2025-05-14; rates by origin from 2025-08-07; struck down 2026-02-20.
    ("us-reciprocal-before-2025-04-04", "610910", "1000.00", "VN", "2025-04-04", "165.00"),
    ("us-reciprocal-baseline-10-2025-04-05", "610910", "1000.00", "VN", "2025-04-05", "265.00"),
    ("us-reciprocal-china-10-2025-04-09", "610910", "1000.00", "CN", "2025-04-09", "540.00"),  # 16.5+7.5+20+10
    ("us-reciprocal-china-125-2025-04-10", "610910", "1000.00", "CN", "2025-04-10", "1690.00"),  # 16.5+7.5+20+125
    ("us-reciprocal-china-125-2025-05-13", "610910", "1000.00", "CN", "2025-05-13", "1690.00"),
    ("us-reciprocal-china-10-2025-05-14", "610910", "1000.00", "CN", "2025-05-14", "540.00"),
    ("us-reciprocal-vietnam-10-2025-08-06", "610910", "1000.00", "VN", "2025-08-06", "265.00"),
    ("us-reciprocal-vietnam-20-2025-08-07", "610910", "1000.00", "VN", "2025-08-07", "365.00"),
    ("us-reciprocal-india-25-2025-08-26", "610910", "1000.00", "IN", "2025-08-26", "415.00"),
    ("us-reciprocal-india-50-2025-08-27", "610910", "1000.00", "IN", "2025-08-27", "665.00"),
    ("us-reciprocal-eu-10-2025-08-06", "392690", "1000.00", "DE", "2025-08-06", "153.00"),  # 5.3 + 10
    ("us-reciprocal-eu-15-all-in-2025-08-07", "392690", "1000.00", "DE", "2025-08-07", "150.00"),  # 5.3 + 9.7
    ("us-reciprocal-eu-all-in-mfn-above-15", "610910", "1000.00", "FR", "2025-08-07", "165.00"),  # 16.5 + 0
    ("us-reciprocal-japan-15-all-in-2025-08-07", "392690", "1000.00", "JP", "2025-08-07", "150.00"),
    ("us-reciprocal-switzerland-39-2025-08-07", "392690", "1000.00", "CH", "2025-08-07", "443.00"),  # 5.3 + 39
    ("us-reciprocal-brazil-10-plus-40-2025-08-07", "392690", "1000.00", "BR", "2025-08-07", "553.00"),  # 5.3+10+40
    ("us-reciprocal-not-canada-origin", "392690", "1000.00", "CA", "2025-08-07", "53.00"),
    ("us-reciprocal-not-mexico-origin", "392690", "1000.00", "MX", "2025-04-05", "53.00"),
    ("us-reciprocal-electronics-exempt-847130", "847130", "1000.00", "VN", "2025-08-07", "0.00"),
    ("us-reciprocal-annex-ii-pharma-exempt-3004", "300490", "1000.00", "VN", "2025-08-07", "50.00"),  # default 5%
    ("us-reciprocal-vietnam-20-2026-02-19", "610910", "1000.00", "VN", "2026-02-19", "365.00"),
    ("us-reciprocal-struck-down-2026-02-20", "610910", "1000.00", "VN", "2026-02-20", "165.00"),
]


@pytest.mark.parametrize(("hs", "value", "origin", "ship_date", "duties"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_us_duties_by_item_origin_and_hs_code(hs, value, origin, ship_date, duties):
    cost = landed_cost(mixed([(hs, value, origin)], ship_date), money("0", "USD"), BOOK)
    assert cost.duties == D(duties), cost.reasons


def test_us_section_301_is_charged_on_the_china_origin_items_only():
    # 2025-09-01: 5.3% x 100 = 5.30 on both items; Section 301 List 3 25% x 50 = 12.50, IEEPA 20% x 50 = 10 and the
    # reciprocal 10% x 50 = 5 on the CN item only; Vietnam's reciprocal 20% x 50 = 10 on the VN item only.
    cost = landed_cost(mixed([("392690", "50.00", "CN"), ("392690", "50.00", "VN")], "2025-09-01"),
                       money("0", "USD"), BOOK)
    assert cost.duties == D("42.80")
    assert "US Section 301 List 3 (China origin): applies to SKU-0 (HS 392690, origin CN): 50% of the goods value" \
        in cost.reasons


def test_us_de_minimis_window_says_which_origin_ended_it():
    cost = landed_cost(mixed([("610910", "100.00", "CN")], "2025-05-02"), money("0", "USD"), BOOK)
    assert any(r.startswith("US de minimis ended for goods of China and Hong Kong: goods USD 100.00: de minimis "
                            "ended for goods of China and Hong Kong origin from 2025-05-02") for r in cost.reasons)


def test_additional_duties_are_not_due_within_de_minimis():
    cost = landed_cost(mixed([("392690", "100.00", "CN")], "2024-06-03"), money("0", "USD"), BOOK)
    assert cost.duties == D("0.00")
    assert "US Section 301 List 3 (China origin): not due, the consignment is within US de minimis (USD 800)" \
        in cost.reasons


def test_an_all_in_rate_is_a_surcharges_only():
    from tradelane.rules.schemas.landed_cost import ImportRegime

    row = next(r for r in BOOK.table(ImportRegime) if r.less_mfn)
    with pytest.raises(ValueError, match="less_mfn: only a surcharge"):
        ImportRegime.model_validate({**row.model_dump(), "measure": "duty"})


def test_reciprocal_duty_reasons_say_what_the_all_in_rate_adds():
    cost = landed_cost(mixed([("392690", "500.00", "DE"), ("610910", "500.00", "DE")], "2025-08-07"),
                       money("0", "USD"), BOOK)
    reasons = " | ".join(cost.reasons)
    assert "SKU-0 (HS 392690) pays 15% all-in: 9.7% on top of its MFN 5.3%" in reasons
    assert "SKU-1 (HS 610910) pays 15% all-in: 0% on top of its MFN 16.5%" in reasons
    assert cost.duties == D("26.50") + D("82.50") + D("48.50")  # MFN 5.3% and 16.5% of 500, then 9.7% of 500
