"""The OpenAPI contract under schemathesis: generated requests for every operation, valid and invalid, on the real
app with the real Temporal dev server; no answer is a server error, every refusal of the JSON API is the error
envelope naming the problem, and every success conforms to the documented schema.

Schemathesis generates the cases (`APIOperation.as_strategy`, positive and negative); they are sent with
`harness.api` in the test's own event loop rather than through schemathesis' ASGI transport, which runs the app
in a thread of its own: the Temporal client and the worker live in the test's loop, and a sync test would stop
the worker while it waits. Each operation gets the key of the role that calls it (backend creates, ops read and
decide, partners sign their events).

Checks chosen: `not_a_server_error` on every answer; the documented response schema and content type on 2xx
only, because refusals (401, 403, 404, 409, 413, and 422 in Tradelane's `{"error": ...}` envelope rather than
FastAPI's `HTTPValidationError`) are not documented per operation and would fail `status_code_conformance` and
`response_schema_conformance` falsely; instead every 4xx from `/v1/` is checked for the envelope, and a 422 for
the fields it names.
"""

import json
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from infra.platform.settings import DEV_API_KEYS, Settings
from starter.api import create_app
from tests.api.test_api_fuzz import sign_as_partner

pytestmark = pytest.mark.temporal

# The operations, to name one test each; the cases themselves come from the schema the harness's app serves.
OPERATIONS = [f"{method.upper()} {path}" for path, item in create_app(Settings(environment="test")).openapi()
              ["paths"].items() for method in item]
BASE_URL = "http://api"


def role_for(method: str, path: str) -> str:
    """The role whose key a well-behaved caller of this operation holds."""
    if path == "/v1/carrier-events":
        return "partner"
    if method == "POST" and (path in ("/v1/shipments", "/v1/quotes") or path.startswith("/v1/documents/")):
        return "backend"
    return "ops"  # ops read everything, decide and cancel


def refusals_name_the_problem(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx from the JSON API is `{"error": {"code", "message"}}`; a 422 names each field it refuses."""
    if not (400 <= response.status_code < 500 and case.path.startswith("/v1/")):
        return None
    error = response.json().get("error")
    assert isinstance(error, dict) and error.get("code") and error.get("message"), (
        f"{response.status_code} without the error envelope: {response.content[:200]!r}")
    if response.status_code == 422:
        fields = error.get("fields") or []
        assert fields and all(f.get("field") and f.get("message") for f in fields), f"422 naming no field: {error}"
    return True


def successes_conform(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 2xx has the documented content type and matches the documented schema."""
    if not 200 <= response.status_code < 300:
        return None
    content_type_conformance(ctx, response, case)
    response_schema_conformance(ctx, response, case)
    return True


CHECKS = [not_a_server_error, refusals_name_the_problem, successes_conform]


async def send(api: httpx.AsyncClient, case: Any) -> httpx.Response:
    """Send a schemathesis case through the httpx client, with the key of the operation's role."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    role = role_for(case.method.upper(), case.path)
    content: bytes | str | None = None
    form: dict[str, Any] | None = None
    if "json" in kwargs:
        content = json.dumps(kwargs["json"]).encode()
    elif isinstance(kwargs.get("data"), (bytes, str)):
        content = kwargs["data"]
    elif kwargs.get("data") is not None:
        form = kwargs["data"]
    if role == "partner":
        raw = content.encode() if isinstance(content, str) else content or b""
        headers = {**kwargs["headers"], **sign_as_partner(raw)}
    else:
        headers = {**kwargs["headers"], "Authorization": f"Bearer {DEV_API_KEYS[role]}"}
    return await api.request(kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=headers,
                             content=content, data=form)


@pytest.fixture
async def api_schema(harness) -> Any:
    """The OpenAPI schema as the harness's app serves it (`/openapi.json`), loaded by schemathesis."""
    response = await harness.api.get("/openapi.json")
    assert response.status_code == 200, response.text
    return schemathesis.openapi.from_dict(response.json())


@pytest.mark.parametrize("label", OPERATIONS)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
async def test_generated_requests_get_no_server_error_and_conform(harness, api_schema, label, data):
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the served schema"
    mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]), label="mode")
    case = data.draw(operation.as_strategy(generation_mode=mode), label="case")
    response = await send(harness.api, case)
    case.validate_response(response, checks=CHECKS)
