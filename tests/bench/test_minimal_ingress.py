"""M's ingress refuses what its partners did not sign, before any workflow is reached (no Temporal involved: a
refused request never gets to the client)."""

import json
import time

import pytest
from starlette.testclient import TestClient

from bench.minimal_ingress import build_app
from devstack.up import sandbox_config
from infra.platform.settings import get_settings
from infra.platform.webhooks import signed_headers
from tradelane.tracking_codes import EVENTS_PATH

BODY = json.dumps({"event_id": "e-1", "shipment_id": "M-R01-00000", "code": "DELIVERED",
                   "partner": "doorstep"}).encode()


@pytest.fixture
def ingress() -> TestClient:
    return TestClient(build_app(get_settings()))  # no `with`: the lifespan (the Temporal client) never starts


def headers(partner: str, secret_of: str, body: bytes = BODY) -> dict[str, str]:
    config = sandbox_config(get_settings())
    return {"Authorization": f"Bearer {config.partner_key(partner)}", "Content-Type": "application/json",
            **signed_headers(config.partner_secret(secret_of), "e-1", int(time.time()), body)}


def test_an_unknown_key_is_refused(ingress):
    response = ingress.post(EVENTS_PATH, content=BODY, headers={"Authorization": "Bearer nobody"})
    assert response.status_code == 401 and "bearer key" in response.json()["detail"]


def test_an_event_signed_with_another_partners_secret_is_refused(ingress):
    response = ingress.post(EVENTS_PATH, content=BODY, headers=headers("doorstep", "parcelnow"))
    assert response.status_code == 401 and "no v1 signature matches" in response.json()["detail"]


def test_an_event_changed_after_signing_is_refused(ingress):
    signed = headers("doorstep", "doorstep")
    response = ingress.post(EVENTS_PATH, content=BODY.replace(b"e-1", b"e-2"), headers=signed)
    assert response.status_code == 401


def test_a_signed_body_that_is_not_an_event_names_the_fields(ingress):
    body = b'{"event_id": "e-1"}'
    response = ingress.post(EVENTS_PATH, content=body, headers=headers("doorstep", "doorstep", body))
    assert response.status_code == 422 and "shipment_id, event_id and code" in response.json()["detail"]
