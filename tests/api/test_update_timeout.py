"""An update that Temporal did not confirm within the SDK's RPC deadline (the benchmark met it under load: an
approval answered HTTP 500 `WorkflowUpdateRPCTimeoutOrCancelledError`) is a 503 in the API's envelope with
Retry-After, like every other "Temporal is away or slow" answer."""

import httpx
from fastapi import FastAPI
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from starter.errors import add_error_handlers


async def test_an_update_not_confirmed_in_time_is_a_503_with_retry_after():
    app = FastAPI()
    add_error_handlers(app)

    @app.post("/v1/shipments/{shipment_id}/approvals")
    async def approve(shipment_id: str) -> None:
        raise WorkflowUpdateRPCTimeoutOrCancelledError()

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
        answer = await api.post("/v1/shipments/SHP-1/approvals")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "TEMPORAL_UNAVAILABLE"
    assert int(answer.headers["Retry-After"]) > 0
