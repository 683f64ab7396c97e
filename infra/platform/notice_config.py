"""Where notices go and how e-mail leaves: configuration read from the settings, used by the outbox."""

from pydantic import BaseModel, Field, SecretStr

from tradelane.notify import QuietHours


class MailSettings(BaseModel):
    """How to reach the SMTP relay."""

    host: str
    port: int
    sender: str
    """The From header, e.g. ``Tradelane <notifications@example.com>``."""
    timeout_s: float = Field(default=10, gt=0)
    """Timeout of each SMTP step (connect, each command)."""
    username: str | None = None
    password: SecretStr | None = None
    start_tls: bool | None = None
    """None upgrades with STARTTLS when the server offers it; True requires it; False never uses it."""


class NoticeConfig(BaseModel):
    """Where notices go; from settings (`TRADELANE_*`)."""

    quiet_hours: QuietHours | None = None
    """The recipient's local window in which e-mails wait (ops alerts and webhooks never wait)."""
    ops_email: str | None = None
    merchant_webhooks: dict[str, str] = Field(default_factory=dict)
    """Webhook URL per merchant id."""
    default_merchant_webhook: str | None = None
    """For merchants without their own URL (the sandbox's merchant receiver in development)."""
    tracking_url: str | None = None
    """Base of the public tracking page, e.g. `https://track.example.com/track`; the shipment's token is appended."""
    tracking_secret: SecretStr | None = None
    """Derives each shipment's tracking-page token (`tradelane.tracking_page.tracking_token`); without it, no links."""
