"""The UPS emulator against UPS's own OpenAPI files (/work/shared/specs/ups, MIT, read at test time, never copied):
every request Karrio builds and the emulator accepts, and every response the emulator sends, success or error, must
validate against the operation UPS published for it.

UPS's Shipping and Tracking files carry stray tab characters at line ends, which YAML refuses; they are stripped
before parsing (whitespace only). The files' own schema checks are skipped (Tracking declares a ``default`` of
nothing for a string), since what is under test is our traffic, not UPS's files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import karrio.core.models as km
import karrio.lib as lib
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.request.exceptions import InvalidRequestBody

from tests.sandbox.conftest import MakeSandbox
from tests.sandbox.test_emulator_karrio import CARRIERS, rate_request, shipment_request

SPECS_DIR = Path("/work/shared/specs/ups")
UPS_HOST = "https://wwwcie.ups.com"
"""UPS's test host; the emulator's ``/ups`` plays its part."""
UPS = CARRIERS["ups"]

pytestmark = [
    # openapi-core checks no OAuth2 security scheme (it warns so); the emulators' own tests check the tokens.
    pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning"),
]


def load(name: str) -> OpenAPI:
    text = (SPECS_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    return OpenAPI.from_dict(yaml.safe_load(re.sub(r"[ \t]+(?=\r?\n)", "", text)),
                             config=Config(spec_validator_cls=None))


KARRIO_DEVIATIONS: frozenset[tuple[str, str]] = frozenset({
    # Where Karrio 2026.1.32's UPS mapper writes what UPS's files do not allow. UPS's servers accept most of these
    # (the files are stricter than the service), and the emulator accepts all of them, as Tradelane must talk to it
    # through Karrio. Listed here, by (JSON path, failed keyword), so that any other deviation fails the test.
    ("RateRequest.Shipment.Service.Code", "minLength"),  # Karrio rates "all services" with code "11"
    ("ShipmentRequest.Request.SubVersion", "maxLength"),  # "v2409" where UPS wants "2409"
    ("ShipmentRequest.Shipment.ReferenceNumber", "type"),  # an object where UPS lists an array
    ("ShipmentRequest.Shipment.ShipmentServiceOptions.Notification.0.EMail.EMailAddress", "type"),
    ("ShipmentRequest.Shipment.ShipmentServiceOptions.InternationalForms.FormType", "type"),
    ("ShipmentRequest.Shipment.ShipmentServiceOptions.InternationalForms.Product.0.Description", "type"),
    ("ShipmentRequest.Shipment.ShipmentDate", "maxLength"),  # "2026-12-07" where UPS wants "20261207"
    ("ShipmentRequest.Shipment.Package.0.Dimensions.Length", "maxLength"),  # "11.81" inches, 3 characters allowed
    ("ShipmentRequest.Shipment.Package.0.Dimensions.Width", "maxLength"),
    ("ShipmentRequest.Shipment.Package.0.Dimensions.Height", "maxLength"),
})
"""Known places where Karrio's requests (not the emulator's answers) leave UPS's published schema."""


def validate_request(api: OpenAPI, request: MockRequest) -> list[str]:
    """Validates a request; returns the tolerated Karrio deviations found, raises on anything else."""
    try:
        api.validate_request(request)
    except InvalidRequestBody as exc:
        cause = exc.__cause__
        errors = getattr(cause, "schema_errors", None)
        if not errors:
            raise
        found = [(".".join(map(str, e.absolute_path)), str(e.validator)) for e in errors]
        unexpected = [f for f in found if f not in KARRIO_DEVIATIONS]
        if unexpected:
            raise AssertionError(f"request leaves UPS's schema beyond Karrio's known deviations: {unexpected}"
                                 ) from exc
        return [path for path, _ in found]
    return []


@pytest.fixture(scope="module")
def specs() -> dict[str, OpenAPI]:
    return {name: load(name) for name in ("OAuthClientCredentials", "Rating", "Shipping", "Tracking")}


@dataclass
class Checked:
    """Every exchange validated so far, as (spec, method, path template-ish, status)."""

    exchanges: list[tuple[str, str, str, int]] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)
    """Karrio's known deviations met in the requests (see `KARRIO_DEVIATIONS`)."""


@dataclass
class Ups:
    """A client of the UPS emulator that validates each request and response against UPS's files."""

    client: httpx.AsyncClient
    specs: dict[str, OpenAPI]
    checked: Checked
    token: str = ""

    async def call(self, spec: str, method: str, path: str, *, body: bytes | None = None,
                   headers: dict[str, str] | None = None, content_type: str = "application/json") -> httpx.Response:
        headers = {"content-type": content_type, **(headers or {})}
        if self.token:
            headers.setdefault("authorization", f"Bearer {self.token}")
        api = self.specs[spec]
        bare, _, query = path.partition("?")
        request = MockRequest(UPS_HOST, method.lower(), bare, args=dict(p.split("=", 1) for p in query.split("&") if p),
                              headers=headers, data=body, content_type=content_type)
        self.checked.deviations.extend(validate_request(api, request))
        response = await self.client.request(method, f"/ups{path}", content=body, headers=headers)
        api.validate_response(request, MockResponse(response.content, status_code=response.status_code,
                                                    headers=dict(response.headers),
                                                    content_type=response.headers.get("content-type", "")))
        self.checked.exchanges.append((spec, method, bare, response.status_code))
        return response

    async def sign_in(self, user: str = "tradelane-dev", secret: str = "dev-secret") -> httpx.Response:
        auth = httpx.BasicAuth(user, secret)
        header = auth._auth_header  # noqa: SLF001 - the Basic header httpx would send
        response = await self.call("OAuthClientCredentials", "POST", "/security/v1/oauth/token",
                                   body=b"grant_type=client_credentials", headers={"authorization": header},
                                   content_type="application/x-www-form-urlencoded")
        if response.status_code == 200:
            self.token = response.json()["access_token"]
        return response


@pytest.fixture
async def ups(make_sandbox: MakeSandbox, specs: dict[str, OpenAPI]) -> Ups:
    sb = await make_sandbox(seconds_per_day=0)
    return Ups(client=sb.client, specs=specs, checked=Checked())


def karrio_json(request: lib.Serializable) -> bytes:
    return lib.to_json(request.serialize()).encode()


async def ship(ups: Ups) -> tuple[str, httpx.Response]:
    request = UPS.mapper.create_shipment_request(shipment_request(UPS))
    response = await ups.call("Shipping", "POST", "/api/shipments/v2409/ship", body=karrio_json(request))
    assert response.status_code == 200, response.text
    shipment, _ = UPS.mapper.parse_shipment_response(lib.Deserializable(response.text, lib.to_dict, request.ctx))
    return shipment.tracking_number, response


TRACK_HEADERS = {"transId": "tradelane-0001", "transactionSrc": "tradelane"}


async def test_every_successful_exchange_matches_ups_openapi(ups: Ups) -> None:
    assert (await ups.sign_in()).status_code == 200
    rate = UPS.mapper.create_rate_request(rate_request(UPS))
    response = await ups.call("Rating", "POST", "/api/rating/v2409/Shop?additionalinfo=timeintransit",
                              body=karrio_json(rate))
    assert response.status_code == 200, response.text
    number, _ = await ship(ups)
    response = await ups.call("Tracking", "GET", f"/api/track/v1/details/{number}?locale=en_US&returnSignature=true",
                              headers=TRACK_HEADERS)
    assert response.status_code == 200, response.text
    response = await ups.call("Shipping", "DELETE", f"/api/shipments/v2409/void/cancel/{number}")
    assert response.status_code == 200, response.text
    assert [(spec, status) for spec, _, _, status in ups.checked.exchanges] == [
        ("OAuthClientCredentials", 200), ("Rating", 200), ("Shipping", 200), ("Tracking", 200), ("Shipping", 200)]


ERROR_CASES = [
    pytest.param("OAuthClientCredentials", 401, id="token-wrong-credentials"),
    pytest.param("Rating", 429, id="rate-rate-limited"),
    pytest.param("Shipping", 401, id="ship-without-token"),
    pytest.param("Shipping", 400, id="void-unknown-shipment"),
    pytest.param("Tracking", 404, id="track-unknown-number"),
    pytest.param("Tracking", 503, id="track-outage"),
]


@pytest.mark.parametrize(("spec", "status"), ERROR_CASES)
async def test_every_error_matches_ups_openapi(ups: Ups, spec: str, status: int) -> None:
    if spec == "OAuthClientCredentials":
        response = await ups.sign_in(user="", secret="")
    else:
        assert (await ups.sign_in()).status_code == 200
    if spec == "Rating":
        rate = UPS.mapper.create_rate_request(rate_request(UPS))
        response = await ups.call("Rating", "POST", "/api/rating/v2409/Shop", body=karrio_json(rate),
                                  headers={"X-Sandbox-Fault": "kind=rate_limit;retry_after_s=2"})
        assert response.headers["Retry-After"] == "2"
    elif spec == "Shipping" and status == 401:
        ups.token = ""
        request = UPS.mapper.create_shipment_request(shipment_request(UPS))
        response = await ups.call("Shipping", "POST", "/api/shipments/v2409/ship", body=karrio_json(request),
                                  headers={"authorization": "Bearer not-a-token"})
    elif spec == "Shipping":
        response = await ups.call("Shipping", "DELETE", "/api/shipments/v2409/void/cancel/1Z9999999999999999")
    elif spec == "Tracking":
        fault = {"X-Sandbox-Fault": "kind=outage"} if status == 503 else {}
        response = await ups.call("Tracking", "GET", "/api/track/v1/details/1Z9999999999999999",
                                  headers={**TRACK_HEADERS, **fault})
    assert response.status_code == status
    messages = UPS.mapper.parse_rate_response(lib.Deserializable(response.text, lib.to_dict, {"origin": "US"}))[1]
    assert messages and all(isinstance(m, km.Message) and m.code for m in messages)
