"""The ops console's sign-in sessions, held in the database so every API process knows them and sign-out ends them.

The browser holds a random session id in an HttpOnly cookie; the table holds only its SHA-256 digest (a copy of the
table signs nobody in), the name of the ops key that signed in (what the audit log names), the session's CSRF token
and when it expires. Nothing about the session lives in the API process: any replica answers any request.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel


class ConsoleSessionRow(SQLModel, table=True):
    __tablename__ = "console_sessions"

    session_digest: str = Field(primary_key=True, max_length=64)
    """SHA-256 (hex) of the cookie's session id."""
    key_name: str = Field(max_length=120)
    csrf_token: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime = Field(index=True)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(engine: Engine, key_name: str, now: datetime, lifetime: timedelta) -> tuple[str, ConsoleSessionRow]:
    """A new session for `key_name`; returns the id for the cookie (never stored) and the row."""
    session_id = secrets.token_urlsafe(32)
    row = ConsoleSessionRow(session_digest=_digest(session_id), key_name=key_name,
                            csrf_token=secrets.token_urlsafe(32), created_at=now, expires_at=now + lifetime)
    with Session(engine) as db:
        # Expired sessions go when anyone signs in: the table holds the live ones and a few stale.
        db.exec(delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at <= now))  # type: ignore[call-overload]
        db.add(row)
        db.commit()
        db.refresh(row)
    return session_id, row


def find_session(engine: Engine, session_id: str, now: datetime) -> ConsoleSessionRow | None:
    """The live session with this id, or None (unknown, signed out or expired)."""
    with Session(engine) as db:
        row = db.get(ConsoleSessionRow, _digest(session_id))
    if row is None or row.expires_at <= now:
        return None
    return row


def close_session(engine: Engine, session_id: str) -> None:
    """Sign out: the session is gone for every API process."""
    with Session(engine) as db:
        db.exec(delete(ConsoleSessionRow).where(  # type: ignore[call-overload]
            ConsoleSessionRow.session_digest == _digest(session_id)))
        db.commit()
