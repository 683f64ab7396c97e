"""Sandbox settings, loaded once from YAML and validated by pydantic."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.platform.dev_secrets import DEV_WEBHOOK_SECRET, dev_partner_key, dev_partner_secret
from infra.platform.webhooks import derived_secret
from sandbox.faults import FaultRule

DEFAULT_CONFIG_RESOURCE = "default.yaml"
"""Shipped inside the ``sandbox`` package; used when no config path is given."""


class SandboxConfig(BaseModel):
    """Everything that shapes the sandbox's behaviour."""

    model_config = ConfigDict(extra="forbid")

    seconds_per_day: float = Field(default=0.25, ge=0)
    """Compressed clock: real seconds per virtual day (0.25 plays a 20-day voyage in 5 s)."""
    timeout_fault_seconds: float = Field(default=30, ge=0)
    """How long a ``timeout`` fault stalls before answering 504."""
    faults: list[FaultRule] = Field(default_factory=list)
    """Rules active for the whole run, checked before rules added at runtime."""
    callback_timeout_s: float = Field(default=5.0, gt=0)
    """Timeout of each tracking-event POST to an ``events_url``."""
    callback_retries: int = Field(default=5, ge=0)
    """Retries of a failed tracking-event POST before the sandbox logs and gives up on it."""
    callback_backoff_s: float = Field(default=0.1, ge=0)
    """First retry delay; doubles on each further retry."""
    merchant_webhook_secret: str = DEV_WEBHOOK_SECRET
    """The root each merchant's development secret is derived from (Tradelane's `TRADELANE_WEBHOOK_SECRET`), for a
    merchant not in ``merchant_webhook_secrets``."""
    merchant_webhook_secrets: dict[str, list[str]] = Field(default_factory=dict)
    """The secrets each merchant's receiver (``POST /merchant/webhooks``) verifies with: its own, never another's."""
    partner_webhook_secrets: dict[str, str] = Field(default_factory=dict)
    """Secret each partner signs its tracking webhooks with (Tradelane verifies them); a partner not listed
    uses its development secret."""
    partner_api_keys: dict[str, str] = Field(default_factory=dict)
    """API key (role partner, named after the partner) each partner presents to Tradelane's event endpoint; a
    partner not listed uses its development key."""

    def merchant_secrets(self, merchant: str) -> list[str]:
        """What `merchant`'s receiver verifies with: its configured secrets, else its derived development one."""
        return self.merchant_webhook_secrets.get(merchant) or [derived_secret(self.merchant_webhook_secret, merchant)]

    def partner_secret(self, partner: str) -> str:
        return self.partner_webhook_secrets.get(partner) or dev_partner_secret(partner)

    def partner_key(self, partner: str) -> str:
        return self.partner_api_keys.get(partner) or dev_partner_key(partner)


class ConfigError(ValueError):
    """The config file is missing, not YAML, or does not validate."""


def load_config(path: str | None) -> SandboxConfig:
    """Loads a YAML config file, or the packaged ``default.yaml`` when ``path`` is None.

    Args:
        path: Path of a YAML file with `SandboxConfig` fields, or None.

    Raises:
        ConfigError: Naming the file and what is wrong with it.
    """
    if path is None:
        source = f"sandbox/{DEFAULT_CONFIG_RESOURCE}"
        text = resources.files("sandbox").joinpath(DEFAULT_CONFIG_RESOURCE).read_text(encoding="utf-8")
    else:
        source = path
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read sandbox config: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level, got {type(data).__name__}")
    try:
        return SandboxConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{source}: invalid sandbox config: {problems}") from exc
