"""The gateway's typing of partner answers, the rule every protocol adapter shares (`activities.http`)."""

from datetime import timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.errors import PARTNER_BAD_RESPONSE, PARTNER_RATE_LIMITED, PARTNER_REJECTED, PARTNER_UNAVAILABLE
from activities.http import PartnerGateway


def gateway(answer: httpx.Response | Exception) -> PartnerGateway:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    return PartnerGateway(httpx.AsyncClient(transport=httpx.MockTransport(handler)), "http://partners.test")


@pytest.mark.parametrize(("answer", "error_type", "retryable"), [
    (httpx.Response(200, text="<html>maintenance</html>"), PARTNER_BAD_RESPONSE, False),
    (httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"code": "SLOW_DOWN"}}), PARTNER_RATE_LIMITED,
     True),
    (httpx.Response(422, json={"error": {"code": "LANE_NOT_SERVED", "message": "no"}}), PARTNER_REJECTED, False),
    (httpx.Response(503, text="busy"), PARTNER_UNAVAILABLE, True),
    (httpx.ReadTimeout("slow"), PARTNER_UNAVAILABLE, True),
], ids=["200 not JSON", "429", "422", "503", "slow"])
async def test_every_answer_ends_typed_for_the_retry_policy(answer, error_type, retryable) -> None:
    with pytest.raises(ApplicationError) as raised:
        await gateway(answer).call("roadlink", "book", "bookings", {"shipment_id": "S-1"}, idempotency_key="k")
    assert raised.value.type == error_type and raised.value.non_retryable is not retryable
    assert raised.value.message.startswith("roadlink book:")
    if error_type == PARTNER_RATE_LIMITED:
        assert raised.value.next_retry_delay == timedelta(seconds=7)


async def test_an_unknown_partner_is_refused_for_good_and_the_address_comes_from_its_connection() -> None:
    with pytest.raises(ApplicationError) as raised:
        await gateway(httpx.Response(200, json={})).call("acme", "book", "bookings")
    assert (raised.value.type, raised.value.non_retryable) == (PARTNER_REJECTED, True)
    gw = gateway(httpx.Response(200, json={}))
    assert gw.endpoint("roadlink").base_url == "http://partners.test/partners/roadlink"
    assert gw.endpoint("roadlink") is gw.endpoint("roadlink")  # resolved once


def test_the_dcsa_lanes_of_the_directory_are_the_ports_the_adapter_books_through() -> None:
    """The ocean line's lanes (`DCSA_PORTS` in partners.yaml) and the adapter's port table are two copies of one
    fact: the planner must not offer a lane the adapter would refuse, nor miss one it can book."""
    from activities.protocols.dcsa import PORTS
    from tradelane.connections import directory

    assert directory().regions["DCSA_PORTS"] == frozenset(PORTS)
