"""A small warehouse network per test (unique ids, so tests share the session's database without meeting)."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from infra.persistence import inventory as ledger
from infra.persistence.inventory import NewMovement
from tests.support import load_example
from tradelane.inventory.ledger import MovementKind
from tradelane.inventory.models import Network


@dataclass
class Net:
    origin: str
    """Shenzhen fulfilment centre (CN), stock-managed."""
    target: str
    """Berlin warehouse (DE), replenished from `origin`."""
    sku: str
    other_sku: str


def make_network(engine: Engine, merchant_id: str = "acme-store") -> Net:
    tag = uuid.uuid4().hex[:6].upper()
    net = Net(origin=f"SZX-{tag}", target=f"BER-{tag}", sku=f"CASE-{tag}", other_sku=f"CABLE-{tag}")
    party = {"name": "Acme Fulfilment Shenzhen", "company": "Acme Trading Co., Ltd.",
             "address_lines": ["88 Keyuan Road"], "city": "Shenzhen", "postal_code": "518057", "country": "CN"}
    berlin = {"name": "Acme Lager Berlin", "company": "Acme Europe GmbH", "address_lines": ["Am Borsigturm 100"],
              "city": "Berlin", "postal_code": "13507", "country": "DE"}
    carton = {"units": 50, "length_cm": 40, "width_cm": 30, "height_cm": 25}
    sku: dict[str, Any] = {"merchant_id": merchant_id, "hs_code": "392690", "unit_value": "4.20", "currency": "EUR",
                           "origin_country": "CN", "unit_weight_kg": 0.08, "carton": carton}
    ledger.save_network(engine, Network.model_validate({
        "warehouses": [
            {"warehouse_id": net.origin, "merchant_id": merchant_id, "name": "Shenzhen FC", "address": party},
            {"warehouse_id": net.target, "merchant_id": merchant_id, "name": "Berlin", "address": berlin,
             "replenished_from": net.origin}],
        "skus": [{**sku, "sku": net.sku, "description": "Silicone phone case"},
                 {**sku, "sku": net.other_sku, "description": "USB-C charging cable, 2 m", "hs_code": "854442"}]}))
    return net


def receive(engine: Engine, warehouse_id: str, sku: str, units: int) -> None:
    ledger.post(engine, [NewMovement(key=f"test-receipt:{uuid.uuid4().hex}", warehouse_id=warehouse_id, sku=sku,
                                     kind=MovementKind.RECEIPT, quantity=units, reason="test stock")])


def position(engine: Engine, warehouse_id: str, sku: str) -> tuple[int, int, int]:
    """(on hand, reserved, in transit)."""
    views = ledger.stock(engine, sku=sku, warehouse_id=warehouse_id)
    return (views[0].on_hand, views[0].reserved, views[0].in_transit) if views else (0, 0, 0)


def outbound(shipment_id: str, origin: str, sku: str, other_sku: str, units: int = 3) -> dict[str, Any]:
    """A customer order (the basic CN-DE example) shipped from `origin` stock: `units` of `sku`, 2 of `other_sku`."""
    body = load_example("basic-cn-de.json", shipment_id)
    body["origin_warehouse"] = origin
    body["items"][0].update(sku=sku, quantity=units)
    body["items"][1].update(sku=other_sku, quantity=2)
    return body
