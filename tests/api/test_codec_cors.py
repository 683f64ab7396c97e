"""CORS is for the codec server only: the Web UI's origins may call `/codec` from a browser, and no other route
answers a cross-origin browser (issue 18)."""

import httpx
import pytest

from infra.platform.settings import DEV_API_KEYS, Settings
from starter.api import create_app

UI_ORIGIN = "https://temporal-ui.example.com"


def preflight(path: str, origin: str = UI_ORIGIN) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace"}


@pytest.fixture
async def api():
    # No client or engine: nothing here reaches Temporal or the read model (the lifespan does not run).
    app = create_app(Settings(_env_file=None, environment="test", codec_cors_origins=[UI_ORIGIN]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        yield client


async def test_the_codec_preflight_needs_no_key(api):
    for path in ("/codec/decode", "/codec/encode"):
        response = await api.options(path, headers=preflight(path))
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == UI_ORIGIN
        assert "authorization" in response.headers["access-control-allow-headers"].lower()


async def test_the_codec_answers_the_ui_with_cors_headers_once_it_has_the_ops_key(api):
    response = await api.post("/codec/decode", json={"payloads": []},
                              headers={"Origin": UI_ORIGIN, "Authorization": f"Bearer {DEV_API_KEYS['ops']}"})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN
    keyless = await api.post("/codec/decode", json={"payloads": []}, headers={"Origin": UI_ORIGIN})
    assert keyless.status_code == 401


@pytest.mark.parametrize("path", ["/v1/shipments", "/metrics", "/codecs", "/v1/shipments/x/approvals"])
async def test_no_other_route_answers_a_cross_origin_browser(api, path):
    """Finding (issue 18): the CORS middleware was mounted on the whole API, so the UI's origins (in development
    the local UI's) could make credentialed cross-origin calls to every route, not only the codec."""
    response = await api.options(path, headers=preflight(path))
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers
    get = await api.get(path, headers={"Origin": UI_ORIGIN})
    assert "access-control-allow-origin" not in get.headers
