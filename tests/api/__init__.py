"""Hostile input: fuzzing the request contract, the HTTP API and its OpenAPI schema."""
