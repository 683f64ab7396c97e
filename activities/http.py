"""Partner HTTP: the gateway every partner call goes through, and the one rule that translates a partner's answer
into Temporal's retry semantics, which every protocol adapter uses.

Activities never retry by themselves; they raise, and the activity's retry policy decides:
- 2xx: the JSON body (a body that is not JSON: non-retryable `PartnerBadResponse`);
- 429: retryable error whose next retry waits the partner's Retry-After;
- other 4xx: non-retryable `PartnerRejected` with the partner's reason code;
- 5xx, timeouts, connection errors: retryable `PartnerUnavailable`.
"""

from datetime import timedelta
from typing import Any

import httpx
from temporalio.exceptions import ApplicationError

from activities.errors import PARTNER_BAD_RESPONSE, PARTNER_RATE_LIMITED, PARTNER_REJECTED, PARTNER_UNAVAILABLE
from activities.protocols.base import CarrierProtocol, Endpoint
from infra.platform.partner_credentials import credentials
from tradelane.connections import PartnerProtocol, connection
from tradelane.partner_api import error_of


def retry_after(response: httpx.Response) -> timedelta | None:
    """The partner's Retry-After in seconds; None for none or an HTTP-date (the retry policy's backoff applies)."""
    value = response.headers.get("Retry-After")
    try:
        return timedelta(seconds=max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


async def send(http: httpx.AsyncClient, what: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request; a timeout or a transport failure is a retryable `PartnerUnavailable` naming `what`."""
    try:
        return await http.request(method, url, **kwargs)
    except httpx.TimeoutException as err:
        raise ApplicationError(f"{what}: timed out", type=PARTNER_UNAVAILABLE) from err
    except httpx.TransportError as err:
        raise ApplicationError(f"{what}: {type(err).__name__}: {err}", type=PARTNER_UNAVAILABLE) from err


def success_json(what: str, response: httpx.Response) -> Any:
    """The JSON body of a success; a body that is not JSON is a non-retryable `PartnerBadResponse`."""
    try:
        return response.json()
    except ValueError as err:
        raise ApplicationError(f"{what}: HTTP {response.status_code} with a body that is not JSON: "
                               f"{response.text[:200]!r}", type=PARTNER_BAD_RESPONSE, non_retryable=True) from err


def refusal(what: str, response: httpx.Response, code: str, message: str) -> ApplicationError:
    """The typed error of a partner's non-success answer, its code and message read from the partner's format:
    429 rate limited (after Retry-After), other 4xx rejected for good, anything else unavailable."""
    summary = f"{what}: HTTP {response.status_code} {code} {message}".strip()
    if response.status_code == 429:
        return ApplicationError(summary, code, type=PARTNER_RATE_LIMITED, next_retry_delay=retry_after(response))
    if 400 <= response.status_code < 500:
        return ApplicationError(summary, code, type=PARTNER_REJECTED, non_retryable=True)
    return ApplicationError(summary, code, type=PARTNER_UNAVAILABLE)


def partner_client(timeout_s: float) -> httpx.AsyncClient:
    """The HTTP client partners are called with, the worker's and the API's (quotes) alike: one timeout for every
    phase of a call, shorter than the activity's own start-to-close limit."""
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout_s))


class PartnerGateway:
    """Every partner call goes through here, over one shared HTTP client: the partner's connection says where it
    is (`tradelane.connections`), how to sign in and which protocol adapter speaks to it."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, environment: str = "development",
                 timeout_s: float = 10.0) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._environment = environment
        self._timeout_s = timeout_s
        self._adapters: dict[PartnerProtocol, CarrierProtocol] = {}
        self._endpoints: dict[str, Endpoint] = {}

    @property
    def http(self) -> httpx.AsyncClient:
        return self._http

    def endpoint(self, partner: str) -> Endpoint:
        """The partner's connection resolved for a call: address, credentials and options (resolved once per
        partner: the directory and the environment are read at start)."""
        if partner not in self._endpoints:
            row = connection(partner)
            self._endpoints[partner] = Endpoint(partner=partner, base_url=row.url(self._base),
                                                credentials=credentials(row, self._environment),
                                                options=dict(row.options), timeout_s=self._timeout_s)
        return self._endpoints[partner]

    def carrier(self, partner: str) -> CarrierProtocol:
        """The adapter that speaks the partner's protocol."""
        protocol = connection(partner).protocol
        if protocol not in self._adapters:
            self._adapters[protocol] = _adapter(protocol, self)
        return self._adapters[protocol]

    async def call(
        self,
        partner: str,
        operation: str,
        path: str,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        method: str = "POST",
    ) -> dict[str, Any]:
        """One partner call; raises ApplicationError typed for the retry policy."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        try:
            root = connection(partner).url(self._base)
        except KeyError as err:
            raise ApplicationError(f"{partner} {operation}: {err.args[0]}", "UNKNOWN_PARTNER",
                                   type=PARTNER_REJECTED, non_retryable=True) from None
        what = f"{partner} {operation}"
        response = await send(self._http, what, method, f"{root}/{path.lstrip('/')}", json=body, headers=headers)
        if response.is_success:
            answer: dict[str, Any] = success_json(what, response)
            return answer
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        raise refusal(what, response, *error_of(payload))


def _adapter(protocol: PartnerProtocol, gateway: PartnerGateway) -> CarrierProtocol:
    # Imported here: each adapter module pulls in its protocol's libraries (Karrio's carriers are heavy).
    if protocol is PartnerProtocol.KARRIO:
        from activities.protocols.karrio_parcel import KarrioParcel
        return KarrioParcel()
    if protocol is PartnerProtocol.DCSA:
        from activities.protocols.dcsa import DcsaOcean
        return DcsaOcean()
    from activities.protocols.tradelane_dialect import TradelaneCarrier
    return TradelaneCarrier(gateway)
