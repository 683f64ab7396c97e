"""The documented development secrets, in one place: the settings default to them (and refuse them in
production), the sandbox signs and presents them, the CLI falls back to them. No imports, so the CLI and the
sandbox can use them without loading the settings."""

DEV_WEBHOOK_SECRET = "dev-webhook-secret"
"""Tradelane's webhooks to merchants (the sandbox's merchant receiver verifies with it)."""
DEV_PARTNER_WEBHOOK_SECRET = "dev-partner-webhook-secret"
"""What the sandbox's partners sign their tracking webhooks with."""
DEV_API_KEYS = {"backend": "dev-backend-key", "ops": "dev-ops-key", "partner": "dev-partner-key"}
"""One key per role."""
DEV_PAYLOAD_KEY_ID = "dev-2026"
DEV_PAYLOAD_KEY = "ZGV2LW9ubHktcGF5bG9hZC1rZXktMzItYnl0ZXMhISE="
"""Base64 of 32 bytes, so the demo's histories can be decoded."""
