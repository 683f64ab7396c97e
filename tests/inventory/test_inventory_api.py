"""`/v1/inventory` on the real API app: master data, sales imports, manual movements and the stock views, with
every refusal naming its field and writing nothing."""

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from infra.persistence import inventory as ledger
from infra.persistence.inventory import NewMovement
from infra.platform.dev_secrets import dev_partner_key
from infra.platform.settings import DEV_API_KEYS
from tests.inventory.network import Net, make_network, position, receive
from tradelane.inventory.ledger import MovementKind

pytestmark = pytest.mark.temporal

UNTIL = date(2026, 3, 10)
"""Sales in these tests are early March 2026; histories are read up to this day."""


def bearer(role: str) -> dict[str, str]:
    """The development key of a role; `partner` is one partner's own key (each has one)."""
    return {"Authorization": f"Bearer {dev_partner_key('roadlink') if role == 'partner' else DEV_API_KEYS[role]}"}


def error_fields(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {f["field"]: f["message"] for f in response.json()["error"]["fields"]}


# ---- master data --------------------------------------------------------------------------------------------------


def network_body(tag: str) -> dict[str, Any]:
    def address(city: str, country: str, postal_code: str) -> dict[str, Any]:
        return {"name": f"Acme {city}", "company": "Acme", "address_lines": ["1 Main Street"], "city": city,
                "postal_code": postal_code, "country": country}

    return {
        "warehouses": [
            {"warehouse_id": f"SZX-{tag}", "merchant_id": "acme-store", "name": "Shenzhen FC",
             "address": address("Shenzhen", "CN", "518057")},
            {"warehouse_id": f"BER-{tag}", "merchant_id": "acme-store", "name": "Berlin",
             "address": address("Berlin", "DE", "10115"), "replenished_from": f"SZX-{tag}", "handling_days": 1},
        ],
        "skus": [{"sku": f"CASE-{tag}", "merchant_id": "acme-store", "description": "Silicone phone case",
                  "hs_code": "392690", "unit_value": "4.20", "currency": "EUR", "origin_country": "CN",
                  "unit_weight_kg": 0.08, "carton": {"units": 50, "length_cm": 40, "width_cm": 30,
                                                     "height_cm": 25}}],
    }


async def test_network_is_saved_and_replaced_by_id(harness):
    tag = uuid.uuid4().hex[:6].upper()
    body = network_body(tag)
    response = await harness.api.put("/v1/inventory/network", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"warehouses": 2, "skus": 1}
    saved = ledger.warehouses(harness.engine)
    assert saved[f"BER-{tag}"].replenished_from == f"SZX-{tag}"
    assert (saved[f"BER-{tag}"].country, saved[f"BER-{tag}"].handling_days) == ("DE", 1)
    assert ledger.skus(harness.engine)[f"CASE-{tag}"].hs_code == "392690"

    # A warehouse sent again is replaced, and its source may be one saved earlier.
    again = {"warehouses": [{**body["warehouses"][1], "name": "Berlin Spandau"}]}
    response = await harness.api.put("/v1/inventory/network", json=again)
    assert response.status_code == 200, response.text
    assert response.json() == {"warehouses": 1, "skus": 0}
    assert ledger.warehouses(harness.engine)[f"BER-{tag}"].name == "Berlin Spandau"


def _unknown_source(body: dict[str, Any]) -> None:
    body["warehouses"][1]["replenished_from"] = "NOWHERE-1"


def _duplicate_warehouse(body: dict[str, Any]) -> None:
    body["warehouses"].append(dict(body["warehouses"][0]))


def _bad_country(body: dict[str, Any]) -> None:
    body["warehouses"][1]["address"]["country"] = "XX"


BAD_NETWORKS: list[tuple[str, Callable[[dict[str, Any]], None], str, str, str]] = [
    # (rule, change, error code, field, words of the message)
    ("a source must be in the network", _unknown_source, "UNKNOWN_WAREHOUSE", "warehouses[1].replenished_from",
     "'NOWHERE-1' is not in the network"),
    # A model-level check is reported on the field its message names.
    ("a warehouse id appears once", _duplicate_warehouse, "INVALID_REQUEST", "warehouses[2].warehouse_id",
     "'SZX-{tag}' appears twice"),
    ("a country is an ISO code", _bad_country, "INVALID_REQUEST", "warehouses[1].address.country",
     "'XX' is not an ISO 3166-1 alpha-2 country code"),
]


@pytest.mark.parametrize(("change", "code", "field", "words"), [c[1:] for c in BAD_NETWORKS],
                         ids=[c[0] for c in BAD_NETWORKS])
async def test_a_bad_network_is_refused_whole(harness, change, code, field, words):
    tag = uuid.uuid4().hex[:6].upper()
    body = network_body(tag)
    change(body)
    response = await harness.api.put("/v1/inventory/network", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert error_fields(response)[field] == words.format(tag=tag)
    # Nothing of the document is saved, not even its valid parts.
    assert not {f"SZX-{tag}", f"BER-{tag}"} & set(ledger.warehouses(harness.engine))
    assert f"CASE-{tag}" not in ledger.skus(harness.engine)


async def test_network_is_for_ops_only(harness):
    response = await harness.api.put("/v1/inventory/network", json=network_body("NOPE"), headers=bearer("backend"))
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "FORBIDDEN"


# ---- sales ----------------------------------------------------------------------------------------------------------


def csv_of(*rows: str, header: str = "day,sku,market,quantity") -> str:
    return "\n".join([header, *rows]) + "\n"


async def post_csv(harness, text: str, headers: dict[str, str] | None = None) -> Any:
    return await harness.api.post("/v1/inventory/sales", content=text.encode(),
                                  headers={"Content-Type": "text/csv", **(headers or {})})


async def test_sales_csv_is_imported_and_a_day_imported_again_replaces_it(harness):
    net = make_network(harness.engine)
    response = await post_csv(harness, csv_of(f"2026-03-01,{net.sku},DE,3", f"2026-03-03,{net.sku},de,5",
                                              f"2026-03-01,{net.other_sku},FR,7"))
    assert response.status_code == 200, response.text
    assert response.json() == {"rows": 3, "inserted": 3, "replaced": 0, "skus": sorted([net.sku, net.other_sku]),
                               "first_day": "2026-03-01", "last_day": "2026-03-03"}
    assert ledger.sales_history(harness.engine, net.sku, "DE", until=UNTIL) == (
        date(2026, 3, 1), [3, 0, 5, 0, 0, 0, 0, 0, 0])
    assert ledger.sales_history(harness.engine, net.other_sku, "FR", until=date(2026, 3, 3)) == (
        date(2026, 3, 1), [7, 0])

    # `date` is accepted for `day`; the 3rd is corrected, the 4th is new.
    response = await post_csv(harness, csv_of(f"2026-03-03,{net.sku},DE,6", f"2026-03-04,{net.sku},DE,1",
                                              header="date,sku,market,quantity"))
    assert response.status_code == 200, response.text
    assert (response.json()["inserted"], response.json()["replaced"]) == (1, 1)
    assert ledger.sales_history(harness.engine, net.sku, "DE", until=date(2026, 3, 5)) == (
        date(2026, 3, 1), [3, 0, 6, 1])


async def test_sales_json_is_imported(harness):
    net = make_network(harness.engine)
    response = await harness.api.post("/v1/inventory/sales", json={"sales": [
        {"day": "2026-03-02", "sku": net.sku, "market": "DE", "quantity": 4},
        {"day": "2026-03-01", "sku": net.sku, "market": "DE", "quantity": 2}]})
    assert response.status_code == 200, response.text
    assert response.json() == {"rows": 2, "inserted": 2, "replaced": 0, "skus": [net.sku],
                               "first_day": "2026-03-01", "last_day": "2026-03-02"}
    assert ledger.sales_history(harness.engine, net.sku, "DE", until=date(2026, 3, 3)) == (date(2026, 3, 1), [2, 4])


# Each case: rule, the rows after a good first row (CSV: "day,sku,market,quantity"; `{sku}` is the network's SKU),
# the header, and the field the refusal names. The good row must not be imported either.
BAD_CSV = [
    ("every column is needed", ["2026-03-02,{sku},3"], "day,sku,quantity", "header",
     "missing column(s) market; expected day,sku,market,quantity"),
    ("a day is a date", ["2026-03-3x,{sku},DE,3"], None, "rows[1].day", "line 3: Input should be a valid date"),
    ("a quantity is not negative", ["2026-03-02,{sku},DE,-1"], None, "rows[1].quantity",
     "line 3: Input should be greater than or equal to 0"),
    ("a SKU is in the catalogue", ["2026-03-02,NOPE-{tag},DE,3"], None, "rows[1].sku",
     "'NOPE-{tag}' is not in the SKU catalogue"),
    ("a row appears once", ["2026-03-02,{sku},DE,3", "2026-03-01,{sku},de,9"], None, "rows[2]",
     "{sku} DE 2026-03-01 repeats rows[0]"),
    ("a market is an ISO country code", ["2026-03-02,{sku},XX,3"], None, "rows[1].market",
     "line 3: 'XX' is not an ISO 3166-1 alpha-2 country code"),
    ("an unquoted thousands separator is not read as a smaller number", ["2026-03-02,{sku},DE,1,200"], None,
     "rows[1]", "line 3: more values than the header's 4 columns"),
    ("a column appears once", ["2026-03-02,{sku},DE,3,2026-03-04"], "day,sku,market,quantity,date", "header",
     "column(s) day appear more than once"),
    ("lines are counted as the file has them", ["", "2026-03-02,{sku},DE,-3"], None, "rows[1].quantity",
     "line 4: Input should be greater than or equal to 0"),
    ("a file that is not CSV is refused, not a server error", ["2026-03-02,{sku},D\rE,3"], None, "body",
     "after line 2: not valid CSV: new-line character seen in unquoted field"),
]


@pytest.mark.parametrize(("rows", "header", "field", "words"), [c[1:] for c in BAD_CSV], ids=[c[0] for c in BAD_CSV])
async def test_a_bad_sales_csv_imports_nothing(harness, rows, header, field, words):
    net = make_network(harness.engine)
    names = {"sku": net.sku, "tag": net.sku.removeprefix("CASE-")}
    first = f"2026-03-01,{net.sku},DE,5" if header != "day,sku,quantity" else f"2026-03-01,{net.sku},5"
    text = csv_of(first, *(r.format(**names) for r in rows), header=header or "day,sku,market,quantity")
    response = await post_csv(harness, text)
    assert error_fields(response)[field].startswith(words.format(**names))
    assert ledger.sales_history(harness.engine, net.sku, "DE", until=UNTIL) == (None, [])


BAD_JSON = [
    ("a day is a date", {"day": "March 2nd"}, "sales[1].day", "Input should be a valid date"),
    ("a quantity is not negative", {"quantity": -4}, "sales[1].quantity", "Input should be greater than or equal"),
    ("a SKU is in the catalogue", {"sku": "NOPE-1"}, "sales[1].sku", "'NOPE-1' is not in the SKU catalogue"),
    ("a market is an ISO country code", {"market": "XX"}, "sales[1].market", "'XX' is not an ISO 3166-1"),
    ("a row appears once", {"day": "2026-03-01"}, "sales[1]", "{sku} DE 2026-03-01 repeats sales[0]"),
    ("no field is unknown", {"units": 4}, "sales[1].units", "Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("change", "field", "words"), [c[1:] for c in BAD_JSON], ids=[c[0] for c in BAD_JSON])
async def test_a_bad_sales_json_imports_nothing(harness, change, field, words):
    net = make_network(harness.engine)
    good = {"day": "2026-03-01", "sku": net.sku, "market": "DE", "quantity": 5}
    response = await harness.api.post("/v1/inventory/sales", json={"sales": [
        good, {**good, "day": "2026-03-02", **change}]})
    assert error_fields(response)[field].startswith(words.format(sku=net.sku))
    assert ledger.sales_history(harness.engine, net.sku, "DE", until=UNTIL) == (None, [])


@pytest.mark.parametrize("content_type", ["application/xml", "application/x-www-form-urlencoded"])
async def test_sales_in_another_format_are_unsupported(harness, content_type):
    net = make_network(harness.engine)
    response = await harness.api.post("/v1/inventory/sales", content=csv_of(f"2026-03-01,{net.sku},DE,5"),
                                      headers={"Content-Type": content_type})
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert ledger.sales_history(harness.engine, net.sku, "DE", until=UNTIL) == (None, [])


@pytest.mark.parametrize(("role", "status"), [("backend", 200), ("ops", 200), ("partner", 403)],
                         ids=["a backend imports", "ops import", "a partner may not"])
async def test_who_may_import_sales(harness, role, status):
    net = make_network(harness.engine)
    response = await post_csv(harness, csv_of(f"2026-03-01,{net.sku},DE,5"), headers=bearer(role))
    assert response.status_code == status, response.text
    expected = (date(2026, 3, 1), [5]) if status == 200 else (None, [])
    assert ledger.sales_history(harness.engine, net.sku, "DE", until=date(2026, 3, 2)) == expected


# ---- movements and stock ------------------------------------------------------------------------------------------


def adjustment(net: Net, quantity: int, kind: str = "adjustment", **extra: Any) -> dict[str, Any]:
    return {"warehouse_id": net.origin, "sku": net.sku, "kind": kind, "quantity": quantity,
            "reason": "stock count", "actor": "ops@test", **extra}


async def test_receipt_and_adjustment_change_the_stock(harness):
    net = make_network(harness.engine)
    response = await harness.api.post("/v1/inventory/movements", json=adjustment(net, 12, "receipt",
                                                                                 reference="GRN-1"))
    assert response.status_code == 201, response.text
    [row] = response.json()
    assert (row["seq"], row["kind"], row["quantity"], row["on_hand_delta"], row["actor"]) == (
        1, "receipt", 12, 12, "ops@test")
    response = await harness.api.post("/v1/inventory/movements", json=adjustment(net, -2))
    assert response.status_code == 201, response.text
    assert [(r["seq"], r["on_hand_delta"], r["reason"]) for r in response.json()] == [(2, -2, "stock count")]
    assert position(harness.engine, net.origin, net.sku) == (10, 0, 0)


async def test_an_adjustment_below_available_is_refused_and_writes_nothing(harness):
    net = make_network(harness.engine)
    receive(harness.engine, net.origin, net.sku, 10)
    ledger.post(harness.engine, [NewMovement(key=f"test-hold:{net.sku}", warehouse_id=net.origin, sku=net.sku,
                                             kind=MovementKind.RESERVATION, quantity=6, shipment_id="SHIP-X")])
    response = await harness.api.post("/v1/inventory/movements", json=adjustment(net, -5))
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "NEGATIVE_STOCK"
    assert error["message"] == (f"adjustment of -5 {net.sku} at {net.origin} would leave available at -1 "
                                f"(on hand 10, reserved 6, in transit 0)")
    assert position(harness.engine, net.origin, net.sku) == (10, 6, 0)
    assert len(ledger.movements(harness.engine, sku=net.sku)) == 2


BAD_MOVEMENTS = [
    ("the warehouse is in the network", {"warehouse_id": "NOWHERE-1"}, "UNKNOWN_WAREHOUSE", "warehouse_id",
     "'NOWHERE-1' is not in the network"),
    ("the SKU is in the catalogue", {"sku": "NOPE-1"}, "UNKNOWN_SKU", "sku", "'NOPE-1' is not in the SKU catalogue"),
    ("shipments post their own reservations", {"kind": "reservation"}, "INVALID_REQUEST", "kind",
     "'reservation' is posted by shipments; use receipt or adjustment"),
    ("a receipt is not negative", {"kind": "receipt", "quantity": -3}, "INVALID_REQUEST", "quantity",
     "-3 is not valid for a receipt"),
]


@pytest.mark.parametrize(("change", "code", "field", "words"), [c[1:] for c in BAD_MOVEMENTS],
                         ids=[c[0] for c in BAD_MOVEMENTS])
async def test_a_bad_movement_is_refused(harness, change, code, field, words):
    net = make_network(harness.engine)
    response = await harness.api.post("/v1/inventory/movements", json={**adjustment(net, 3), **change})
    assert response.json()["error"]["code"] == code
    assert error_fields(response)[field] == words
    assert ledger.movements(harness.engine, sku=net.sku) == []


async def test_a_repeated_reference_is_written_once(harness):
    net = make_network(harness.engine)
    body = adjustment(net, 8, "receipt", reference="GRN-2041")
    first = await harness.api.post("/v1/inventory/movements", json=body)
    again = await harness.api.post("/v1/inventory/movements", json=body)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    assert position(harness.engine, net.origin, net.sku) == (8, 0, 0)
    assert [m.seq for m in ledger.movements(harness.engine, sku=net.sku)] == [1]


async def test_a_reference_reused_for_another_movement_is_refused(harness):
    net = make_network(harness.engine)
    first = await harness.api.post("/v1/inventory/movements", json=adjustment(net, 8, "receipt", reference="GRN-7"))
    assert first.status_code == 201, first.text
    other = await harness.api.post("/v1/inventory/movements", json=adjustment(net, 5, "receipt", reference="GRN-7"))
    assert other.status_code == 409 and other.json()["error"]["code"] == "REFERENCE_REUSED"
    assert "receipt of 8" in other.json()["error"]["message"]
    assert position(harness.engine, net.origin, net.sku) == (8, 0, 0)


async def test_a_shipment_is_not_a_replenishment_run(harness):
    """Run ids are checked: a shipment's workflow answers another query and update than a run's."""
    for call in (harness.api.get("/v1/inventory/replenishments/shipment:SHP-1"),
                 harness.api.post("/v1/inventory/replenishments/shipment:SHP-1/decisions",
                                  json={"actor": "ops@test", "approve_all": True})):
        response = await call
        assert response.status_code == 404 and response.json()["error"]["code"] == "RUN_NOT_FOUND"


async def test_movements_are_for_ops_only(harness):
    net = make_network(harness.engine)
    response = await harness.api.post("/v1/inventory/movements", json=adjustment(net, 3, "receipt"),
                                      headers=bearer("backend"))
    assert response.status_code == 403, response.text
    assert ledger.movements(harness.engine, sku=net.sku) == []


async def test_stock_and_movements_are_shown_per_sku_and_warehouse(harness):
    net = make_network(harness.engine)
    receive(harness.engine, net.origin, net.sku, 10)
    receive(harness.engine, net.origin, net.other_sku, 4)
    ledger.post(harness.engine, [
        NewMovement(key=f"test-hold:{net.sku}", warehouse_id=net.origin, sku=net.sku,
                    kind=MovementKind.RESERVATION, quantity=3, shipment_id="SHIP-OUT"),
        NewMovement(key=f"test-inbound:{net.sku}", warehouse_id=net.target, sku=net.sku,
                    kind=MovementKind.INBOUND, quantity=20, shipment_id=f"REPL-{net.sku}")])

    response = await harness.api.get("/v1/inventory", params={"sku": net.sku, "warehouse": net.origin})
    assert response.status_code == 200, response.text
    [origin] = response.json()
    assert {k: origin[k] for k in ("warehouse_id", "country", "sku", "on_hand", "reserved", "available",
                                   "in_transit", "movements", "inbound")} == {
        "warehouse_id": net.origin, "country": "CN", "sku": net.sku, "on_hand": 10, "reserved": 3, "available": 7,
        "in_transit": 0, "movements": 2, "inbound": []}

    response = await harness.api.get("/v1/inventory", params={"sku": net.sku})
    views = {v["warehouse_id"]: v for v in response.json()}
    assert set(views) == {net.origin, net.target}
    target = views[net.target]
    assert (target["country"], target["on_hand"], target["available"], target["in_transit"]) == ("DE", 0, 0, 20)
    assert [(i["shipment_id"], i["quantity"]) for i in target["inbound"]] == [(f"REPL-{net.sku}", 20)]

    response = await harness.api.get("/v1/inventory/movements", params={"sku": net.sku, "warehouse": net.origin})
    assert response.status_code == 200, response.text
    assert [(m["seq"], m["kind"], m["quantity"], m["shipment_id"]) for m in response.json()] == [
        (2, "reservation", 3, "SHIP-OUT"), (1, "receipt", 10, None)]
    response = await harness.api.get("/v1/inventory/movements", params={"warehouse": net.origin, "limit": 1})
    assert [(m["sku"], m["kind"]) for m in response.json()] == [(net.sku, "reservation")]
