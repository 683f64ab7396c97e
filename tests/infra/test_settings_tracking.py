"""The tracking secret derives every public tracking link: production refuses the development one and short ones,
naming the setting, never the value (issue 18)."""

import pytest

from infra.platform.settings import DEV_TRACKING_SECRET, Settings
from tests.infra.test_settings import LONG_KEYS, PRODUCTION


@pytest.mark.parametrize(("secret", "message"), [
    (DEV_TRACKING_SECRET, "TRADELANE_TRACKING_SECRET must be set to a real secret in production"),
    ("track-" + "t" * 25, "TRADELANE_TRACKING_SECRET is shorter than 32 bytes"),
], ids=["development-value", "31-bytes"])
def test_production_refuses_a_weak_tracking_secret(secret, message):
    with pytest.raises(ValueError, match=message) as refused:
        Settings(_env_file=None, **{**PRODUCTION, "tracking_secret": secret}, api_keys=LONG_KEYS)
    assert secret not in str(refused.value)


def test_the_tracking_secret_reaches_the_notices_that_build_the_links():
    settings = Settings(_env_file=None, **{**PRODUCTION, "tracking_secret": "t" * 32}, api_keys=LONG_KEYS)
    secret = settings.notice_config().tracking_secret
    assert secret is not None and secret.get_secret_value() == "t" * 32
