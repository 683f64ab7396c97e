"""Rate limits over real loopback HTTP (issue 18): the public tracking page per client address, the API per key.

Findings: the tracking page could be walked through sequential carrier numbers as fast as one could ask, and an
API key had no limit at all. Each test serves its own app (its own counters) with small limits; 127.0.0.0/8 is all
loopback, so a second client or a proxy is a second source address on this machine.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from limits import parse
from sqlalchemy.engine import Engine
from temporalio.client import Client

from infra.platform.http_server import ServedApp
from infra.platform.settings import DEV_API_KEYS, Settings
from starter.api import create_app
from starter.auth import Role
from starter.ratelimit import DEFAULT_LIMITS, RatePolicy, client_address

pytestmark = pytest.mark.temporal

BACKEND = {"Authorization": f"Bearer {DEV_API_KEYS['backend']}"}
OPS = {"Authorization": f"Bearer {DEV_API_KEYS['ops']}"}


@asynccontextmanager
async def served(temporal_client: Client, db_engine: Engine, **settings: Any) -> AsyncIterator[str]:
    app = create_app(Settings(_env_file=None, environment="test", **settings), client=temporal_client,
                     engine=db_engine)
    server = await ServedApp(app).start()
    try:
        yield server.url
    finally:
        await server.stop()


def client_from(url: str, address: str) -> httpx.AsyncClient:
    """A client whose connections leave from `address` (a loopback address of this machine)."""
    return httpx.AsyncClient(base_url=url, timeout=10, transport=httpx.AsyncHTTPTransport(local_address=address))


def assert_html_429(response: httpx.Response, window_s: int) -> None:
    assert response.status_code == 429, response.text
    # The tracking page's own policy: no script, no image, its stylesheet only (it was missing on the 429 page).
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "img-src 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-type"].startswith("text/html")
    assert 1 <= int(response.headers["Retry-After"]) <= window_s
    assert "Too many requests" in response.text


async def test_the_tracking_page_answers_429_to_a_client_over_its_limit(temporal_client, db_engine):
    async with (served(temporal_client, db_engine, tracking_page_rate_limit="3/minute") as url,
                client_from(url, "127.0.0.1") as walker, client_from(url, "127.0.0.3") as neighbour):
        # Walking sequential carrier numbers: each costs a request, found or not.
        for n in range(1, 4):
            assert (await walker.get(f"/track/SX{n:010d}")).status_code == 404
        assert_html_429(await walker.get("/track/SX0000000004"), window_s=60)
        # Another client is counted on its own.
        assert (await neighbour.get("/track/SX0000000004")).status_code == 404


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(temporal_client, db_engine):
    async with (served(temporal_client, db_engine, tracking_page_rate_limit="2/minute",
                       trusted_proxies=["127.0.0.2"]) as url,
                client_from(url, "127.0.0.1") as direct, client_from(url, "127.0.0.2") as proxy):
        # A client that is not a proxy cannot spread its requests over invented addresses.
        statuses = [(await direct.get("/track/x", headers={"X-Forwarded-For": f"198.51.100.{n}"})).status_code
                    for n in range(3)]
        assert statuses == [404, 404, 429]
        # Through the trusted proxy, each forwarded client has its own count; what a client wrote into the header
        # itself (left of the proxy's entry) does not make it someone else.
        seen = [(await proxy.get("/track/x", headers={"X-Forwarded-For": xff})).status_code
                for xff in ("203.0.113.7", "10.9.9.9, 203.0.113.7", "203.0.113.7", "203.0.113.8")]
        assert seen == [404, 404, 429, 404]


def test_the_client_is_the_nearest_untrusted_hop():
    trusted = RatePolicy.from_settings(Settings(_env_file=None, trusted_proxies=["10.0.0.0/8"])).trusted_proxies
    assert client_address("192.0.2.1", ["198.51.100.1"], trusted) == "192.0.2.1"  # not a proxy: header ignored
    assert client_address("10.0.0.5", ["198.51.100.1, 203.0.113.9"], trusted) == "203.0.113.9"
    assert client_address("10.0.0.5", ["203.0.113.9", "10.0.0.4"], trusted) == "203.0.113.9"  # two proxies
    assert client_address("10.0.0.5", [], trusted) == "10.0.0.5"  # a proxy's own request


async def test_a_key_over_its_limit_gets_429_in_the_api_envelope_and_another_key_is_unaffected(temporal_client,
                                                                                                db_engine):
    async with (served(temporal_client, db_engine, rate_limits={"dev-backend": "3/minute"}) as url,
                httpx.AsyncClient(base_url=url, timeout=10) as http):
        for _ in range(3):
            assert (await http.get("/v1/shipments", headers=BACKEND)).status_code == 200
        refused = await http.get("/v1/shipments", headers=BACKEND)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        error = refused.json()["error"]
        assert error["code"] == "RATE_LIMITED"
        assert "'dev-backend'" in error["message"] and DEV_API_KEYS["backend"] not in error["message"]
        # The limit is the key's: ops, from the same address, goes on.
        assert (await http.get("/v1/shipments", headers=OPS)).status_code == 200
        # A request without a known key is not the key's: it gets its 401, not the key's 429.
        assert (await http.get("/v1/shipments", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_a_role_limit_applies_to_each_key_of_the_role(temporal_client, db_engine):
    async with (served(temporal_client, db_engine, rate_limits={"ops": "2/minute"}) as url,
                httpx.AsyncClient(base_url=url, timeout=10) as http):
        statuses = [(await http.get("/v1/shipments", headers=OPS)).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert (await http.get("/v1/shipments", headers=BACKEND)).status_code == 200


def test_limits_by_name_win_over_the_role_and_partners_get_more_than_backends():
    policy = RatePolicy.from_settings(Settings(_env_file=None, environment="test",
                                               rate_limits={"partner": "10/second", "roadlink": "50/second"}))
    assert str(policy.for_key("roadlink", Role.PARTNER)) == "50 per 1 second"
    assert str(policy.for_key("parcelnow", Role.PARTNER)) == "10 per 1 second"
    production = DEFAULT_LIMITS["production"]
    assert _per_minute(production[Role.PARTNER]) > _per_minute(production[Role.BACKEND])
    # Locally (tests, demo, benchmark, reliability run) nothing is throttled by default.
    for environment in ("development", "test"):
        assert min(_per_minute(limit) for limit in DEFAULT_LIMITS[environment].values()) >= 100_000


def _per_minute(limit: str) -> float:
    item = parse(limit)
    return item.amount * 60 / item.get_expiry()


def test_a_malformed_limit_fails_at_start_naming_the_setting():
    with pytest.raises(ValueError, match=r"TRADELANE_RATE_LIMITS\['shop'\]: 'lots' is not a rate limit"):
        Settings(_env_file=None, rate_limits={"shop": "lots"})
    with pytest.raises(ValueError, match="TRADELANE_TRACKING_PAGE_RATE_LIMIT: 'fast' is not a rate limit"):
        Settings(_env_file=None, tracking_page_rate_limit="fast")
