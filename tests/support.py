"""Test helpers that need no running service: example files, ids, stage order."""

import json
import time
import uuid
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx

from infra.platform.dev_secrets import dev_partner_key, dev_partner_secret
from infra.platform.settings import DEV_API_KEYS
from infra.platform.webhooks import signed_headers
from tradelane.enums import Stage
from tradelane.shipment.state import ShipmentState

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
VALID_EXAMPLES = sorted(EXAMPLES.glob("*.json"))
INVALID_EXAMPLES = sorted((EXAMPLES / "invalid").glob("*.json"))

# The sandbox's compressed clock for tests: a 22-day voyage plays out in under half a second.
SECONDS_PER_DAY = 0.02


def load_example(name: str, shipment_id: str | None = None) -> dict[str, Any]:
    """An example request; tests give each its own shipment id so runs never collide."""
    body = json.loads((EXAMPLES / name).read_text())
    if shipment_id is not None:
        body["shipment_id"] = shipment_id
    return body


POZNAN_WAREHOUSE = {
    "name": "Acme Fulfilment Poznan", "company": "Acme Trading Sp. z o.o.", "address_lines": ["ul. Skladowa 4"],
    "city": "Poznan", "postal_code": "61-897", "country": "PL", "phone": "+48 61 850 0000",
    "email": "ops@acme.example",
}


def by_road(shipment_id: str) -> dict[str, Any]:
    """basic-cn-de's parcel sent from the merchant's warehouse in Poland instead: RoadLink trucks it to Berlin (the
    balanced choice on the lane) and, unlike the express carriers Tradelane polls, pushes its tracking events to
    Tradelane's webhook. For tests of what partners post."""
    body = load_example("basic-cn-de.json", shipment_id)
    body["origin"] = dict(POZNAN_WAREHOUSE)
    return body


def in_country(party: dict[str, Any], country: str, **fields: Any) -> dict[str, Any]:
    """`party` moved to `country` (with `fields`): its postal code replaced by one of that country's format, or
    dropped where the country has none. Requests are checked for a postal code of their country."""
    from tradelane.models import POSTAL_FORMATS

    moved = {**party, "country": country, **fields}
    postal_format = POSTAL_FORMATS.get(country)
    if "postal_code" in fields:
        return moved
    if postal_format is None:
        moved.pop("postal_code", None)
    elif party.get("country") != country:
        moved["postal_code"] = postal_format.example
    return moved


def unique_id(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def stages_in_order(state: ShipmentState) -> list[Stage]:
    """The distinct stages a shipment went through, in the order it entered them."""
    seen: list[Stage] = []
    for t in state.transitions:
        if not seen or seen[-1] != t.stage:
            seen.append(t.stage)
    return seen


def role_for(method: str, path: str) -> str:
    """The role a well-behaved caller of this endpoint has: backends create, ops decide, partners post events."""
    if path.startswith("/v1/carrier-events"):
        return "partner"
    if method == "POST" and (path.endswith("/approvals") or path.endswith("/cancel")):
        return "ops"
    if path.startswith("/v1/inventory") and method != "GET" and not path.endswith("/sales"):
        return "ops"  # master data, stock corrections and replenishment runs
    if method == "GET":
        return "ops"
    return "backend"


class DevCallers(httpx.Auth):
    """Each request goes with the development key of the role that would send it (and partners sign their
    events), so workflow tests read as before; tests of access control set their own headers, which win."""

    requires_request_body = True

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "Authorization" not in request.headers and "X-API-Key" not in request.headers:
            role = role_for(request.method, request.url.path)
            if role == "partner":
                # The test speaks as the partner its event names (each partner has its own key and secret).
                body = request.content
                partner = _field(body, "partner") or "roadlink"
                request.headers["Authorization"] = f"Bearer {dev_partner_key(partner)}"
                if "Tradelane-Signature" not in request.headers:
                    request.headers.update(signed_headers(dev_partner_secret(partner), _field(body, "event_id"),
                                                          int(time.time()), body))
            else:
                request.headers["Authorization"] = f"Bearer {DEV_API_KEYS[role]}"
        yield request


def _field(body: bytes, name: str) -> str:
    """A text field of a JSON body fit for a header; empty when the body has none (fuzzed bodies)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    value = str(data.get(name, "")) if isinstance(data, dict) else ""
    return value if value.isascii() and value.isprintable() else ""
