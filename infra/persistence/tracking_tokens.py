"""The public tracking page's tokens: the digest of each shipment's token, to find the shipment a link names.

A token is `tradelane.tracking_page.tracking_token(secret, shipment_id)`; it is recorded with each projection of the
shipment (inside the projection's transaction, once per secret), so a link in an e-mail works as soon as the
e-mail is queued. Rows are never rewritten: after the tracking secret is rotated, links already sent keep working
and new ones use the new secret.
"""

from sqlmodel import Field, Session, SQLModel, select

from tradelane.tracking_page import is_token, token_digest, tracking_token


class TrackingTokenRow(SQLModel, table=True):
    __tablename__ = "tracking_tokens"

    token_digest: str = Field(primary_key=True, max_length=64)
    """SHA-256 of the token (hex): the table alone does not give the links away."""
    shipment_id: str = Field(index=True, max_length=64)


def record_token(session: Session, shipment_id: str, secret: str) -> None:
    """Add the shipment's token under `secret` unless it is there (in the caller's transaction)."""
    digest = token_digest(tracking_token(secret, shipment_id))
    if session.get(TrackingTokenRow, digest) is None:
        session.add(TrackingTokenRow(token_digest=digest, shipment_id=shipment_id))


def shipment_of_token(session: Session, token: str) -> str | None:
    """The shipment a token belongs to, or None (also for anything not shaped like a token)."""
    if not is_token(token):
        return None
    return session.exec(select(TrackingTokenRow.shipment_id).where(
        TrackingTokenRow.token_digest == token_digest(token))).first()
