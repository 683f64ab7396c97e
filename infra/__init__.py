"""Infrastructure below the activities: `infra.platform` (settings, logging, codec, telemetry, Temporal connection)
and `infra.persistence` (database, migrations, outbox, ledger). Development tooling lives in `devstack/`."""
