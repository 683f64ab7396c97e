"""M's webhook ingress: the smallest receiver a user would put in front of their workflow.

    python -m bench.minimal_ingress --port 8300      # settings from TRADELANE_* (Temporal address, partner secrets)

`POST /v1/carrier-events` (the path partners post to, so the sandbox needs no other configuration): the bearer key
names the partner, the `Tradelane-Signature` HMAC is checked against that partner's secret (the ones the sandbox
signs with), the partner's code is mapped to a status, and the event is signalled to workflow
`minimal:<shipment_id>`, one signal per request. No database, no receipts, no query before the signal: the
workflow drops a repeated event id itself.
"""

import argparse
import contextlib
import json
import time
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.client import Client
from temporalio.service import RPCError

from bench.minimal import SIGNAL, workflow_id
from devstack.up import sandbox_config
from infra.platform.settings import Settings, get_settings
from infra.platform.temporal import connect
from infra.platform.webhooks import SIGNATURE_HEADER, WebhookSignatureError, verify
from tradelane.connections import directory
from tradelane.tracking_codes import EVENTS_PATH, normalise


def build_app(settings: Settings, client: Client | None = None) -> Starlette:
    """The ingress; `client` is connected on startup when not given."""
    config = sandbox_config(settings)
    partners = {config.partner_key(p): p for p in directory().connections}
    holder: dict[str, Client] = {} if client is None else {"client": client}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if "client" not in holder:
            holder["client"] = await connect(settings)
        yield

    async def carrier_event(request: Request) -> JSONResponse:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        partner = partners.get(key) if scheme.lower() == "bearer" else None
        if partner is None:
            return JSONResponse({"detail": "Authorization: a partner's bearer key is required"}, status_code=401)
        body = await request.body()
        try:
            verify(config.partner_secret(partner), request.headers.get(SIGNATURE_HEADER), body, int(time.time()))
        except WebhookSignatureError as err:
            return JSONResponse({"detail": str(err)}, status_code=401)
        try:
            event = json.loads(body)
            shipment_id, event_id, code = event["shipment_id"], event["event_id"], event["code"]
        except (ValueError, KeyError, TypeError) as err:
            return JSONResponse({"detail": f"body: a JSON event with shipment_id, event_id and code ({err})"},
                                status_code=422)
        status = normalise(partner, code)
        try:
            await holder["client"].get_workflow_handle(workflow_id(shipment_id)).signal(
                SIGNAL, {"partner": partner, "event_id": event_id, "status": status.value})
        except RPCError as err:
            return JSONResponse({"detail": f"shipment_id: no running workflow for {shipment_id} ({err.message})"},
                                status_code=404)
        return JSONResponse({"event_id": event_id, "status": status.value}, status_code=202)

    return Starlette(routes=[Route(EVENTS_PATH, carrier_event, methods=["POST"])], lifespan=lifespan)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.minimal_ingress", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(build_app(get_settings()), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
