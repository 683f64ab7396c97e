"""The real API refuses a control character in any request body's text with a 422 naming the field (issue 18).

One case per route that takes a body, through the app with a real Temporal dev server behind it: the refusal comes
from validation, before any workflow, partner or database is touched. Every text field of every model is covered
without a server by `test_request_control_chars.py`; this shows the API turns each into the field's path.
"""

import json
from typing import Any

import pytest
import yaml

from tests.api.test_api_fuzz import CANCEL, DECISION, event_for
from tests.support import EXAMPLES, load_example, unique_id

pytestmark = pytest.mark.temporal

JSON = {"Content-Type": "application/json"}


def network() -> dict[str, Any]:
    raw = yaml.safe_load((EXAMPLES / "inventory" / "network.yaml").read_text())
    return {"warehouses": raw["warehouses"], "skus": raw["skus"]}


def with_value(body: dict[str, Any], path: list[str | int], value: str) -> dict[str, Any]:
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


CASES = [
    # (method, path, body, where the control character goes, the field the API names)
    ("POST", "/v1/shipments", lambda: load_example("basic-cn-de.json", unique_id("cc")), ["order_ref"],
     "order_ref"),
    ("POST", "/v1/quotes", lambda: load_example("basic-cn-de.json", unique_id("cc")), ["destination", "city"],
     "destination.city"),
    ("POST", "/v1/documents/commercial-invoice", lambda: load_example("basic-cn-de.json", unique_id("cc")),
     ["items", 0, "description"], "items[0].description"),
    ("POST", "/v1/shipments/cc-none/approvals", lambda: dict(DECISION), ["comment"], "comment"),
    ("POST", "/v1/shipments/cc-none/cancel", lambda: dict(CANCEL), ["reason"], "reason"),
    ("POST", "/v1/carrier-events", lambda: event_for("cc-none"), ["location"], "location"),
    ("POST", "/v1/inventory/movements", lambda: {"warehouse_id": "BER-1", "sku": "PB-10K", "kind": "receipt",
                                                 "quantity": 5, "reason": "goods receipt", "actor": "ops@test"},
     ["reason"], "reason"),
    ("PUT", "/v1/inventory/network", network, ["warehouses", 0, "name"], "warehouses[0].name"),
    ("POST", "/v1/inventory/replenishments/cc-none/decisions", lambda: {"actor": "ops@test", "comment": "ok"},
     ["actor"], "actor"),
]


@pytest.mark.parametrize("bad", ["\x00", "\r\n", "\x1b", "\x85"])
@pytest.mark.parametrize(("method", "path", "make", "where", "field"), CASES, ids=[c[1] for c in CASES])
async def test_a_control_character_is_refused_naming_the_field(harness, method, path, make, where, field, bad):
    body = make()
    value = body
    for key in where:
        value = value[key]
    body = with_value(body, where, f"{value[:2]}{bad}{value[2:]}")
    response = await harness.api.request(method, path, content=json.dumps(body).encode(), headers=JSON)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert [f["field"] for f in error["fields"]] == [field]
    assert "control characters" in error["fields"][0]["message"]
