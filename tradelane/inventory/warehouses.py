"""Which warehouses a shipment may name: the rule the API applies before it starts one, kept pure."""

from collections.abc import Mapping

from tradelane.inventory.models import Warehouse
from tradelane.models import ShipmentRequest


def shipment_warehouse_problems(request: ShipmentRequest, network: Mapping[str, Warehouse]) -> list[dict[str, str]]:
    """A shipment's warehouses must exist, belong to its merchant and stand where the shipment starts or ends.

    Returns one `{"field", "message"}` per refused warehouse (none when the request names no warehouse).
    """
    problems = []
    for field, party in (("origin_warehouse", request.origin), ("destination_warehouse", request.destination)):
        warehouse_id = getattr(request, field)
        if warehouse_id is None:
            continue
        warehouse = network.get(warehouse_id)
        if warehouse is None:
            problems.append({"field": field, "message": f"'{warehouse_id}' is not a warehouse of the network"})
        elif warehouse.merchant_id != request.merchant_id:
            problems.append({"field": field, "message": f"'{warehouse_id}' belongs to merchant "
                                                        f"'{warehouse.merchant_id}', not '{request.merchant_id}'"})
        elif warehouse.country != party.country:
            side = field.split("_")[0]
            problems.append({"field": field, "message": f"'{warehouse_id}' is in {warehouse.country}, but the "
                                                        f"{side} is in {party.country}"})
    return problems
