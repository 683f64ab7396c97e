"""Notification delivery: the outbox relay sends due outbox rows by e-mail and signed webhook, in batches.

At-least-once with stable ids: every send carries the outbox id (e-mail Message-ID, webhook ``Tradelane-Event-Id``)
so a message sent again after a crash between sending and recording can be dropped by its receiver.

Outcomes, per row:
- accepted (SMTP 250, HTTP 2xx): `sent`;
- refused for good (SMTP 5xx for the recipient or the content; HTTP 4xx other than 408 and 429): `failed` at once,
  reported in `DeliveryReport.failed` and not raised, since retrying cannot help;
- anything else (connection refused, timeouts, SMTP 4xx, HTTP 5xx/408/429/3xx): back to pending, due again after
  `retry_delay` for the relay (the activity instead raises a retryable `NOTIFICATION_UNDELIVERED` error *after*
  recording, so Temporal retries with backoff); after `max_attempts` claims the row is `failed` instead;
- a message that cannot be built (a line break in a header: `ValueError`) fails the same way every time: `failed`
  at once, like a permanent refusal.

The `OutboxRelay` is the delivery path: each round it claims many due rows in one statement, sends their e-mails
over one SMTP connection per batch and their webhooks side by side, and records the batch's outcomes in one
transaction; it runs every `TRADELANE_OUTBOX_RELAY_EVERY_S` (half a second) and goes again at once after a full
batch. A transient failure puts the row back with a backoff (`retry_delay`), since the relay has no Temporal retry.
The `notifications.deliver` activity remains for shipments whose history predates the relay (`RELAY_DELIVERS`):
their workflows still have it send their rows, through the same batch code. Claims are exclusive, so both, and any
number of relays, may run at once.

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
    SendFailure,
    claim_due,
    give_up_exhausted,
    next_due,
    record_outcomes,
)
from infra.platform.notice_config import MailSettings
from infra.platform.webhooks import MerchantSecrets, NoWebhookSecret, signed_headers

log = structlog.stdlib.get_logger(__name__)

NOTIFICATION_UNDELIVERED = "NotificationUndelivered"
"""Some notifications failed transiently and are pending again: retried with backoff."""

MESSAGE_ID_DOMAIN = "tradelane"

UNKNOWN_ERROR_ATTEMPTS = 20
"""Attempts of the activity after which an error neither known transient nor known deterministic is given up."""

WEBHOOK_CONCURRENCY = 8
"""Webhooks of one batch posted at a time (over the shared HTTP client's kept-alive connections)."""

RETRY_FIRST = timedelta(seconds=2)
RETRY_MAX = timedelta(minutes=5)
"""The relay's backoff after a transient failure: 2 s, doubling per attempt, at most 5 minutes (as the workflow's
delivery activity was retried); with 10 attempts a message is given up after about 13 minutes of failures."""

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


def retry_delay(attempt: int) -> timedelta:
    """How long a row waits after the transient failure of its `attempt`-th claim (1-based) before the relay tries
    it again."""
    return min(RETRY_FIRST * 2 ** max(attempt - 1, 0), RETRY_MAX)


class SmtpBatch:
    """One SMTP connection shared by a batch's e-mails, opened at the first and closed with the batch.

    A refusal of one message (its recipient, its content) leaves the connection usable for the next. A failure of
    the connection itself (refused, dropped, timed out, a relay answering out of turn) ends it: the batch's later
    e-mails are not tried, and fail transiently with the same cause, instead of each waiting for its own timeout.

    Args:
        mail: The SMTP relay.
        deadline_s: Time limit of one e-mail, connecting included.
    """

    def __init__(self, mail: MailSettings, deadline_s: float) -> None:
        self._mail = mail
        self._deadline_s = deadline_s
        self._smtp: aiosmtplib.SMTP | None = None
        self._broken: str | None = None
        self.connections = 0
        """Connections opened so far (for logs and tests)."""

    @property
    def relay(self) -> str:
        return f"{self._mail.host}:{self._mail.port}"

    async def send(self, row: OutboxRow, message: EmailMessage) -> None:
        """Send one built e-mail.

        Raises:
            DeliveryFailed: Not accepted (see `DeliveryFailed.permanent`), or not tried: the connection had failed.
        """
        if self._broken is not None:
            raise DeliveryFailed(f"{row.id}: not tried: {self._broken}", permanent=False)
        mail = self._mail
        try:
            async with asyncio.timeout(self._deadline_s):
                if self._smtp is None:
                    self._smtp = aiosmtplib.SMTP(
                        hostname=mail.host, port=mail.port, username=mail.username,
                        password=mail.password.get_secret_value() if mail.password else None,
                        start_tls=mail.start_tls, timeout=mail.timeout_s)
                    self.connections += 1
                    await self._smtp.connect()
                await self._smtp.send_message(message, sender=parseaddr(mail.sender)[1], recipients=[row.recipient])
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as err:
            raise smtp_failure(row, self.relay, err) from err  # about this message: the connection goes on
        except aiosmtplib.SMTPException as err:
            raise self._break(smtp_failure(row, self.relay, err)) from err
        except TimeoutError as err:  # before OSError, its base class
            raise self._break(DeliveryFailed(f"{row.id}: SMTP {self.relay}: no answer within "
                                             f"{self._deadline_s:.0f} s", permanent=False)) from err
        except OSError as err:  # refused connection, unreachable host: aiosmtplib lets some through unwrapped
            raise self._break(DeliveryFailed(f"{row.id}: SMTP {self.relay}: {err}", permanent=False)) from err

    def _break(self, failure: DeliveryFailed) -> DeliveryFailed:
        """The connection is unusable after `failure`: later e-mails of the batch are not tried."""
        self._broken = f"SMTP {self.relay} failed earlier in this batch: {str(failure).split(': ', 1)[-1]}"
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            smtp.close()  # in an unknown state: dropped, not reused
        return failure

    async def aclose(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await asyncio.wait_for(smtp.quit(), self._mail.timeout_s)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()  # the messages are recorded already; a relay that drops QUIT changes nothing


class NotificationActivities:
    """Delivers outbox rows.

    Args:
        engine: The read-model database holding the outbox.
        mail: The SMTP relay.
        http: Client for webhooks (each request gets `webhook_timeout_s` anyway).
        webhook_secrets: Each merchant's HMAC secrets (its own, never another's), which it verifies signatures with.
        max_attempts: Claims of a row before a transient failure gives up on it.
        lease: How long a claim holds before another deliverer may take the row over.
        batch: Rows the `deliver` activity claims at a time; `lease` must cover sending all of them (the relay's
            batches are bigger: a row whose send could outlast the claim is not started, see `send_batch`).
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
        """Send one claimed row by its channel, within the per-send time limit (on a connection of its own for an
        e-mail); records nothing.

        Raises:
            DeliveryFailed: The receiver did not accept it (see `DeliveryFailed.permanent`).
        """
        smtp = SmtpBatch(self._mail, self._send_deadline_s)
        try:
            failure = await self._send_guarded(row, smtp)
        finally:
            await smtp.aclose()
        if failure is not None:
            raise failure

    async def send_batch(self, rows: list[OutboxRow], *, lease_left: Callable[[], float] | None = None,
                         ) -> list[DeliveryFailed | None]:
        """Send claimed rows: the e-mails one after another over one SMTP connection, the webhooks alongside,
        `WEBHOOK_CONCURRENCY` at a time, each shipment's to one merchant in the rows' order (oldest first). Records
        nothing.

        Args:
            rows: Claimed rows.
            lease_left: Seconds left of the batch's claim; a row is not started when its send could outlast it (it
                fails transiently instead), so no live deliverer sends a row another may have claimed since.

        Returns:
            Per row, in order: None when accepted, else why not.
        """
        outcomes: list[DeliveryFailed | None] = [None] * len(rows)
        smtp = SmtpBatch(self._mail, self._send_deadline_s)
        webhooks = asyncio.Semaphore(WEBHOOK_CONCURRENCY)

        async def one(index: int) -> None:
            row = rows[index]
            if lease_left is not None and lease_left() <= self._send_deadline_s:
                outcomes[index] = DeliveryFailed(f"{row.id}: not tried: the batch's claim would expire before a "
                                                 "send could end", permanent=False)
                return
            if activity.in_activity():
                activity.heartbeat(row.id)  # a worker killed mid-batch is noticed in a minute, not at the limit
            outcomes[index] = await self._send_guarded(row, smtp)

        async def emails() -> None:
            for index, row in enumerate(rows):
                if row.channel == Channel.EMAIL:
                    await one(index)

        async def in_order(indexes: list[int]) -> None:
            # One merchant's webhooks of one shipment go one after another, oldest first: `shipment.delivered` never
            # overtakes `shipment.out_for_delivery`. Other shipments' go alongside.
            for index in indexes:
                async with webhooks:
                    await one(index)

        streams: dict[tuple[str, str], list[int]] = {}
        for index, row in enumerate(rows):
            if row.channel != Channel.EMAIL:
                streams.setdefault((row.shipment_id, row.recipient), []).append(index)
        def age(index: int) -> tuple[datetime, datetime, int]:
            row = rows[index]  # a notice's sequence number, not its id's text: notice 10 comes after notice 9
            seq = row.notice_id.rsplit(":", 1)[-1]
            return row.not_before, row.created_at, int(seq) if seq.isdigit() else 0

        try:
            await asyncio.gather(emails(), *(in_order(sorted(indexes, key=age)) for indexes in streams.values()))
        finally:
            await smtp.aclose()
        return outcomes

    async def _send_guarded(self, row: OutboxRow, smtp: SmtpBatch) -> DeliveryFailed | None:
        """Send one row; its failure returned, not raised."""
        try:
            if row.channel == Channel.EMAIL:
                # Built first: a message that cannot be built fails alone, not the connection.
                await smtp.send(row, build_email(row, self._mail.sender, self._clock()))
                return None
            async with asyncio.timeout(self._send_deadline_s):
                if row.channel == Channel.WEBHOOK:
                    await self._post_webhook(row)
                else:
                    raise DeliveryFailed(f"{row.id}: channel {row.channel!r} is not one of "
                                         f"{', '.join(Channel)}", permanent=True)
        except DeliveryFailed as failure:
            return failure
        except TimeoutError:
            return DeliveryFailed(f"{row.id}: no answer within {self._send_deadline_s:.0f} s", permanent=False)
        except (ValueError, TypeError) as err:
            # The message itself cannot be built or encoded (a header holding a line break): every retry would
            # fail the same way, so it is refused for good, like a receiver's permanent refusal.
            unbuildable = DeliveryFailed(f"{row.id}: the {row.channel} cannot be built: {type(err).__name__}: {err}",
                                         permanent=True)
            unbuildable.__cause__ = err  # the dead letter names the cause's type
            return unbuildable
        return None

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
        """Send the shipment's due rows and record each outcome: the workflows of shipments from before the relay
        delivered (`RELAY_DELIVERS`) run this after each snapshot with notices.

        Raises:
            ApplicationError: Retryable `NOTIFICATION_UNDELIVERED` when some rows failed transiently; raised after
                every outcome is recorded, with this run's report as details. Non-retryable `DeadLettered` when the
                delivery itself failed in a way a retry would repeat (`activities.poison`).
        """
        report = DeliveryReport()
        retrying: list[str] = []
        try:
            await self._sweep(req.shipment_id, report)
            while True:
                claimed = await self._deliver_batch(req.shipment_id, report, retrying, limit=self._batch)
                # A full batch may mean more are due; a retrying row would only be claimed again at once.
                if claimed < self._batch or retrying:
                    break
            # Dead letters' alerts enqueued in this run are due now: the workflow comes back for them at once.
            report.next_due = await asyncio.to_thread(next_due, self._engine, req.shipment_id)
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

    async def relay(self, *, overdue: timedelta = timedelta(0), batch: int = 50, sweep: bool = True,
                    ) -> DeliveryReport:
        """One round of the `OutboxRelay`: send every shipment's rows due at least `overdue` ago, `batch` at a time
        until fewer than a batch are due, and record each batch's outcomes. A row that fails transiently is due
        again after `retry_delay`, until `max_attempts` claims.

        Args:
            overdue: Only rows due at least this long ago.
            batch: Rows claimed (in one statement) and sent per batch.
            sweep: Also give up rows whose claims are exhausted and record dead letters a killed deliverer left.

        Returns:
            What this round did (`next_due` is not computed: the relay looks again every round).
        """
        report = DeliveryReport()
        retrying: list[str] = []
        if sweep:
            await self._sweep(None, report)
        while await self._deliver_batch(None, report, retrying, limit=batch, overdue=overdue,
                                        backoff=True) >= batch:
            pass
        if report.sent or report.failed or retrying:
            log.info("outbox_relayed", sent=len(report.sent), failed=len(report.failed), retrying=len(retrying))
        return report

    async def _sweep(self, shipment_id: str | None, report: DeliveryReport) -> None:
        """Dead letters for rows whose every claim expired, and for rows a killed deliverer failed unrecorded."""
        exhausted = await asyncio.to_thread(give_up_exhausted, self._engine, self._clock(),
                                            max_attempts=self._max_attempts, shipment_id=shipment_id)
        for row in exhausted:
            report.failed.append(row.id)
            await self._dead_letter(row, ClaimsExhausted(row.last_error or "claims exhausted"))
        # Given up earlier by a deliverer that died before recording the dead letter: recorded now.
        for row in await asyncio.to_thread(dead_letters.failed_unrecorded, self._engine, shipment_id=shipment_id):
            report.failed.append(row.id)
            await self._dead_letter(row, DeliveryFailed(row.last_error or "given up", permanent=True))

    async def _deliver_batch(self, shipment_id: str | None, report: DeliveryReport, retrying: list[str], *,
                             limit: int, overdue: timedelta = timedelta(0), backoff: bool = False) -> int:
        """Claim up to `limit` due rows in one statement, send them, and record their outcomes in one transaction;
        `backoff`: a transient failure waits `retry_delay` (else it is due again at once, for Temporal's retry).

        Returns:
            How many rows were claimed.
        """
        loop = asyncio.get_running_loop()
        claimed_at = loop.time()
        rows = await asyncio.to_thread(claim_due, self._engine, self._clock(), shipment_id=shipment_id,
                                       lease=self._lease, limit=limit, max_attempts=self._max_attempts,
                                       overdue=overdue)
        if not rows:
            return 0
        lease_s = self._lease.total_seconds()
        outcomes = await self.send_batch(rows, lease_left=lambda: lease_s - (loop.time() - claimed_at))
        now = self._clock()
        failures = {row.id: (row, failure) for row, failure in zip(rows, outcomes, strict=True) if failure is not None}
        sent = [row.id for row, failure in zip(rows, outcomes, strict=True) if failure is None]
        states = await asyncio.to_thread(
            record_outcomes, self._engine, now, sent=sent, max_attempts=self._max_attempts,
            failed=[SendFailure(row.id, row.attempts, str(failure), failure.permanent,
                                retry_at=now + retry_delay(row.attempts) if backoff else None)
                    for row, failure in failures.values()])
        report.sent.extend(sent)
        for row_id, (row, failure) in failures.items():
            state = states[row_id]
            log.warning("notification_failed", shipment_id=row.shipment_id, message_id=row.id,
                        channel=row.channel, attempt=row.attempts, permanent=failure.permanent, state=state,
                        error=str(failure))
            if state is OutboxState.FAILED:
                report.failed.append(row.id)
                await self._dead_letter(row, failure)
            elif state is OutboxState.PENDING:
                retrying.append(row.id)
            # None: our lease expired and another deliverer took the row over; its outcome is the one recorded.
        return len(rows)

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


class OutboxRelay:
    """Delivers the outbox: every shipment's due rows, in batches, round after round.

    A round with nothing due costs one indexed read; after an empty or partial round the relay waits `every`
    (half a second by default, so a notice goes out within about that of being due), after a full one it goes on.

    Args:
        notifications: The deliverer (SMTP relay, webhook secrets, attempt limits) the rounds use.
        every: Time between rounds that found less than a batch.
        overdue: Only rows due at least this long ago (0: as soon as they are due).
        batch: Rows claimed and sent together.
        sweep_every: How often a round also gives up rows whose claims are exhausted and records dead letters a
            killed deliverer left (the first round always does).
    """

    def __init__(self, notifications: NotificationActivities, *, every: timedelta,
                 overdue: timedelta = timedelta(0), batch: int = 50,
                 sweep_every: timedelta = timedelta(seconds=10)) -> None:
        if every <= timedelta(0):
            raise ValueError(f"every: {every.total_seconds()} s; the relay needs a positive interval")
        if batch < 1:
            raise ValueError(f"batch: {batch}; the relay claims at least one row at a time")
        self._notifications = notifications
        self._every = every
        self._overdue = overdue
        self._batch = batch
        self._sweep_every = sweep_every.total_seconds()
        self._swept_at: float | None = None

    async def round(self) -> DeliveryReport:
        """One round: send what is due now."""
        now = asyncio.get_running_loop().time()
        sweep = self._swept_at is None or now - self._swept_at >= self._sweep_every
        if sweep:
            self._swept_at = now
        return await self._notifications.relay(overdue=self._overdue, batch=self._batch, sweep=sweep)

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until `stop` is set. A round that fails (the database unreachable, say) is logged and the next
        round tries again: the rows stay in the outbox meanwhile, and the worker goes on serving workflows."""
        log.info("outbox_relay_started", every_s=self._every.total_seconds(),
                 overdue_s=self._overdue.total_seconds(), batch=self._batch)
        while not stop.is_set():
            try:
                await self.round()
            except Exception as err:  # every failure waits for the next round; none stops the worker
                log.error("outbox_relay_round_failed", error=type_name(err), detail=str(err)[:500])
            try:
                await asyncio.wait_for(stop.wait(), self._every.total_seconds())
            except TimeoutError:
                continue
