"""Who is signed in to the ops console, and the CSRF check of every form.

Signing in presents an ops key once; the browser then holds a session id in a cookie that is HttpOnly (no script
reads it), SameSite=Strict (no other site's page sends it), Secure outside development and scoped to `/console`.
The session lives in the database (`infra.persistence.console_sessions`), names the key's holder, and ends at
sign-out, at expiry, or when that key is no longer an ops key in the configuration. Every form carries the
session's CSRF token (the sign-in form a token of its own, in a cookie beside it: double submit), compared in
constant time; a request with a missing or wrong token changes nothing.

Only ops keys reach the console: a backend or partner key, whether presented at sign-in or in an `Authorization`
header, is answered 403.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from fastapi import Request
from fastapi.responses import Response

from infra.persistence.console_sessions import find_session
from starter.auth import KeyDirectory, Role, _presented_key

log = structlog.stdlib.get_logger(__name__)

COOKIE = "tradelane_console"
LOGIN_CSRF_COOKIE = "tradelane_console_login"
PATH = "/console"
LIFETIME = timedelta(hours=12)
"""One working day; then ops sign in again."""


@dataclass(frozen=True)
class Operator:
    """The person at the console: the name of the ops key they signed in with, and their session's CSRF token."""

    key_name: str
    csrf_token: str
    session_id: str | None = None
    """None when the request came with an ops key in a header (scripts): no forms are posted that way."""


class NotSignedIn(Exception):
    """No live session: pages send the browser to sign in, forms answer 401."""


class WrongRole(Exception):
    """A key that is not an ops key (backend, partner): 403."""

    def __init__(self, name: str, role: str) -> None:
        super().__init__(f"the key {name} is a {role} key; the console is for ops keys only")
        self.name, self.role = name, role


def secure_cookies(request: Request) -> bool:
    return bool(request.app.state.settings.environment != "development")


def operator(request: Request) -> Operator:
    """The signed-in operator of this request (raises `NotSignedIn` or `WrongRole`)."""
    keys: KeyDirectory = request.app.state.keys
    presented = _presented_key(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if presented is not None:
        caller = keys.caller(presented)
        if caller is None:
            raise NotSignedIn
        if caller.role is not Role.OPS:
            log.warning("console refused", caller=caller.name, role=caller.role.value, path=request.url.path)
            raise WrongRole(caller.name, caller.role.value)
        return Operator(key_name=caller.name, csrf_token="")
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        raise NotSignedIn
    row = find_session(request.app.state.engine, session_id, datetime.now(UTC))
    if row is None:
        raise NotSignedIn
    holder = keys.named(row.key_name)
    if holder is None or holder.role is not Role.OPS:
        log.warning("console session of a revoked key", caller=row.key_name)
        raise NotSignedIn
    structlog.contextvars.bind_contextvars(caller=row.key_name)
    return Operator(key_name=row.key_name, csrf_token=row.csrf_token, session_id=session_id)


def csrf_ok(expected: str, presented: str | None) -> bool:
    """Whether a form's token is the expected one (constant time; an empty expected token never matches)."""
    return bool(expected) and presented is not None and hmac.compare_digest(expected.encode(), presented.encode())


def set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(COOKIE, session_id, max_age=int(LIFETIME.total_seconds()), path=PATH, httponly=True,
                        secure=secure_cookies(request), samesite="strict")


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, secure=secure_cookies(request), samesite="strict")
