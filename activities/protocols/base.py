"""What every partner protocol adapter offers the shipment's activities, and what it is given to do it.

An adapter speaks one published format (a carrier's API through Karrio, DCSA for ocean lines, or Tradelane's own
dialect where no standard exists). The activities pick the adapter from the partner's connection
(`tradelane.connections`) and never see the wire format. Adapters raise `ApplicationError`s typed for the retry
policy (`activities.errors`): rejected (4xx, not retried), unavailable (5xx, timeouts; retried), rate limited
(429, retried after Retry-After), bad response (a success whose body does not parse; not retried), lookup
unsupported (the protocol cannot find a record by idempotency key; not retried, listed for ops).
"""

from dataclasses import dataclass, field
from typing import Protocol

import httpx
from temporalio.exceptions import ApplicationError

from tradelane.connections import PartnerProtocol
from tradelane.decisions.models import Quote
from tradelane.models import ShipmentRequest
from tradelane.shipment.calls import PartnerCall, PartnerRecord
from tradelane.shipment.events import CarrierEvent
from tradelane.shipment.undo import LOOKUP_UNSUPPORTED


@dataclass(frozen=True)
class Endpoint:
    """One partner connection, resolved for a call: where it is and how to sign in.

    Attributes:
        partner: The connection's name (`ups`, `bluewave`, ...): what records and events are filed under.
        base_url: The partner's API root, without a trailing slash (the sandbox's emulator in development).
        credentials: The connection's credentials by field (`client_id`, `client_secret`, `account_number`,
            `api_key`, ...), read from settings or secrets; never logged.
        options: Protocol options from the connection (`carrier` for Karrio, `service`, ...), not secret.
        timeout_s: One timeout for every phase of a call, shorter than the activity's start-to-close limit.
    """

    partner: str
    base_url: str
    credentials: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0


IDEMPOTENT_CREATE = frozenset({PartnerProtocol.KARRIO})
"""Protocols without a lookup by key whose create Tradelane can send again under the step's key and get the same
record back: the Karrio carriers, through the transaction header each carries the key in (UPS `transId`, FedEx
`x-customer-transaction-id`, DHL `Message-Reference`), the same assumption every retry of their steps rests on.
Not DCSA: Booking 2.0 defines no idempotency, so a second create is a second booking."""


def replays_create(protocol: PartnerProtocol) -> bool:
    """Whether a step of `protocol` whose outcome is unknown may be sent again under its key to learn what it made
    (`activities.lookup.find_or_replay`)."""
    return protocol in IDEMPOTENT_CREATE


def lookup_unsupported(partner: str, kind: str, why: str) -> ApplicationError:
    """The error of a lookup by idempotency key the partner's published API does not offer: not retried; the step
    goes on the reconciliation list as `outcome_unknown`, for ops to check with the partner."""
    return ApplicationError(f"{partner} cannot be asked for a {kind} by idempotency key: {why}; check with the "
                            "partner by the shipment's references", "LOOKUP_UNSUPPORTED", type=LOOKUP_UNSUPPORTED,
                            non_retryable=True)


class CarrierProtocol(Protocol):
    """A carrier's operations in Tradelane's terms.

    Every mutating call sends `call.idempotency_key` in the partner's own idempotency header, and in
    `Idempotency-Key` where the partner has none, so a retried activity never books twice.
    """

    async def quote(self, http: httpx.AsyncClient, endpoint: Endpoint, request: ShipmentRequest,
                    origin: str | None, destination: str | None) -> Quote: ...

    async def book(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        """Book the (leg of the) shipment: a `booking` record whose `ref` later calls act on, with the
        tracking number (or the carrier's booking reference for ocean) when the carrier gives one."""
        ...

    async def cancel_booking(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        """Undo of `book`: state `cancelled`; cancelling what is already cancelled succeeds."""
        ...

    async def create_label(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        """A `label` record (state `created`) with the tracking number the parcels carry."""
        ...

    async def void_label(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        """Undo of `create_label`: state `voided`; voiding what is already voided succeeds."""
        ...

    async def find(self, http: httpx.AsyncClient, endpoint: Endpoint, kind: str,
                   idempotency_key: str) -> PartnerRecord | None:
        """The `kind` record (`booking`, `label`, `slot`) the partner made under `idempotency_key`, or None when it
        holds none: how a step whose outcome is unknown is resolved. A protocol that cannot be asked by key raises
        a non-retryable `PartnerLookupUnsupported` (`tradelane.shipment.undo.LOOKUP_UNSUPPORTED`)."""
        ...

    async def handover(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> None:
        """The goods are handed to the carrier; where the carrier pushes events, subscribe `call.events_url`."""
        ...

    async def track(self, http: httpx.AsyncClient, endpoint: Endpoint, shipment_id: str, booking_ref: str,
                    tracking_number: str | None) -> list[CarrierEvent]:
        """Every event the carrier reports for the booking so far, oldest first, each with a stable `event_id`
        and its status mapped to Tradelane's vocabulary (`unknown` for a code no table knows; never dropped)."""
        ...
