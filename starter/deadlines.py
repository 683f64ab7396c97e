"""A deadline on every call the API makes to Temporal, so a slow or absent server costs a caller seconds, not minutes.

The SDK's `rpc_timeout` bounds one gRPC attempt, but the client retries an unreachable server on its own for about
half a minute; `asyncio.timeout` bounds the whole call, retries included. A call past its deadline, or one made
before the (lazy) client could connect, is raised as an `RPCError` (DEADLINE_EXCEEDED, UNAVAILABLE), which
`starter.errors` answers as 503 with Retry-After.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import (
    CancelWorkflowInput,
    Client,
    DescribeWorkflowInput,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    TerminateWorkflowInput,
    WorkflowExecutionDescription,
    WorkflowHandle,
    WorkflowUpdateHandle,
)
from temporalio.service import RPCError, RPCStatusCode

__all__ = ["TemporalDeadline", "with_deadline"]

T = TypeVar("T")

NOT_CONNECTED = "Failed client connect"
"""How the SDK's lazy client says it could not reach the server yet (a RuntimeError, not an RPCError)."""


class TemporalDeadline(Interceptor):
    """Gives each client call without its own `rpc_timeout` the default one, and bounds the call as a whole by it."""

    def __init__(self, default: timedelta) -> None:
        self.default = default

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Bounded(next, self.default)


class _Bounded(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, default: timedelta) -> None:
        super().__init__(next)
        self._default = default

    async def _call(self, call: Callable[[Any], Awaitable[T]], input: Any) -> T:
        input.rpc_timeout = input.rpc_timeout or self._default
        limit = input.rpc_timeout.total_seconds()
        try:
            async with asyncio.timeout(limit):
                return await call(input)
        except TimeoutError:
            raise RPCError(f"Temporal did not answer within {limit:g} s", RPCStatusCode.DEADLINE_EXCEEDED,
                           b"") from None
        except RuntimeError as err:
            if NOT_CONNECTED not in str(err):
                raise
            raise RPCError(f"Temporal is not reachable: {err}", RPCStatusCode.UNAVAILABLE, b"") from None

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        return await self._call(self.next.start_workflow, input)

    async def describe_workflow(self, input: DescribeWorkflowInput) -> WorkflowExecutionDescription:
        return await self._call(self.next.describe_workflow, input)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        return await self._call(self.next.query_workflow, input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        await self._call(self.next.signal_workflow, input)

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
        return await self._call(self.next.start_workflow_update, input)

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:
        await self._call(self.next.cancel_workflow, input)

    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:
        await self._call(self.next.terminate_workflow, input)


def with_deadline(client: Client, seconds: float) -> Client:
    """`client` (same connection, converter and interceptors) with `TemporalDeadline` innermost."""
    config = client.config()
    config["interceptors"] = [*config["interceptors"], TemporalDeadline(timedelta(seconds=seconds))]
    return Client(**config)
