"""All of Tradelane's configuration in one place, read from `TRADELANE_*` environment variables."""

from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.notices import MailSettings, NoticeConfig
from tradelane.approvals import DEFAULT_VALUE_THRESHOLDS
from tradelane.notify import QuietHours
from tradelane.enums import Stage
from tradelane.state import ApprovalPolicy, ShipmentTimings

STATE_DIR = Path(".tradelane")
DEV_WEBHOOK_SECRET = "dev-webhook-secret"
"""Documented for the demo (the sandbox's merchant receiver verifies with it); never valid in production."""


class Settings(BaseSettings):
    """Defaults run the whole stack on one machine; production overrides them by environment."""

    model_config = SettingsConfigDict(env_prefix="TRADELANE_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "tradelane-shipments"
    temporal_cli_path: str | None = Field(default=None, validation_alias="TEMPORAL_CLI_PATH")
    """An explicit Temporal CLI binary; otherwise PATH, Go's bin directory, a Go build, then the SDK download."""
    temporal_ui_port: int = 8233
    temporal_db_file: Path = STATE_DIR / "temporal.db"
    temporal_startup_timeout_s: float = 180.0

    # Services
    database_url: str = f"sqlite:///{STATE_DIR / 'tradelane.db'}"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str | None = None
    """The URL partners reach Tradelane's webhook at; defaults to the API's own address."""
    sandbox_url: str = "http://127.0.0.1:8100"
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8100
    sandbox_config: Path | None = None
    query_timeout_s: float = 5.0
    """How long the API waits for a worker to answer a query before it answers from the read model."""
    partner_timeout_s: float = 10.0
    """HTTP timeout of one partner call; Temporal retries what times out."""

    # Decision data
    rules_dir: Path | None = None
    """A directory of rule tables (YAML) overriding the packaged ones, table by table."""
    screening_list: Path | None = None
    """A denied-party list in the Consolidated Screening List format (.csv or .json); the packaged sample otherwise."""

    # Shipment rules and waits (seconds, so they are easy to set from the environment)
    approval_thresholds: dict[str, Decimal] = Field(default_factory=lambda: dict(DEFAULT_VALUE_THRESHOLDS))
    gate_escalate_after_s: float = 4 * 3600
    transit_timeout_s: float = 60 * 86400
    last_mile_timeout_s: float = 10 * 86400
    retry_initial_interval_s: float = 1.0
    retry_maximum_interval_s: float = 60.0
    retry_maximum_attempts: int = 20

    # Visibility: exception timers, polling, history bound
    stall_after_s: float = 48 * 3600
    """No tracking event for this long raises a `stalled` exception."""
    customs_hold_alert_after_s: float = 24 * 3600
    poll_interval_s: float = 15 * 60
    """How often partners without webhooks are polled."""
    history_limit: int | None = None
    """Continue a shipment as new past this many history events (the server's suggestion applies anyway)."""

    # Notifications
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    """The local debugging SMTP server in development (`make up` runs one); a real relay in production."""
    mail_from: str = "Tradelane <notifications@tradelane.local>"
    mail_dir: Path = STATE_DIR / "mail"
    """Where the development SMTP server keeps what it receives (a Maildir)."""
    ops_email: str | None = "ops@tradelane.local"
    webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    """HMAC key for webhooks to merchants; the development value is refused in production."""
    merchant_webhooks: dict[str, str] = Field(default_factory=dict)
    """Webhook URL per merchant id, e.g. `{"acme-store": "https://acme.example/hooks/tradelane"}`."""
    merchant_webhook_url: str | None = None
    """For merchants not listed; in development the sandbox's merchant receiver."""
    quiet_hours: str | None = "21:00-08:00"
    """Recipient-local hours in which customer e-mails wait; empty to send at any hour."""

    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _production_needs_real_endpoints(self) -> "Settings":
        if self.environment == "production" and self.database_url.startswith("sqlite"):
            raise ValueError("TRADELANE_DATABASE_URL must point to a server database (PostgreSQL) in production")
        if self.environment == "production" and self.webhook_secret.get_secret_value() == DEV_WEBHOOK_SECRET:
            raise ValueError("TRADELANE_WEBHOOK_SECRET must be set to a real secret in production")
        if self.quiet_hours:
            QuietHours.parse(self.quiet_hours)  # a typo fails at start, naming the setting
        return self

    @property
    def tracking_url(self) -> str:
        return f"{(self.public_url or f'http://{self.api_host}:{self.api_port}').rstrip('/')}/track"

    def notice_config(self) -> NoticeConfig:
        default_hook = self.merchant_webhook_url
        if default_hook is None and self.environment != "production":
            default_hook = f"{self.sandbox_url.rstrip('/')}/merchant/webhooks"
        return NoticeConfig(quiet_hours=QuietHours.parse(self.quiet_hours) if self.quiet_hours else None,
                            ops_email=self.ops_email, merchant_webhooks=self.merchant_webhooks,
                            default_merchant_webhook=default_hook, tracking_url=self.tracking_url)

    def mail(self) -> MailSettings:
        return MailSettings(host=self.smtp_host, port=self.smtp_port, sender=self.mail_from)

    @property
    def events_url(self) -> str:
        base = self.public_url or f"http://{self.api_host}:{self.api_port}"
        return f"{base.rstrip('/')}/v1/carrier-events"

    def timings(self) -> ShipmentTimings:
        base = ShipmentTimings()
        stage_timeout = {Stage.TRANSIT: timedelta(seconds=self.transit_timeout_s),
                         Stage.LAST_MILE: timedelta(seconds=self.last_mile_timeout_s)}
        return base.model_copy(update={
            "stage_timeout": stage_timeout,
            "gate_escalate_after": timedelta(seconds=self.gate_escalate_after_s),
            "retry_initial_interval": timedelta(seconds=self.retry_initial_interval_s),
            "retry_maximum_interval": timedelta(seconds=self.retry_maximum_interval_s),
            "retry_maximum_attempts": self.retry_maximum_attempts,
            "stall_after": timedelta(seconds=self.stall_after_s),
            "customs_hold_alert_after": timedelta(seconds=self.customs_hold_alert_after_s),
            "poll_interval": timedelta(seconds=self.poll_interval_s),
            "history_limit": self.history_limit,
        })

    def approval_policy(self) -> ApprovalPolicy:
        return ApprovalPolicy(value_thresholds=self.approval_thresholds)


@lru_cache
def get_settings() -> Settings:
    return Settings()
