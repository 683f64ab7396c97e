"""Merchant profiles (issue 19, point 5): a merchant's backend key reads and sets its own profile, another
merchant's answers 404, ops read any, and bad values get a 422 naming the field. On the real API app and a
database of this module's own, migrated by Alembic."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from infra.persistence.db import make_engine, migrate
from infra.persistence.merchants import MerchantContact, merchant_contact
from infra.platform.settings import DEV_API_KEYS, Settings
from starter.api import create_app

pytestmark = pytest.mark.temporal

SHOP_A, SHOP_B = "shop-a-key-" + "a" * 30, "shop-b-key-" + "b" * 30
KEYS = [{"name": "shop-a", "role": "backend", "key": SHOP_A, "merchants": ["merchant-a"]},
        {"name": "shop-b", "role": "backend", "key": SHOP_B, "merchants": ["merchant-b"]},
        {"name": "dev-ops", "role": "ops", "key": DEV_API_KEYS["ops"]}]
A, B, OPS = ({"Authorization": f"Bearer {key}"} for key in (SHOP_A, SHOP_B, DEV_API_KEYS["ops"]))
PROFILE: dict[str, Any] = {
    "display_name": "Shop A Electronics", "support_email": "help@shop-a.example", "support_url": None,
    "logo_url": "https://cdn.shop-a.example/logo.png", "ioss_number": "IM2760000001", "eori_number": None,
    "vat_number": None,
}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'profiles.db'}"
    migrate(url)
    return make_engine(url)


@pytest.fixture
async def api(temporal_client, engine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(_env_file=None, environment="test", api_keys=KEYS), client=temporal_client,
                     engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        yield client


async def test_a_merchant_sets_and_reads_its_own_profile(api, engine):
    path = "/v1/merchants/merchant-a/profile"
    assert (await api.get(path, headers=A)).status_code == 404
    saved = await api.put(path, json=PROFILE, headers=A)
    assert saved.status_code == 200, saved.text
    assert {k: saved.json()[k] for k in PROFILE} == PROFILE
    assert (await api.get(path, headers=A)).json() == saved.json()
    assert (await api.get(path, headers=OPS)).json() == saved.json(), "ops read any merchant's profile"
    with Session(engine) as session:
        assert merchant_contact(session, "merchant-a") == MerchantContact(
            display_name="Shop A Electronics", support="help@shop-a.example",
            logo_url="https://cdn.shop-a.example/logo.png")
        assert merchant_contact(session, "merchant-b") == MerchantContact(display_name="merchant-b")
    # PUT replaces the profile whole: what is left out is cleared.
    replaced = await api.put(path, json={"display_name": "Shop A", "support_url": "https://shop-a.example/help"},
                             headers=A)
    assert (replaced.json()["display_name"], replaced.json()["support_email"], replaced.json()["ioss_number"]) == (
        "Shop A", None, None)
    with Session(engine) as session:
        assert merchant_contact(session, "merchant-a").support == "https://shop-a.example/help"


async def test_another_merchants_profile_is_answered_as_missing(api):
    assert (await api.put("/v1/merchants/merchant-a/profile", json=PROFILE, headers=A)).status_code == 200
    for method in ("get", "put"):
        kwargs: dict[str, Any] = {"json": PROFILE} if method == "put" else {}
        response = await getattr(api, method)("/v1/merchants/merchant-a/profile", headers=B, **kwargs)
        assert response.status_code == 404, (method, response.text)
        assert response.json()["error"]["code"] == "MERCHANT_PROFILE_NOT_FOUND"
        assert "Shop A" not in response.text
    assert (await api.get("/v1/merchants/merchant-a/profile", headers=A)).json()["display_name"] == PROFILE[
        "display_name"], "B's attempt changed nothing"
    refused = await api.put("/v1/merchants/merchant-b/profile", json=PROFILE, headers=OPS)
    assert refused.status_code == 403, "ops read profiles; the merchant states its own"
    assert (await api.get("/v1/merchants/merchant-a/profile")).status_code == 401


@pytest.mark.parametrize("field, value", [
    ("logo_url", "http://cdn.shop-a.example/logo.png"),
    ("logo_url", "javascript:alert(1)"),
    ("support_url", "ftp://shop-a.example"),
    ("display_name", "Shop\u202eA"),
    ("display_name", "Shop\nA"),
    ("display_name", "   "),
    ("display_name", "S" * 81),
    ("support_email", "not-an-address"),
    ("ioss_number", "IM12"),
    ("eori_number", "de123"),
    ("vat_number", "12 34"),
    ("colour", "red"),
])
async def test_bad_values_get_a_422_naming_the_field_and_change_nothing(api, field, value):
    path = "/v1/merchants/merchant-a/profile"
    assert (await api.put(path, json=PROFILE, headers=A)).status_code == 200
    response = await api.put(path, json={**PROFILE, field: value}, headers=A)
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]
    assert (await api.get(path, headers=A)).json()["display_name"] == PROFILE["display_name"]


async def test_display_name_is_trimmed_and_may_be_in_any_script(api):
    response = await api.put("/v1/merchants/merchant-a/profile",
                             json={"display_name": "  北风电子 Northwind  "}, headers=A)
    assert response.status_code == 200 and response.json()["display_name"] == "北风电子 Northwind"
