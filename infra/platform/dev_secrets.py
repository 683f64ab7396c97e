"""The documented development secrets, in one place: the settings default to them (and refuse them in
production), the sandbox signs and presents them, the CLI falls back to them. No imports, so the CLI and the
sandbox can use them without loading the settings."""

DEV_WEBHOOK_SECRET = "dev-webhook-secret"
"""Tradelane's webhooks to merchants (the sandbox's merchant receiver verifies with it)."""
DEV_PARTNER_WEBHOOK_SECRET = "dev-partner-webhook-secret"
"""The prefix of each sandbox partner's own webhook signing secret (`dev_partner_secret`)."""
DEV_API_KEYS = {"backend": "dev-backend-key", "ops": "dev-ops-key"}
"""One key per person-facing role; each partner has its own (`dev_partner_key`)."""
DEV_PARTNER_KEY = "dev-partner-key"
"""The prefix of each sandbox partner's own API key."""
DEV_TRACKING_SECRET = "dev-tracking-page-secret"
"""Derives the public tracking pages' tokens (e-mails link to them)."""


def dev_partner_key(partner: str) -> str:
    """The development API key of one partner: the key names the partner, so no partner can post as another."""
    return f"{DEV_PARTNER_KEY}-{partner}"


def dev_partner_secret(partner: str) -> str:
    """The development webhook signing secret of one partner (no secret is shared between partners)."""
    return f"{DEV_PARTNER_WEBHOOK_SECRET}-{partner}"
DEV_PAYLOAD_KEY_ID = "dev-2026"
DEV_PAYLOAD_KEY = "ZGV2LW9ubHktcGF5bG9hZC1rZXktMzItYnl0ZXMhISE="
"""Base64 of 32 bytes, so the demo's histories can be decoded."""
