"""Which warehouses a shipment may name, case by case (the API refuses the request with these problems)."""

import pytest

from tests.support import in_country, load_example
from tradelane.inventory.models import Warehouse
from tradelane.inventory.warehouses import shipment_warehouse_problems
from tradelane.models import ShipmentRequest

BASIC = load_example("basic-cn-de.json", "wh-1")  # acme-store, CN -> DE


def warehouse(warehouse_id: str, merchant_id: str, country: str) -> Warehouse:
    party = in_country(BASIC["origin"], country)
    return Warehouse.model_validate({"warehouse_id": warehouse_id, "merchant_id": merchant_id, "name": warehouse_id,
                                     "address": party})


NETWORK = {w.warehouse_id: w for w in [warehouse("SZX", "acme-store", "CN"), warehouse("BER", "acme-store", "DE"),
                                       warehouse("OTHER", "rival-shop", "CN")]}

CASES = [
    ("no warehouse named: nothing to check", {}, []),
    ("the merchant's own, where the shipment starts and ends", {"origin_warehouse": "SZX",
                                                                 "destination_warehouse": "BER"}, []),
    ("unknown", {"origin_warehouse": "NOPE"},
     [("origin_warehouse", "'NOPE' is not a warehouse of the network")]),
    ("another merchant's", {"origin_warehouse": "OTHER"},
     [("origin_warehouse", "'OTHER' belongs to merchant 'rival-shop', not 'acme-store'")]),
    ("in the wrong country", {"destination_warehouse": "SZX"},
     [("destination_warehouse", "'SZX' is in CN, but the destination is in DE")]),
    ("both wrong, each named", {"origin_warehouse": "BER", "destination_warehouse": "NOPE"},
     [("origin_warehouse", "'BER' is in DE, but the origin is in CN"),
      ("destination_warehouse", "'NOPE' is not a warehouse of the network")]),
]


@pytest.mark.parametrize(("fields", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_shipment_warehouses(fields, expected):
    request = ShipmentRequest.model_validate({**BASIC, **fields})
    problems = shipment_warehouse_problems(request, NETWORK)
    assert [(p["field"], p["message"]) for p in problems] == expected
