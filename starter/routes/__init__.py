"""The API's routers, one per resource; `starter.api.create_app` includes them all."""
