"""Rate limits: the public tracking page per client (IP address), the API per key.

Counted by the `limits` library (sliding-window counters, in this process's memory by default, in Redis or another
`limits` storage when API replicas must share them: `TRADELANE_RATE_LIMIT_STORAGE`). `RateLimit` is pure ASGI
middleware in front of the app, so a refused request costs no parsing and no database or Temporal call:

- `/track/...` is counted per client address: the connection's peer, or, when the peer is one of
  `TRADELANE_TRUSTED_PROXIES`, the nearest address in `X-Forwarded-For` that is not a trusted proxy (the header is
  walked from the right, since only the entries our own proxies appended can be believed). From anyone else the
  header is ignored: a client cannot spread its requests over invented addresses. Over the limit: a small HTML 429.
- A request with a known API key is counted per key name, at the key's own limit (`TRADELANE_RATE_LIMITS` by name),
  else its role's; over the limit: 429 `RATE_LIMITED` in the API's JSON error envelope. A request without a known
  key is left to the route, which answers 401 or serves a public page.

Both answers carry `Retry-After` (seconds).
"""

import ipaddress
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from fastapi.responses import HTMLResponse
from limits import RateLimitItem, parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from starlette.datastructures import Headers

from infra.platform.settings import Settings
from starter.auth import CALLER_STATE, KeyDirectory, Role, _presented_key
from starter.errors import ApiError
from starter.limits import ASGIApp, Receive, Scope, Send
from starter.web.tracking_page import render_too_many_requests_page, security_headers

__all__ = ["DEFAULT_LIMITS", "TRACKING_PATH", "RateLimit", "RatePolicy", "client_address"]

TRACKING_PATH = "/track/"

Environment = Literal["development", "test", "production"]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_UNLIMITED_LOCALLY = "100000/minute"
DEFAULT_LIMITS: Mapping[Environment, Mapping[str, str]] = MappingProxyType({
    # Production: a backend's steady traffic, ops at a console, partners' webhook bursts (a carrier replays a
    # backlog of events after an outage), and a recipient refreshing the tracking page now and then.
    "production": MappingProxyType({Role.BACKEND: "1200/minute", Role.OPS: "600/minute",
                                    Role.PARTNER: "6000/minute", "tracking_page": "30/minute"}),
    # On one machine the tests, the demo, the benchmark and the reliability run (hundreds of shipments through one
    # backend key, every test's browser on 127.0.0.1) must not be throttled: limits far above what one API process
    # serves, counted by the same code. Tests of the limits set their own.
    "development": MappingProxyType({Role.BACKEND: _UNLIMITED_LOCALLY, Role.OPS: _UNLIMITED_LOCALLY,
                                     Role.PARTNER: _UNLIMITED_LOCALLY, "tracking_page": _UNLIMITED_LOCALLY}),
    "test": MappingProxyType({Role.BACKEND: _UNLIMITED_LOCALLY, Role.OPS: _UNLIMITED_LOCALLY,
                              Role.PARTNER: _UNLIMITED_LOCALLY, "tracking_page": _UNLIMITED_LOCALLY}),
})
"""Limits (in the `limits` notation) per role and for the tracking page, by environment; settings override them."""


@dataclass(frozen=True)
class RatePolicy:
    """Who gets how many requests: per key name, per role, for the tracking page; and whose forwarding to trust."""

    by_role: dict[Role, RateLimitItem]
    tracking_page: RateLimitItem
    by_key: dict[str, RateLimitItem] = field(default_factory=dict)
    """A key's own limit, by its name; wins over its role's."""
    trusted_proxies: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> "RatePolicy":
        """The environment's defaults, with `TRADELANE_RATE_LIMITS` (by key name or role) and
        `TRADELANE_TRACKING_PAGE_RATE_LIMIT` over them."""
        defaults = DEFAULT_LIMITS[settings.environment]
        roles = {role.value for role in Role}
        by_role = {Role(role): parse(settings.rate_limits.get(role, defaults[role])) for role in roles}
        by_key = {name: parse(limit) for name, limit in settings.rate_limits.items() if name not in roles}
        tracking = parse(settings.tracking_page_rate_limit or defaults["tracking_page"])
        return cls(by_key=by_key, by_role=by_role, tracking_page=tracking,
                   trusted_proxies=tuple(settings.trusted_proxies))

    def for_key(self, name: str, role: Role) -> RateLimitItem:
        return self.by_key.get(name) or self.by_role[role]


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: tuple[Network, ...]) -> str:
    """The client a request counts against.

    Args:
        peer: The connection's peer address (None when the server does not know it).
        forwarded_for: The values of every `X-Forwarded-For` header, in order.
        trusted: The reverse proxies whose `X-Forwarded-For` entries are believed.
    """
    if peer is None:
        return "unknown"
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    current = peer
    # From the right: each trusted hop vouches for the entry left of it; the first hop not trusted is the client.
    while hops and _is_trusted(current, trusted):
        current = hops.pop()
    return current[:64]  # an identifier for the counter, not a whole header


def _is_trusted(text: str, trusted: tuple[Network, ...]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in trusted)


def retry_after(reset_at: float, now: float) -> str:
    """Whole seconds until the window lets a request through again (at least 1)."""
    return str(max(1, math.ceil(reset_at - now)))


class RateLimit:
    """ASGI middleware counting requests against `policy` (see the module's docstring).

    Args:
        app: The ASGI app to protect.
        keys: The API's keys, to find a request's key holder (the route checks the key again for its role).
        policy: The limits.
        storage: A `limits` storage URI (`memory://`, `redis://...`); used through its asyncio flavour.
    """

    def __init__(self, app: ASGIApp, keys: KeyDirectory, policy: RatePolicy, storage: str = "memory://") -> None:
        self.app, self.keys, self.policy = app, keys, policy
        uri = storage if storage.startswith("async+") else f"async+{storage}"
        self.limiter = SlidingWindowCounterRateLimiter(storage_from_string(uri))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["path"].startswith(TRACKING_PATH):
            client = scope.get("client")
            who = client_address(client[0] if client else None, headers.getlist("x-forwarded-for"),
                                 self.policy.trusted_proxies)
            wait = await self._over(self.policy.tracking_page, "tracking-page", who)
            if wait is not None:
                await HTMLResponse(render_too_many_requests_page(), status_code=429, headers={
                    "Retry-After": wait, "Cache-Control": "no-store", **security_headers(None)})(scope, receive, send)
                return
        else:
            presented = _presented_key(headers.get("authorization"), headers.get("x-api-key"))
            caller = self.keys.caller(presented) if presented else None
            if caller is not None:
                scope.setdefault("state", {})[CALLER_STATE] = caller  # authenticate need not look it up again
                limit = self.policy.for_key(caller.name, caller.role)
                wait = await self._over(limit, "key", caller.name)
                if wait is not None:
                    error = ApiError(429, "RATE_LIMITED", f"API key {caller.name!r} sent more than {limit} "
                                     f"requests; retry after {wait} s, or ask ops for a higher limit "
                                     "(TRADELANE_RATE_LIMITS)", headers={"Retry-After": wait})
                    await error.response()(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _over(self, limit: RateLimitItem, *identifiers: str) -> str | None:
        """None when the request is within `limit` (and counted); else the Retry-After value."""
        if await self.limiter.hit(limit, *identifiers):
            return None
        stats = await self.limiter.get_window_stats(limit, *identifiers)
        return retry_after(stats.reset_time, time.time())
