"""Merchant profiles: the name a shop is known by, how its customers reach it, its logo and its tax numbers.

Customer e-mails, the tracking page and the commercial invoice name the shop by its profile's display name; without
a profile they fall back to the merchant's id (its slug, e.g. `northwind-electronics`). A merchant's backend sets
its own profile through `PUT /v1/merchants/{merchant_id}/profile` (`starter/routes/merchants.py`, which validates
it); the projection reads it inside its own transaction (`infra/persistence/notices.py`). The logo (https only)
heads the customer's HTML e-mails and the tracking page, with the display name as its alternative text.
"""

from datetime import UTC, datetime

import structlog
from pydantic import BaseModel, ConfigDict
from sqlmodel import Field, Session, SQLModel

from tradelane.notify.render import https_url

log = structlog.stdlib.get_logger(__name__)


class MerchantProfileRow(SQLModel, table=True):
    __tablename__ = "merchant_profiles"

    merchant_id: str = Field(primary_key=True, max_length=64)
    display_name: str = Field(max_length=80)
    """The shop's name as its customers know it (`Northwind Electronics`)."""
    support_email: str | None = Field(default=None, max_length=254)
    support_url: str | None = Field(default=None, max_length=500)
    """Where customers ask about an order (https)."""
    logo_url: str | None = Field(default=None, max_length=500)
    """The shop's logo (https)."""
    ioss_number: str | None = Field(default=None, max_length=12)
    """EU Import One-Stop Shop number (`IM` + 10 digits), printed on invoices of goods whose VAT it collected."""
    eori_number: str | None = Field(default=None, max_length=17)
    """EU or UK EORI number, printed on invoices of goods it imports under DDP."""
    vat_number: str | None = Field(default=None, max_length=20)
    """VAT/GST registration in the destination, printed on invoices of goods whose destination tax it pays."""
    updated_at: datetime


class MerchantContact(BaseModel):
    """How messages and pages name a merchant and where its customers can ask about an order."""

    model_config = ConfigDict(frozen=True)

    display_name: str
    support: str | None = None
    """The support e-mail address, else the support URL; None when the profile names neither."""
    logo_url: str | None = None
    """The shop's logo, https only (`logo_of`); customer e-mails show it above their headline."""


PROFILE_FIELDS = ("display_name", "support_email", "support_url", "logo_url", "ioss_number", "eori_number",
                  "vat_number")


def get_profile(session: Session, merchant_id: str) -> MerchantProfileRow | None:
    """The merchant's profile, or None when it has not set one."""
    return session.get(MerchantProfileRow, merchant_id)


def save_profile(session: Session, merchant_id: str, values: dict[str, str | None]) -> MerchantProfileRow:
    """Replace the merchant's profile with `values` (validated by the caller; fields not given are cleared), in
    the caller's transaction."""
    row = session.get(MerchantProfileRow, merchant_id) or MerchantProfileRow(
        merchant_id=merchant_id, display_name=merchant_id, updated_at=datetime.now(UTC))
    for name in PROFILE_FIELDS:
        setattr(row, name, values.get(name))
    row.updated_at = datetime.now(UTC)
    session.add(row)
    return row


def merchant_contact(session: Session, merchant_id: str) -> MerchantContact:
    """The merchant's display name and support contact, in the caller's session; its id when it has no profile."""
    row = get_profile(session, merchant_id)
    if row is None:
        return MerchantContact(display_name=merchant_id)
    return MerchantContact(display_name=row.display_name, support=row.support_email or row.support_url,
                           logo_url=logo_of(row))


def logo_of(row: MerchantProfileRow | None) -> str | None:
    """The profile's logo URL when it is https, else None.

    The API stores nothing else (`starter/routes/merchants.py`); this keeps a row written another way (by hand, by
    an older version) from putting a `javascript:` or plain-http URL in an e-mail or page, and from failing the
    projection that renders the e-mails (which would retry it without end).
    """
    if row is None or row.logo_url is None:
        return None
    try:
        return https_url(row.logo_url)
    except ValueError:
        log.warning("merchant_logo_ignored", merchant_id=row.merchant_id, reason="not an https URL")
        return None
