"""What a backend meets when a shipment request is slightly wrong, through the real API over loopback HTTP: a
postal code not of its country, a country code that is not ISO 3166-1 alpha-2 (with the code it most likely meant),
an e-mail address that is not one (said in words, not as a regular expression), and an HS code written with dots
(accepted, as its digits). A refusal is a 422 naming the field and starts nothing."""

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError, RPCStatusCode

from infra.platform.http_server import ServedApp
from starter.api import create_app
from tests.support import DevCallers, load_example, unique_id
from tradelane.shipment.run import ShipmentInput

pytestmark = pytest.mark.temporal

Body = dict[str, Any]


@pytest.fixture
async def api(harness) -> AsyncIterator[httpx.AsyncClient]:
    """The harness's API served on a loopback port (its worker runs what it starts)."""
    served = await ServedApp(create_app(harness.settings, client=harness.client, engine=harness.engine)).start()
    async with httpx.AsyncClient(base_url=served.url, auth=DevCallers(), timeout=30) as client:
        yield client
    await served.stop()


def destination(**fields: Any) -> Callable[[Body], None]:
    return lambda body: body["destination"].update(fields)


REFUSED = [
    ("postal-code-not-german", destination(postal_code="ABCDE"), "destination.postal_code",
     "'ABCDE' is not a postal code of Germany (DE); expected one like '26133'"),
    ("postal-code-not-dutch", destination(country="NL", postal_code="10115"), "destination.postal_code",
     "'10115' is not a postal code of Netherlands (NL); expected one like '1234 AB'"),
    ("uk-means-gb", destination(country="UK"), "destination.country",
     "'UK' is not an ISO 3166-1 alpha-2 country code; did you mean 'GB'?"),
    ("ger-means-de", destination(country="GER"), "destination.country",
     "'GER' is not an ISO 3166-1 alpha-2 country code; did you mean 'DE'?"),
    ("alpha-3-deu-means-de", destination(country="DEU"), "destination.country",
     "'DEU' is not an ISO 3166-1 alpha-2 country code; did you mean 'DE'?"),
    ("unknown-code-no-guess", destination(country="XQ"), "destination.country",
     "'XQ' is not an ISO 3166-1 alpha-2 country code"),
    ("email-without-at", destination(email="jonas.becker(at)example.de"), "destination.email",
     "not a valid e-mail address: An email address must have an @-sign."),
    ("email-without-domain-dot", destination(email="jonas@example"), "destination.email",
     "not a valid e-mail address: The part after the @-sign is not valid. It should have a period."),
    ("hs-code-letters-still-refused", lambda body: body["items"][0].update(hs_code="3926.AB"), "items[0].hs_code",
     "'3926.AB' is not 6-10 digits"),
]


@pytest.mark.parametrize(("damage", "field", "message"), [case[1:] for case in REFUSED],
                         ids=[case[0] for case in REFUSED])
async def test_a_wrong_value_is_refused_naming_the_field_and_what_was_meant(harness, api, damage, field, message):
    body = load_example("basic-cn-de.json", unique_id("val"))
    damage(body)
    response = await api.post("/v1/shipments", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["fields"] == [{"field": field, "message": message}]
    assert not re.search(r"[\^$\[\]\\]", error["fields"][0]["message"]), "the message shows a pattern, not words"
    with pytest.raises(RPCError) as err:
        await harness.handle(body["shipment_id"]).describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_an_hs_code_with_dots_and_spaces_is_accepted_as_its_digits(harness, api):
    body = load_example("basic-cn-de.json", unique_id("hs"))
    body["items"][0]["hs_code"] = "3926.90"
    body["items"][1]["hs_code"] = "8504 40 95"
    body["destination"]["country"] = "de"  # any case: the code is the same
    response = await api.post("/v1/shipments", json=body)
    assert response.status_code == 201, response.text
    # What the workflow was started with: the first event of its history.
    history = await harness.handle(body["shipment_id"]).fetch_history()
    started = history.events[0]
    assert started.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    [start] = await harness.client.data_converter.decode(
        started.workflow_execution_started_event_attributes.input.payloads, [ShipmentInput])
    assert [item.hs_code for item in start.request.items] == ["392690", "85044095"]
    assert start.request.destination.country == "DE"
    await harness.result(body["shipment_id"])
