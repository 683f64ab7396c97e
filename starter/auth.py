"""Who may call what: API keys with roles, and partners' signed webhooks.

Every key belongs to one role. Backends create shipments and read them, for the merchants their key names only
(another merchant's shipment is answered as missing); ops decide approvals, cancel, read every merchant's
shipments and decode payloads in the Web UI; partners post tracking events. A key is sent as
`Authorization: Bearer <key>` (or `X-API-Key`). Keys are compared as SHA-256 digests in constant time, and only
the key's name is ever logged.
"""

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Annotated

import structlog
from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, SecretStr

from infra.platform.settings import ALL_MERCHANTS, ApiKey
from infra.platform.webhooks import SIGNATURE_HEADER, WebhookSignatureError, verify
from starter.errors import ApiError

log = structlog.stdlib.get_logger(__name__)


class Role(StrEnum):
    BACKEND = "backend"
    OPS = "ops"
    PARTNER = "partner"


class Caller(BaseModel):
    """The holder of the key a request came with, and the merchants it acts for."""

    name: str
    role: Role
    merchants: frozenset[str] | None = frozenset()
    """The merchants whose shipments, stock and sales this caller sees: None for every merchant (ops, and a
    development backend key with `"*"`), empty for partners."""

    def sees(self, merchant_id: str) -> bool:
        """Whether `merchant_id`'s data is this caller's to read or change."""
        return self.merchants is None or merchant_id in self.merchants

    def may_act_for(self, merchant_id: str) -> None:
        """Refuse (403, naming `merchant_id`) a request made for a merchant outside the caller's scope.

        403, not 404: the caller named the merchant itself, and the answer is the same whether that merchant
        exists or not, so it tells nothing about other merchants. Reads of another merchant's shipment answer 404
        instead, exactly as a missing one, so its id does not leak.
        """
        if not self.sees(merchant_id):
            log.warning("forbidden", caller=self.name, problem="merchant outside the key's scope")
            raise ApiError(403, "MERCHANT_FORBIDDEN",
                           f"merchant_id: this key acts for {', '.join(sorted(self.merchants or ()))} only, not "
                           f"'{merchant_id}'; use that merchant's own key",
                           fields=[{"field": "merchant_id", "message": "outside this API key's merchants"}])


def _scope(key: ApiKey) -> frozenset[str] | None:
    if key.role == Role.OPS or ALL_MERCHANTS in key.merchants:
        return None
    return frozenset(key.merchants)


CALLER_STATE = "caller"
"""Where middleware that already found a request's key holder leaves it (`scope["state"]`), for `authenticate`."""

READ = (Role.BACKEND, Role.OPS)
"""Reading shipments, their events and notifications, and quotes: backends and ops."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class KeyDirectory:
    """The configured keys, held as digests; `caller(key)` finds the holder of a presented key."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._keys = [(_digest(k.key.get_secret_value()), Caller(name=k.name, role=Role(k.role), merchants=_scope(k)))
                      for k in keys]

    def named(self, name: str) -> Caller | None:
        """The holder of the key called `name` (a console session names its key; a revoked key ends it)."""
        return next((caller for _, caller in self._keys if caller.name == name), None)

    def caller(self, presented: str) -> Caller | None:
        digest = _digest(presented)
        found = None
        # Compare with every key (no early exit), so timing does not tell how far a guess got.
        for known, caller in self._keys:
            if hmac.compare_digest(known, digest):
                found = caller
        return found


def _presented_key(authorization: str | None, api_key: str | None) -> str | None:
    if api_key:
        return api_key.strip()
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


BEARER = HTTPBearer(scheme_name="apiKey", auto_error=False,
                    description="A Tradelane API key, as `Authorization: Bearer <key>`.")
"""The API key's security scheme in the OpenAPI document, so the docs' "Authorize" sends the key."""
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", scheme_name="apiKeyHeader", auto_error=False,
                              description="The same API key in the `X-API-Key` header, for clients that cannot "
                                          "set `Authorization`.")


def authenticate(request: Request,
                 _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
                 _header: Annotated[str | None, Security(API_KEY_HEADER)] = None) -> Caller:
    """The caller of this request, or 401 when no known key came with it.

    The two security parameters declare the key in the OpenAPI document (so the docs' "Authorize" sends it); the
    key itself is read from the raw headers exactly as the rate limiter reads it, so both agree on who calls."""
    directory: KeyDirectory = request.app.state.keys
    presented = _presented_key(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if presented is None:
        raise ApiError(401, "UNAUTHENTICATED", "an API key is required: send 'Authorization: Bearer <key>'",
                       headers={"WWW-Authenticate": "Bearer"})
    # The rate limiter in front of the routes has already looked the key up for this very request.
    caller = request.scope.get("state", {}).get(CALLER_STATE) or directory.caller(presented)
    if caller is None:
        raise ApiError(401, "UNAUTHENTICATED", "the API key is not known (revoked, or a typo)",
                       headers={"WWW-Authenticate": "Bearer"})
    structlog.contextvars.bind_contextvars(caller=caller.name)
    return caller


def require(*roles: Role) -> Callable[..., Caller]:
    """A dependency admitting callers with one of `roles` (403 for other roles)."""
    allowed = frozenset(roles)

    def dependency(caller: Annotated[Caller, Depends(authenticate)], request: Request) -> Caller:
        if caller.role not in allowed:
            log.warning("forbidden", caller=caller.name, role=caller.role.value, path=request.url.path)
            raise ApiError(403, "FORBIDDEN", f"role {caller.role} may not {request.method} {request.url.path}; "
                           f"allowed: {', '.join(sorted(allowed))}")
        return caller

    return dependency


class PartnerSecrets:
    """The HMAC secret of each partner's webhooks, by partner; a partner without one cannot post events."""

    def __init__(self, secrets: Mapping[str, SecretStr], tolerance_s: float) -> None:
        self._secrets = {p: s.get_secret_value() for p, s in secrets.items()}
        self.tolerance_s = tolerance_s

    def secret(self, partner: str) -> str | None:
        return self._secrets.get(partner)


async def verified_webhook(request: Request, caller: Annotated[Caller, Depends(require(Role.PARTNER))],
                           signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None) -> Caller:
    """A partner's webhook, signed with that partner's own secret over its raw body, recently (401 otherwise).

    The partner is the one the API key belongs to (the key's name), never what the body says. Checked before the
    body is validated, so an unsigned request learns nothing about the schema.
    """
    secrets: PartnerSecrets = request.app.state.partner_secrets
    secret = secrets.secret(caller.name)
    if secret is None:
        log.warning("webhook refused", caller=caller.name, problem="no signing secret for this partner")
        raise ApiError(401, "INVALID_SIGNATURE", f"no webhook signing secret is configured for partner {caller.name}")
    body = await request.body()
    try:
        verify(secret, signature, body, now=int(time.time()), tolerance_s=int(secrets.tolerance_s))
    except WebhookSignatureError as err:
        log.warning("webhook refused", caller=caller.name, problem=err.problem.value)
        raise ApiError(401, "INVALID_SIGNATURE", str(err)) from None
    return caller


Backend = Annotated[Caller, Depends(require(Role.BACKEND))]
"""A route parameter admitting backends (they create shipments and ask for quotes and documents)."""
Reader = Annotated[Caller, Depends(require(*READ))]
"""A route parameter admitting the roles that read: backends and ops."""
Ops = Annotated[Caller, Depends(require(Role.OPS))]
"""A route parameter admitting ops (approvals, cancellations, stock corrections, replenishment decisions)."""
Partner = Annotated[Caller, Depends(verified_webhook)]
"""A route parameter admitting partners whose webhook signature checks out; its name is the partner's."""

