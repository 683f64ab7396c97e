"""The OpenAPI document as a reader of `/docs` meets it: every operation in a section (tag) with a summary and a
description, the API key declared as a security scheme on every operation that needs one, and the documentation
pages served from this process (no CDN, no web fonts)."""

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from infra.platform.settings import Settings
from starter.api import create_app
from starter.auth import authenticate
from starter.docs import ASSETS_URL, TAGS

APP = create_app(Settings(environment="test"))
DOCUMENT = APP.openapi()
OPERATIONS = [(method.upper(), path, op) for path, item in DOCUMENT["paths"].items() for method, op in item.items()]
SECTIONS = {tag["name"] for tag in TAGS}


def _auto_summary(route: RouteContext) -> str:
    """What FastAPI puts in `summary` when a route gives none: the function's name in title case."""
    return route.name.replace("_", " ").title()


def _needs_key(route: RouteContext) -> bool:
    """Whether the route depends (at any depth) on `authenticate`, i.e. answers 401 without a key."""
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        if dependant.call is authenticate:
            return True
        stack.extend(dependant.dependencies)
    return False


ROUTES = {(method, route.path_format): route for route in iter_route_contexts(APP.routes)
          if isinstance(route.original_route, APIRoute) and route.include_in_schema for method in route.methods}
"""Every documented route, as FastAPI serves it (with the dependencies of the routers it is included through)."""


def test_the_document_lists_every_route():
    assert len(OPERATIONS) == len(ROUTES) > 30


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_every_operation_has_a_section_a_summary_and_a_description(method: str, path: str, op: dict[str, Any]):
    route = ROUTES[(method, path)]
    assert op.get("tags"), f"{method} {path} has no tag: give its router or decorator `tags=[...]`"
    assert set(op["tags"]) <= SECTIONS, f"{method} {path}: tags {op['tags']} are not sections of starter.docs.TAGS"
    assert op.get("summary") and op["summary"] != _auto_summary(route), (
        f"{method} {path} has no summary of its own (FastAPI made {_auto_summary(route)!r} from the function name)")
    assert len((op.get("description") or "").split()) >= 5, f"{method} {path} has no description (a docstring)"


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_operations_that_need_a_key_declare_the_bearer_scheme(method: str, path: str, op: dict[str, Any]):
    declared = {name for requirement in op.get("security", []) for name in requirement}
    if _needs_key(ROUTES[(method, path)]):
        assert "apiKey" in declared, f"{method} {path} needs an API key but the document does not say so"
    else:
        assert not declared, f"{method} {path} is public (or signed otherwise) but asks for an API key"


def test_the_bearer_scheme_is_what_the_api_reads():
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["apiKey"]["type"] == "http" and schemes["apiKey"]["scheme"] == "bearer"
    assert schemes["apiKeyHeader"] == {**schemes["apiKeyHeader"], "type": "apiKey", "in": "header",
                                       "name": "X-API-Key"}


def test_sections_are_described_and_all_used():
    used = {tag for _, _, op in OPERATIONS for tag in op["tags"]}
    assert used == SECTIONS
    assert all(len(tag["description"].split()) >= 5 for tag in DOCUMENT["tags"])


EXTERNAL = re.compile(r"""(?:src|href)=["'](?:https?:)?//""")


async def test_the_documentation_page_loads_nothing_from_elsewhere():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://api") as api:
        html = (await api.get("/docs")).text
        assert not EXTERNAL.findall(html), f"/docs loads from another host: {EXTERNAL.findall(html)}"
        assets = re.findall(rf"""["']({re.escape(ASSETS_URL)}/[^"']+)["']""", html)
        assert len(assets) >= 2, html
        for asset in assets:
            response = await api.get(asset)
            assert response.status_code == 200 and len(response.content) > 1000, asset
