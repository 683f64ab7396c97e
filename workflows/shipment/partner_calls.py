"""How the shipment calls activities: partner calls keyed for idempotency, retried on the shipment's own timings."""

from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.errors import PARTNER_REJECTED
    from tradelane.keys import idempotency_key
    from tradelane.shipment.calls import PartnerCall
    from tradelane.shipment.config import ShipmentTimings


def partner_call(shipment_id: str, action: str, partner: str, **fields: Any) -> PartnerCall:
    """A call whose idempotency key is built from the business keys: a retry or a replay never books twice."""
    return PartnerCall(shipment_id=shipment_id, partner=partner,
                       idempotency_key=idempotency_key(shipment_id, action, partner), **fields)


def retry_policy(timings: ShipmentTimings, maximum_attempts: int | None = None) -> RetryPolicy:
    """Backoff from the shipment's timings; undos pass their own attempt limit. A partner's rejection is final."""
    attempts = timings.retry_maximum_attempts if maximum_attempts is None else maximum_attempts
    return RetryPolicy(initial_interval=timings.retry_initial_interval, backoff_coefficient=2.0,
                       maximum_interval=timings.retry_maximum_interval, maximum_attempts=attempts,
                       non_retryable_error_types=[PARTNER_REJECTED])


async def run_activity(timings: ShipmentTimings, method: Any, arg: Any) -> Any:
    """One activity on the shipment's timeout and retry policy."""
    return await workflow.execute_activity_method(method, arg, start_to_close_timeout=timings.activity_timeout,
                                                  retry_policy=retry_policy(timings))
