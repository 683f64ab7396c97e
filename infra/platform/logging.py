"""structlog for everything: JSON off a terminal, readable on one, stdlib loggers (Temporal's) included."""

import logging
import sys

import structlog
from temporalio import activity, workflow

from infra.platform.redaction import redact_processor

_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    # After ExtraAdder, so the extras of Temporal's `workflow.logger`/`activity.logger` are redacted as well.
    redact_processor,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(fmt: str = "auto", level: str = "INFO") -> None:
    """Route structlog and the standard library through the same processors.

    Temporal's `workflow.logger` and `activity.logger` are standard-library loggers that add the workflow and
    activity ids as `extra`; ExtraAdder lifts them into the event so they are fields in the JSON line. Personal
    data (names, addresses, phone numbers, e-mail addresses) is redacted from every line (`infra.platform.redaction`).
    """
    json_output = fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())
    renderer = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    ))
    # Temporal's loggers append their context dict to the message by default; here it becomes fields instead.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "uvicorn.access", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
