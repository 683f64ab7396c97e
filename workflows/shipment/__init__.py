"""The shipment workflow (`workflow.py`) and the collaborators it owns: saga, projector, search-attribute board,
timeline, tracker with its clocks, notifier and stock steps. Patch ids in `patches.py`."""

from workflows.shipment.workflow import ShipmentWorkflow

__all__ = ["ShipmentWorkflow"]
