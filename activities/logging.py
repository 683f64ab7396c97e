"""Binds the shipment and workflow ids into structlog's context for every activity, so each log line has them."""

from typing import Any

import structlog
from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from tradelane.keys import shipment_id_of


class LogContextInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindIds(next)


class _BindIds(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        with structlog.contextvars.bound_contextvars(
            shipment_id=shipment_id_of(info.workflow_id or ""), workflow_id=info.workflow_id,
            activity=info.activity_type, attempt=info.attempt,
        ):
            return await super().execute_activity(input)
