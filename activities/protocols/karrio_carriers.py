"""Per carrier, what Karrio's own proxy would do on the wire: paths, sign-in and headers (a table, not if-chains).

Karrio's `Proxy` classes call urllib synchronously, without a timeout and without an idempotency header, so
Tradelane sends the requests itself (`karrio_parcel.py`) and takes from each proxy only the facts below, read from
`karrio/mappers/<carrier>/proxy.py` of the pinned Karrio (2026.1.32). Paths are relative to the connection's
`base_url`, so the same table reaches a carrier's test host, its production host or the sandbox's emulator.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from karrio.mappers import dhl_express, fedex, roadie, ups

NO_IO_URL = "file:///dev/null/karrio-no-io"
"""What Karrio sees as the carrier's server. A few Karrio parsers fetch extra documents themselves with urllib
(FedEx's tracking parser asks for a proof-of-delivery image when an event says delivered): pointed here, that
fetch fails at once without leaving the machine, and Karrio's parser carries on without the image."""


class Offline:
    """Settings mix-in: Karrio never learns a real server, because Tradelane does every HTTP call itself."""

    @property
    def server_url(self) -> str:
        return NO_IO_URL


class UpsSettings(Offline, ups.Settings):
    pass


class FedexSettings(Offline, fedex.Settings):
    pass


class RoadieSettings(Offline, roadie.Settings):
    pass


class DhlExpressSettings(Offline, dhl_express.Settings):
    """DHL Express (XML-PI) carries its idempotency reference in the body: `ServiceHeader/MessageReference`, which
    Karrio fills with a constant. Tradelane sets `message_reference` per call (28-32 characters, as DHL requires)."""

    message_reference: str | None = None

    def Request(self, **kwargs):  # noqa: N802 - Karrio's name
        request = super().Request(**kwargs)
        if self.message_reference:
            request.ServiceHeader.MessageReference = self.message_reference
        return request


class Auth(StrEnum):
    """How a carrier signs a call in."""

    OAUTH_BASIC = "oauth_basic"
    """OAuth client credentials, client id and secret as HTTP Basic on the token call (UPS)."""
    OAUTH_FORM = "oauth_form"
    """OAuth client credentials, client id and secret in the token call's form body (FedEx)."""
    BEARER_KEY = "bearer_key"
    """The API key itself as a bearer token (Roadie)."""
    IN_BODY = "in_body"
    """Site id and password inside every XML request's service header (DHL Express XML-PI)."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    """Relative to the connection's base URL; `{id}` is the shipment id or tracking number."""


@dataclass(frozen=True)
class KarrioCarrier:
    name: str
    """Karrio's carrier name, also the `carrier` option of a connection."""
    mapper: type
    settings: type
    auth: Auth
    xml: bool
    """Bodies are XML (DHL Express XML-PI) rather than JSON."""
    rate: Route
    ship: Route
    track: Route
    cancel: Route | None
    """None: the carrier (as Karrio speaks it) cannot cancel a shipment."""
    default_service: str
    """Karrio service name used to book when the connection names none."""
    token_path: str | None = None
    transaction_header: str | None = None
    """The carrier's own per-request id header, sent with a value derived from the idempotency key."""
    transaction_header_max: int = 64
    credentials: tuple[str, ...] = ()
    """Settings fields read from `endpoint.credentials`, in Karrio's names."""
    required: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    """Karrio field -> another credential name a connection may use for it."""
    extra_headers: dict[str, str] = field(default_factory=dict)


CARRIERS: dict[str, KarrioCarrier] = {
    "ups": KarrioCarrier(
        name="ups", mapper=ups.Mapper, settings=UpsSettings, auth=Auth.OAUTH_BASIC, xml=False,
        token_path="/security/v1/oauth/token",
        rate=Route("POST", "/api/rating/v2409/Shop?additionalinfo=timeintransit"),
        ship=Route("POST", "/api/shipments/v2409/ship"),
        cancel=Route("DELETE", "/api/shipments/v2409/void/cancel/{id}"),
        track=Route("GET", "/api/track/v1/details/{id}?locale=en_US&returnSignature=true"),
        default_service="ups_worldwide_saver",
        # UPS's transId is at most 32 characters (UPS API reference, request headers).
        transaction_header="transId", transaction_header_max=32,
        credentials=("client_id", "client_secret", "account_number"),
        required=("client_id", "client_secret"),
        extra_headers={"transactionSrc": "tradelane"},
    ),
    "fedex": KarrioCarrier(
        name="fedex", mapper=fedex.Mapper, settings=FedexSettings, auth=Auth.OAUTH_FORM, xml=False,
        token_path="/oauth/token",
        rate=Route("POST", "/rate/v1/rates/quotes"),
        ship=Route("POST", "/ship/v1/shipments"),
        cancel=Route("PUT", "/ship/v1/shipments/cancel"),
        track=Route("POST", "/track/v1/trackingnumbers"),
        default_service="fedex_international_priority",
        transaction_header="x-customer-transaction-id",
        credentials=("api_key", "secret_key", "account_number", "track_api_key", "track_secret_key"),
        required=("api_key", "secret_key", "account_number"),
        aliases={"api_key": "client_id", "secret_key": "client_secret"},
        extra_headers={"x-locale": "en_US"},
    ),
    "roadie": KarrioCarrier(
        name="roadie", mapper=roadie.Mapper, settings=RoadieSettings, auth=Auth.BEARER_KEY, xml=False,
        rate=Route("POST", "/v1/estimates"),
        ship=Route("POST", "/v1/shipments"),
        cancel=Route("DELETE", "/v1/shipments/{id}"),
        track=Route("GET", "/v1/shipments?ids={id}"),
        default_service="roadie_local_delivery",
        credentials=("api_key",),
        required=("api_key",),
    ),
    "dhl_express": KarrioCarrier(
        name="dhl_express", mapper=dhl_express.Mapper, settings=DhlExpressSettings, auth=Auth.IN_BODY, xml=True,
        rate=Route("POST", "/XMLShippingServlet"),
        ship=Route("POST", "/XMLShippingServlet"),
        track=Route("POST", "/XMLShippingServlet"),
        cancel=None,
        default_service="dhl_express_worldwide_nondoc",
        # XML-PI's MessageReference is 28-32 characters; the header repeats it for gateways that log headers.
        transaction_header="Message-Reference", transaction_header_max=32,
        credentials=("site_id", "password", "account_number"),
        required=("site_id", "password"),
        aliases={"site_id": "username"},
    ),
}
"""Every carrier `KarrioParcel` speaks, by Karrio name."""
