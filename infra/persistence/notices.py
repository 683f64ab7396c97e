"""From a workflow's notices to outbox messages: who hears about what, in which language, and when.

Called inside the read-model projection's transaction (`infra/persistence/db.py`), so a snapshot and the messages it
implies are committed together or not at all (a transactional outbox). One notice becomes up to three messages:
- the recipient's e-mail, in their locale, held back during their quiet hours (only notices that concern them);
- the merchant's signed webhook, for every notice, without personal data;
- an ops alert e-mail for exceptions and for endings other than delivered.
A terminal notice also withdraws the customer's e-mails it makes untrue (`enqueue_notices`).
"""

from decimal import Decimal

from sqlmodel import Session

from infra.persistence.merchants import MerchantContact, merchant_contact
from infra.persistence.outbox import Channel, OutboxMessage, enqueue, reached, withdraw
from infra.platform.notice_config import NoticeConfig
from tradelane.notify import (
    Money,
    NoticeFacts,
    negotiate_locale,
    recipient_timezone,
    release_time,
    render_notice,
    render_ops_alert,
    webhook_payload,
)
from tradelane.shipment.projection import ProjectionUpdate
from tradelane.shipment.state import TERMINAL_NOTICES, WITHDRAWN_AT_END, Notice
from tradelane.tracking_page import tracking_token


def outbox_messages(update: ProjectionUpdate, config: NoticeConfig) -> list[OutboxMessage]:
    """The messages for `update.notices` (ids are stable: a retried projection enqueues the same ids)."""
    messages: list[OutboxMessage] = []
    for notice in update.notices:
        messages += _messages(update, notice, config)
    return messages


_ENDINGS = frozenset(TERMINAL_NOTICES.values())


def enqueue_notices(session: Session, update: ProjectionUpdate, config: NoticeConfig) -> int:
    """Enqueue `update.notices`' messages inside the projection's transaction; a terminal notice (compensated,
    rejected, cancelled) first withdraws what is no longer true.

    A terminal notice withdraws the customer e-mails of earlier notices still unsent (`WITHDRAWN_AT_END`: a
    "booked" held by quiet hours must not arrive after the shipment was undone). Its own customer e-mail goes only
    to a customer who was already told something: an e-mail of the shipment sent or being sent before; a customer
    whose only e-mails were just withdrawn never heard of the shipment and hears nothing now.

    Returns:
        How many messages were added.
    """
    shipment_id = update.state.shipment_id
    merchant = merchant_contact(session, update.state.merchant_id)  # its profile, read in this transaction
    messages: list[OutboxMessage] = []
    added = 0
    for notice in update.notices:
        if notice.kind in _ENDINGS:
            added += enqueue(session, messages)  # earlier notices of this snapshot are withdrawn like stored ones
            messages = []
            told = reached(session, shipment_id, audience="customer", channel=Channel.EMAIL)
            withdraw(session, shipment_id, audience="customer", kinds=[k.value for k in WITHDRAWN_AT_END],
                     reason=f"withdrawn: the shipment ended {notice.kind.value} before this was sent",
                     now=notice.at)
            notice = notice if told else notice.model_copy(update={"customer": False})
        messages += _messages(update, notice, config, merchant)
    return added + enqueue(session, messages)


def _facts(update: ProjectionUpdate, notice: Notice, config: NoticeConfig,
           merchant: MerchantContact | None = None) -> NoticeFacts:
    state = update.state
    eta = notice.eta
    # The link names the shipment by its unguessable token, never by the carrier's (sequential) number.
    secret = config.tracking_secret.get_secret_value() if config.tracking_secret else None
    tracking_url = (f"{config.tracking_url.rstrip('/')}/{tracking_token(secret, state.shipment_id)}"
                    if config.tracking_url and secret and state.tracking_number else None)
    return NoticeFacts(
        kind=notice.kind, shipment_id=state.shipment_id, order_ref=update.order_ref,
        merchant=merchant.display_name if merchant else state.merchant_id,
        merchant_support=merchant.support if merchant else None,
        merchant_logo_url=merchant.logo_url if merchant else None,
        tracking_number=state.tracking_number, tracking_url=tracking_url,
        destination_country=state.destination_country,
        eta_expected=eta.expected if eta else None, eta_earliest=eta.earliest if eta else None,
        eta_latest=eta.latest if eta else None, promised=notice.promised_date, occurred_at=notice.at,
        location=notice.location, exception=notice.exception, attempt=notice.attempt,
        duties_due=_duties_due(update))


def _duties_due(update: ProjectionUpdate) -> Money | None:
    """Under DAP the recipient pays duties and taxes on delivery: they should know the amount beforehand."""
    assessment = update.state.assessment
    cost = assessment.landed_cost if assessment else None
    if cost is None or cost.buyer_pays <= Decimal("0"):
        return None
    return Money(amount=cost.buyer_pays, currency=cost.currency)


def _messages(update: ProjectionUpdate, notice: Notice, config: NoticeConfig,
              merchant: MerchantContact | None = None) -> list[OutboxMessage]:
    state, recipient = update.state, update.recipient
    facts = _facts(update, notice, config, merchant)
    if notice.kind in _ENDINGS:
        # Nothing will be delivered, so no duties are due and no ETA holds (the notice copies the state's last
        # estimate); the reason code is for the merchant and ops.
        facts = facts.model_copy(update={"duties_due": None, "eta_expected": None, "eta_earliest": None,
                                         "eta_latest": None, "reason_code": notice.reason_code})
    base = f"{state.shipment_id}:{notice.seq}"
    common = {"shipment_id": state.shipment_id, "notice_id": base, "kind": notice.kind.value,
              "created_at": notice.at}
    out: list[OutboxMessage] = []
    if notice.customer and recipient is not None and recipient.email:
        locale = negotiate_locale(recipient.locale, country=recipient.country)
        zone = recipient_timezone(recipient.country, recipient.region)
        mail = render_notice(facts, locale, zone)
        out.append(OutboxMessage(
            id=f"{base}:email:customer", channel=Channel.EMAIL, audience="customer", recipient=recipient.email,
            locale=mail.locale, subject=mail.subject, body_text=mail.text, body_html=mail.html,
            not_before=release_time(notice.at, zone, config.quiet_hours), **common))
    url = config.merchant_webhooks.get(state.merchant_id, config.default_merchant_webhook)
    if url:
        out.append(OutboxMessage(
            id=f"{base}:webhook:merchant", channel=Channel.WEBHOOK, audience="merchant", recipient=url,
            locale="en", subject=f"shipment.{notice.kind.value}", body_text="", payload=webhook_payload(facts),
            not_before=notice.at, **common))
    if notice.ops and config.ops_email:
        alert = render_ops_alert(facts)
        out.append(OutboxMessage(
            id=f"{base}:email:ops", channel=Channel.EMAIL, audience="ops", recipient=config.ops_email,
            locale=alert.locale, subject=alert.subject, body_text=alert.text, body_html=alert.html,
            not_before=notice.at, **common))
    return out
