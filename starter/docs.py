"""The API's own documentation, served from this process: `/docs` (Swagger UI), without the internet.

FastAPI's default page loads Swagger UI from a CDN, so on a machine without internet, or behind a proxy that blocks
CDNs, it is blank. The same page is built here with FastAPI's own `get_swagger_ui_html`, pointing at the files the
`fastapi-offline` package ships (Swagger UI's bundle and stylesheet, a favicon), served under `/docs/assets`.

ReDoc (`/redoc`) is not served: its bundle loads its "API docs by Redocly" logo from Redocly's CDN whatever it is
told, so it could not work offline; `/docs` shows the same document, and `/openapi.json` is there for other tools.

The tag groups below are the sections the page shows, in this order; every route names one of them (a test walks
the OpenAPI document and fails on a route without a tag, a summary or a description).
"""

from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_URL", "TAGS", "add_docs"]

ASSETS_URL = "/docs/assets"
"""Where the documentation pages' scripts, stylesheet and favicon are served from."""

TAGS: list[dict[str, Any]] = [
    {"name": "shipments", "description": "Start shipments (backends), read and list them, decide their approvals "
                                         "and cancel them (ops)."},
    {"name": "visibility", "description": "A shipment's timeline and the messages it sent."},
    {"name": "quotes", "description": "What a shipment would cost and how it would travel, without starting it."},
    {"name": "documents", "description": "Trade documents (commercial invoice, packing list, ...) as PDF."},
    {"name": "partners", "description": "Tracking events that carriers and lines push, signed with their secret."},
    {"name": "merchants", "description": "Each merchant's profile (display name, support contact, logo), used in "
                                         "every message and page."},
    {"name": "inventory", "description": "Stock per warehouse, movements, sales, forecasts and replenishment."},
    {"name": "reconciliation", "description": "Ops' queue of partner records that disagree with Tradelane's."},
    {"name": "operations", "description": "Probes, metrics and dead letters, for whoever runs Tradelane."},
    {"name": "codec", "description": "The Temporal Web UI's codec server: encrypts and decrypts payloads (ops)."},
    {"name": "public", "description": "Pages for the shipment's recipient, reached by the link in their e-mails."},
]
"""The API's sections, in the order the documentation shows them."""


def add_docs(app: FastAPI) -> None:
    """Serve `/docs` for `app` (made with `docs_url=None, redoc_url=None`) from local assets."""
    assets = files("fastapi_offline") / "static"
    app.mount(ASSETS_URL, StaticFiles(directory=str(assets)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}", title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            # The key typed into "Authorize" is kept only for the page's lifetime: not in the browser's storage.
            swagger_ui_parameters={"persistAuthorization": False, "displayRequestDuration": True})
