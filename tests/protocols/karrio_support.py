"""What the Karrio adapter tests share: a recording carrier on `httpx.MockTransport`, fixtures, UPS's contract.

Carrier answers are fixtures in `fixtures/karrio/`, written by hand in each carrier's published format. UPS
requests and answers are checked against UPS's own OpenAPI files (MIT, `/work/shared/specs/ups`).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.request.exceptions import InvalidRequestBody

from tradelane.models import ShipmentRequest
from tradelane.shipment.calls import PartnerCall

FIXTURES = Path(__file__).parent / "fixtures" / "karrio"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
UPS_SPECS = Path("/work/shared/specs/ups")

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def answer(name: str, status: int = 200, **headers: str) -> httpx.Response:
    """A fixture as the carrier's answer (JSON or XML by the file's extension)."""
    kind = "application/xml" if name.endswith(".xml") else "application/json"
    return httpx.Response(status, content=fixture(name).encode(), headers={"Content-Type": kind, **headers})


def shipment(name: str = "high-value-us-jp.json") -> ShipmentRequest:
    return ShipmentRequest.model_validate_json((EXAMPLES / name).read_text())


def call(request: ShipmentRequest | None = None, ref: str | None = None, key: str = "SHP-1:book:ups") -> PartnerCall:
    return PartnerCall(shipment_id="SHP-2026-000207", partner="ups", idempotency_key=key, request=request, ref=ref)


@dataclass
class RecordingCarrier:
    """A carrier on a mock transport: answers by (method, path), records every request it is sent."""

    routes: dict[tuple[str, str], Answer]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            return httpx.Response(404, json={"error": f"no route {request.method} {request.url.path}"})
        return route(request) if callable(route) else route

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def json(self, method: str, path: str) -> dict:
        return json.loads(self.sent(method, path)[-1].content)


class UpsContract:
    """UPS's OpenAPI files, for checking what the adapter sends and what the fixtures answer."""

    def __init__(self) -> None:
        # Tracking.yaml itself fails the strict spec check (a `default: null` on a string), so specs are not
        # validated, only used.
        config = Config(spec_validator_cls=None)
        self.specs = {name: OpenAPI.from_file_path(str(UPS_SPECS / f"{name}.yaml"), config=config)
                      for name in ("Rating", "Shipping", "Tracking", "OAuthClientCredentials")}
        self.validated: set[str] = set()
        """Distinct payloads checked: `request <path>` or `response <fixture>`."""

    def _spec(self, path: str) -> tuple[OpenAPI, str]:
        if path.startswith("/security/"):
            return self.specs["OAuthClientCredentials"], "https://wwwcie.ups.com"
        name = {"rating": "Rating", "shipments": "Shipping", "track": "Tracking"}[path.split("/")[2]]
        return self.specs[name], "https://wwwcie.ups.com"

    def _mock(self, request: httpx.Request) -> MockRequest:
        spec, host = self._spec(request.url.path)
        query = dict(parse_qsl(request.url.query.decode()))
        return MockRequest(host, request.method.lower(), request.url.path, args=query,
                           headers=dict(request.headers), data=request.content or None,
                           content_type=request.headers.get("Content-Type", "application/json").split(";")[0])

    def check_request(self, request: httpx.Request, label: str, deviations: frozenset[str] = frozenset()) -> None:
        """Validate a request; `deviations` lists the schema errors Karrio's own encoding is known to make (the
        check fails on any other error, and on a listed one that no longer occurs, so the list stays true)."""
        spec, _ = self._spec(request.url.path)
        try:
            spec.validate_request(self._mock(request))
            found: set[str] = set()
        except InvalidRequestBody as err:
            found = {e.message for e in getattr(err.__cause__, "schema_errors", ())}
            if not found:
                raise
        assert found == set(deviations), f"{label}: unexpected {found - deviations}, gone {deviations - found}"
        self.validated.add(f"request {label}")

    def check_response(self, request: httpx.Request, fixture_name: str, status: int = 200) -> None:
        spec, _ = self._spec(request.url.path)
        spec.validate_response(self._mock(request), MockResponse(fixture(fixture_name).encode(), status_code=status,
                                                                 content_type="application/json"))
        self.validated.add(f"response {fixture_name}")
