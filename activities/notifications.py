"""Notification delivery activity: sends a shipment's due outbox rows by e-mail and signed webhook.

At-least-once with stable ids: every send carries the outbox id (e-mail Message-ID, webhook ``Tradelane-Event-Id``)
so a message sent again after a crash between sending and recording can be dropped by its receiver.

Outcomes, per row:
- accepted (SMTP 250, HTTP 2xx): `sent`;
- refused for good (SMTP 5xx for the recipient or the content; HTTP 4xx other than 408 and 429): `failed` at once,
  reported in `DeliveryReport.failed` and not raised, since retrying cannot help;
- anything else (connection refused, timeouts, SMTP 4xx, HTTP 5xx/408/429/3xx): back to pending, and the activity
  raises a retryable `NOTIFICATION_UNDELIVERED` error *after* recording, so Temporal retries with backoff; after
  `max_attempts` claims the row is `failed` instead;
- a message that cannot be built (a line break in a header: `ValueError`) fails the same way every time: `failed`
  at once, like a permanent refusal.

Two deliverers share this code: the `notifications.deliver` activity, which a running shipment workflow runs after
each snapshot with notices and when held messages come due, and the `OutboxRelay`, which each worker runs to send
the messages that came due after their workflow closed (a delivered or compensated shipment's e-mail held for the
recipient's quiet hours). Claims are exclusive, so both may run at once.

Every row that ends `failed` becomes a dead letter (`infra.persistence.dead_letters`) with one ops alert, so nothing
is retried forever and nothing is dropped silently; a row whose every claim expired without an outcome (the
deliverer died or hung each time) is not claimed past `max_attempts` either. An error of the activity itself that
will fail the same way again (`activities.poison`) is raised non-retryable.
"""

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import quote

import aiosmtplib
import httpx
import structlog
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.poison import deterministic, non_retryable, type_name
from infra.persistence import dead_letters
from infra.persistence.db import ShipmentRow
from infra.persistence.dead_letters import ALERT_KIND, DeadLetterKind
from infra.persistence.outbox import (
    Channel,
    OutboxRow,
    OutboxState,
    claim_due,
    give_up_exhausted,
    mark_failed,
    mark_sent,
    next_due,
)
from infra.platform.notice_config import MailSettings
from infra.platform.webhooks import MerchantSecrets, NoWebhookSecret, signed_headers

log = structlog.stdlib.get_logger(__name__)

NOTIFICATION_UNDELIVERED = "NotificationUndelivered"
"""Some notifications failed transiently and are pending again: retried with backoff."""

MESSAGE_ID_DOMAIN = "tradelane"

UNKNOWN_ERROR_ATTEMPTS = 20
"""Attempts of the activity after which an error neither known transient nor known deterministic is given up."""

DEAD_LETTERS_METRIC = "tradelane_dead_letters_recorded"
"""Counter of dead letters recorded by the worker, by `kind` (the API's gauge counts the open ones)."""


class DeliverRequest(BaseModel):
    """Deliver whatever is due for one shipment."""

    shipment_id: str


class DeliveryReport(BaseModel):
    """What one delivery run did."""

    sent: list[str] = Field(default_factory=list)
    """Outbox ids accepted by their receivers in this run."""
    failed: list[str] = Field(default_factory=list)
    """Outbox ids given up in this run (permanent rejection, or the last allowed attempt)."""
    next_due: datetime | None = None
    """Earliest `not_before` still pending (quiet hours), so the workflow can sleep until then."""


class ClaimsExhausted(Exception):
    """Every claim of a row expired without an outcome recorded (its deliverers died or hung)."""


class DeliveryFailed(Exception):
    """A send did not reach its receiver.

    Attributes:
        permanent: The receiver refused the message for good; retrying cannot help.
    """

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def message_id(outbox_id: str) -> str:
    """The e-mail Message-ID of an outbox row, the same on every send: ``<S-1.3.email.customer@tradelane>``.

    The outbox id's colons become dots and other characters outside RFC 5322's dot-atom are percent-escaped:
    a colon is not allowed in a Message-ID, and Python's own parser cuts the header at the first one.
    """
    parts = (quote(part, safe="-_~").replace(".", "%2E") or "_" for part in outbox_id.split(":"))
    return f"<{'.'.join(parts)}@{MESSAGE_ID_DOMAIN}>"


def build_email(row: OutboxRow, sender: str, now: datetime) -> EmailMessage:
    """The e-mail for an outbox row: text, plus an HTML alternative when the row has one.

    Args:
        row: An e-mail row.
        sender: The From header.
        now: The send time, for the Date header.
    """
    message = EmailMessage()
    message["Message-ID"] = message_id(row.id)
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["From"] = sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    # RFC 3834: an automatic message; auto-responders must not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.body_text)
    if row.body_html is not None:
        message.add_alternative(row.body_html, subtype="html")
    # After the bodies: turning the message multipart moves every Content-* header into its first part.
    message["Content-Language"] = row.locale
    return message


def webhook_body(row: OutboxRow) -> bytes:
    """The exact bytes a webhook row posts (and signs)."""
    if row.payload is None:
        raise DeliveryFailed(f"{row.id}: webhook row has no payload", permanent=True)
    return json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()


def http_failure(row: OutboxRow, response: httpx.Response) -> DeliveryFailed:
    """A webhook answer that is not 2xx: permanent for 4xx other than 408 (timeout) and 429 (rate limit)."""
    status = response.status_code
    permanent = 400 <= status < 500 and status not in (408, 429)
    return DeliveryFailed(f"{row.id}: {row.recipient} answered HTTP {status}: {response.text[:300]}",
                          permanent=permanent)


def smtp_failure(row: OutboxRow, relay: str, err: aiosmtplib.SMTPException) -> DeliveryFailed:
    """An SMTP error at `relay` (``host:port``) as a `DeliveryFailed`, permanent only when the relay refused this
    message for good."""
    # Only a 5xx about this message (its recipient, its content) is final; a 5xx about our sender address, login
    # or greeting is a relay configuration problem an operator can fix while the retries continue.
    if isinstance(err, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in err.recipients]
        return DeliveryFailed(f"{row.id}: SMTP {relay}: recipient refused: {err}",
                              permanent=all(c >= 500 for c in codes))
    if isinstance(err, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return DeliveryFailed(f"{row.id}: SMTP {relay}: {err.code} {err.message}", permanent=err.code >= 500)
    return DeliveryFailed(f"{row.id}: SMTP {relay}: {type(err).__name__}: {err}", permanent=False)


class NotificationActivities:
    """Delivers outbox rows.

    Args:
        engine: The read-model database holding the outbox.
        mail: The SMTP relay.
        http: Client for webhooks (each request gets `webhook_timeout_s` anyway).
        webhook_secrets: Each merchant's HMAC secrets (its own, never another's), which it verifies signatures with.
        max_attempts: Claims of a row before a transient failure gives up on it.
        lease: How long a claim holds before another deliverer may take the row over.
        batch: Rows claimed at a time; `lease` must cover sending all of them.
        webhook_timeout_s: Timeout of each webhook request step.
        clock: Current time (UTC); tests move it to expire leases.
        ops_email: Where a dead letter's alert goes; no alert when None (the dead letter is still recorded).

    Raises:
        ValueError: The lease cannot cover a batch of sends at their time limits.
    """

    def __init__(
        self,
        engine: Engine,
        mail: MailSettings,
        http: httpx.AsyncClient,
        webhook_secrets: MerchantSecrets,
        *,
        max_attempts: int = 10,
        lease: timedelta = timedelta(minutes=2),
        batch: int = 5,
        webhook_timeout_s: float = 10,
        clock: Callable[[], datetime] | None = None,
        ops_email: str | None = None,
    ) -> None:
        if max_attempts < 1 or batch < 1:
            raise ValueError(f"max_attempts={max_attempts}, batch={batch}: both must be at least 1")
        self._engine = engine
        self._mail = mail
        self._http = http
        self._secrets = webhook_secrets
        self._max_attempts = max_attempts
        self._lease = lease
        self._batch = batch
        self._webhook_timeout = webhook_timeout_s
        self._clock = clock or (lambda: datetime.now(UTC))
        self._ops_email = ops_email
        # Every SMTP step and HTTP phase has its own timeout; this caps a whole send, so a claim's lease is known
        # to outlast the batch and no row is sent twice by live deliverers.
        self._send_deadline_s = 2 * max(mail.timeout_s, webhook_timeout_s)
        if lease.total_seconds() <= batch * self._send_deadline_s:
            raise ValueError(f"lease: {lease.total_seconds():.0f} s cannot cover batch={batch} sends of up to "
                             f"{self._send_deadline_s:.0f} s each; raise lease, or lower batch or the timeouts")

    async def send(self, row: OutboxRow) -> None:
        """Send one claimed row by its channel, within the per-send time limit; records nothing.

        Raises:
            DeliveryFailed: The receiver did not accept it (see `DeliveryFailed.permanent`).
        """
        try:
            async with asyncio.timeout(self._send_deadline_s):
                if row.channel == Channel.EMAIL:
                    await self._send_email(row)
                elif row.channel == Channel.WEBHOOK:
                    await self._post_webhook(row)
                else:
                    raise DeliveryFailed(f"{row.id}: channel {row.channel!r} is not one of "
                                         f"{', '.join(Channel)}", permanent=True)
        except TimeoutError as err:
            raise DeliveryFailed(f"{row.id}: no answer within {self._send_deadline_s:.0f} s",
                                 permanent=False) from err
        except (ValueError, TypeError) as err:
            # The message itself cannot be built or encoded (a header holding a line break): every retry would
            # fail the same way, so it is refused for good, like a receiver's permanent refusal.
            raise DeliveryFailed(f"{row.id}: the {row.channel} cannot be built: {type(err).__name__}: {err}",
                                 permanent=True) from err

    async def _send_email(self, row: OutboxRow) -> None:
        mail = self._mail
        message = build_email(row, mail.sender, self._clock())
        try:
            await aiosmtplib.send(
                message,
                sender=parseaddr(mail.sender)[1],
                recipients=[row.recipient],
                hostname=mail.host,
                port=mail.port,
                username=mail.username,
                password=mail.password.get_secret_value() if mail.password else None,
                start_tls=mail.start_tls,
                timeout=mail.timeout_s,
            )
        except aiosmtplib.SMTPException as err:
            raise smtp_failure(row, f"{mail.host}:{mail.port}", err) from err
        except OSError as err:  # refused connection, unreachable host: aiosmtplib lets some through unwrapped
            raise DeliveryFailed(f"{row.id}: SMTP {mail.host}:{mail.port}: {err}", permanent=False) from err

    async def _post_webhook(self, row: OutboxRow) -> None:
        body = webhook_body(row)
        merchant = await asyncio.to_thread(self._merchant_of, row)
        try:
            secrets = self._secrets.of(merchant)
        except NoWebhookSecret as err:
            raise DeliveryFailed(f"{row.id}: {err}", permanent=True) from None
        headers = {"Content-Type": "application/json",
                   **signed_headers(secrets, row.id, int(self._clock().timestamp()), body, merchant=merchant)}
        try:
            response = await self._http.post(row.recipient, content=body, headers=headers,
                                             timeout=self._webhook_timeout)
        except httpx.TransportError as err:
            raise DeliveryFailed(f"{row.id}: {row.recipient}: {type(err).__name__}: {err}", permanent=False) from err
        if not response.is_success:
            raise http_failure(row, response)

    def _merchant_of(self, row: OutboxRow) -> str:
        """The merchant a webhook row goes to (whose secrets sign it): its shipment's, from the read model."""
        with Session(self._engine) as session:
            shipment = session.get(ShipmentRow, row.shipment_id)
        if shipment is None:
            raise DeliveryFailed(f"{row.id}: shipment {row.shipment_id} is not in the read model, so its merchant "
                                 "(whose secret signs the webhook) is unknown", permanent=True)
        return shipment.merchant_id

    @activity.defn(name="notifications.deliver")
    async def deliver(self, req: DeliverRequest) -> DeliveryReport:
        """Send the shipment's due rows and record each outcome.

        Raises:
            ApplicationError: Retryable `NOTIFICATION_UNDELIVERED` when some rows failed transiently; raised after
                every outcome is recorded, with this run's report as details. Non-retryable `DeadLettered` when the
                delivery itself failed in a way a retry would repeat (`activities.poison`).
        """
        report = DeliveryReport()
        retrying: list[str] = []
        try:
            await self._deliver_due(req.shipment_id, report, retrying)
        except Exception as err:
            attempt = activity.info().attempt if activity.in_activity() else 1
            if deterministic(err, attempt=attempt, max_attempts=UNKNOWN_ERROR_ATTEMPTS):
                log.error("notifications_given_up", shipment_id=req.shipment_id, error=type_name(err),
                          attempt=attempt)
                raise non_retryable(err, f"{req.shipment_id}: notification delivery") from err
            raise
        log.info("notifications_delivered", shipment_id=req.shipment_id, sent=len(report.sent),
                 failed=len(report.failed), retrying=len(retrying), next_due=report.next_due)
        if retrying:
            raise ApplicationError(
                f"{req.shipment_id}: {len(retrying)} notification(s) not delivered yet ({', '.join(retrying)}); "
                "they are pending and go out on the retry",
                report.model_dump(mode="json"),
                type=NOTIFICATION_UNDELIVERED,
            )
        return report

    async def relay(self, *, overdue: timedelta = timedelta(0)) -> DeliveryReport:
        """Send every shipment's rows due at least `overdue` ago and record each outcome (the `OutboxRelay`'s
        round). A row that fails transiently stays pending for the next round, until `max_attempts` claims.

        Returns:
            What this round did (`next_due` is not computed: the relay looks again every round).
        """
        report = DeliveryReport()
        retrying: list[str] = []
        await self._deliver_due(None, report, retrying, overdue=overdue)
        if report.sent or report.failed or retrying:
            log.info("outbox_relayed", sent=len(report.sent), failed=len(report.failed), retrying=len(retrying))
        return report

    async def _deliver_due(self, shipment_id: str | None, report: DeliveryReport, retrying: list[str], *,
                           overdue: timedelta = timedelta(0)) -> None:
        exhausted = await asyncio.to_thread(give_up_exhausted, self._engine, self._clock(),
                                            max_attempts=self._max_attempts, shipment_id=shipment_id)
        for row in exhausted:
            report.failed.append(row.id)
            await self._dead_letter(row, ClaimsExhausted(row.last_error or "claims exhausted"))
        # Given up earlier by a deliverer that died before recording the dead letter: recorded now.
        for row in await asyncio.to_thread(dead_letters.failed_unrecorded, self._engine, shipment_id=shipment_id):
            report.failed.append(row.id)
            await self._dead_letter(row, DeliveryFailed(row.last_error or "given up", permanent=True))
        while True:
            rows = await asyncio.to_thread(claim_due, self._engine, self._clock(), shipment_id=shipment_id,
                                           lease=self._lease, limit=self._batch, max_attempts=self._max_attempts,
                                           overdue=overdue)
            for row in rows:
                if activity.in_activity():
                    activity.heartbeat(row.id)  # a worker killed mid-batch is noticed in a minute, not at the limit
                await self._deliver_one(row, report, retrying)
            # A full batch may mean more are due; a retrying row would only be claimed again at once.
            if len(rows) < self._batch or retrying:
                break
        # Dead letters' alerts enqueued in this run are due now: the workflow comes back for them at once.
        if shipment_id is not None:
            report.next_due = await asyncio.to_thread(next_due, self._engine, shipment_id)

    async def _dead_letter(self, row: OutboxRow, err: BaseException) -> None:
        """Record a failed row as a dead letter, alerting ops unless the row is itself a dead letter's alert."""
        cause = err.__cause__ if isinstance(err, DeliveryFailed) and err.__cause__ is not None else err
        new = await asyncio.to_thread(
            dead_letters.record, self._engine, DeadLetterKind.NOTIFICATION, row.id, shipment_id=row.shipment_id,
            attempts=row.attempts, error=cause, now=self._clock(), ops_email=self._ops_email,
            alert=row.kind != ALERT_KIND, redact=(row.recipient,))
        log.error("notification_dead_lettered", shipment_id=row.shipment_id, message_id=row.id,
                  channel=row.channel, attempts=row.attempts, error=type_name(cause), new=new)
        if new and activity.in_activity():
            activity.metric_meter().create_counter(
                DEAD_LETTERS_METRIC, "Dead letters recorded").add(1, {"kind": DeadLetterKind.NOTIFICATION.value})

    async def _deliver_one(self, row: OutboxRow, report: DeliveryReport, retrying: list[str]) -> None:
        try:
            await self.send(row)
        except DeliveryFailed as err:
            state = await asyncio.to_thread(mark_failed, self._engine, row.id, str(err), self._clock(),
                                            max_attempts=self._max_attempts, permanent=err.permanent,
                                            attempt=row.attempts)
            log.warning("notification_failed", shipment_id=row.shipment_id, message_id=row.id,
                        channel=row.channel, attempt=row.attempts, permanent=err.permanent, state=state,
                        error=str(err))
            if state is OutboxState.FAILED:
                report.failed.append(row.id)
                await self._dead_letter(row, err)
            elif state is OutboxState.PENDING:
                retrying.append(row.id)
            # None: our lease expired and another deliverer took the row over; its outcome is the one recorded.
            return
        await asyncio.to_thread(mark_sent, self._engine, row.id, self._clock())
        report.sent.append(row.id)


class OutboxRelay:
    """Sends the outbox's messages that no workflow waits for: each round, every shipment's rows due at least
    `overdue` ago (a running workflow delivers its own rows when they come due; a closed one left them here).

    Args:
        notifications: The deliverer (SMTP relay, webhook secrets, attempt limits) the rounds use.
        every: Time between rounds.
        overdue: How long past its due time a row is left to its shipment's workflow.
    """

    def __init__(self, notifications: NotificationActivities, *, every: timedelta,
                 overdue: timedelta = timedelta(0)) -> None:
        if every <= timedelta(0):
            raise ValueError(f"every: {every.total_seconds()} s; the relay needs a positive interval")
        self._notifications = notifications
        self._every = every
        self._overdue = overdue

    async def round(self) -> DeliveryReport:
        """One round: send what is due now."""
        return await self._notifications.relay(overdue=self._overdue)

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until `stop` is set. A round that fails (the database unreachable, say) is logged and the next
        round tries again: the rows stay in the outbox meanwhile, and the worker goes on serving workflows."""
        log.info("outbox_relay_started", every_s=self._every.total_seconds(),
                 overdue_s=self._overdue.total_seconds())
        while not stop.is_set():
            try:
                await self.round()
            except Exception as err:  # every failure waits for the next round; none stops the worker
                log.error("outbox_relay_round_failed", error=type_name(err), detail=str(err)[:500])
            try:
                await asyncio.wait_for(stop.wait(), self._every.total_seconds())
            except TimeoutError:
                continue
