"""Idempotency keys and workflow ids, built from business keys so a retry or a replay sends the same key."""


def workflow_id(shipment_id: str) -> str:
    return f"shipment:{shipment_id}"


def shipment_id_of(workflow_id_: str) -> str:
    return workflow_id_.removeprefix("shipment:")


def idempotency_key(shipment_id: str, action: str, partner: str) -> str:
    """One key per shipment, action and partner: a retried or replayed call can never book twice."""
    return f"tl:{shipment_id}:{action}:{partner}"
