"""Logs are JSON off a terminal, with bound ids, and Temporal's stdlib loggers go through the same processors."""

import json
import logging

import structlog

from infra.platform.logging import configure_logging


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_off_a_terminal_with_bound_ids_and_stdlib_extras(capsys, logging_restored):
    configure_logging("auto", "INFO")  # capsys' stdout is not a terminal
    with structlog.contextvars.bound_contextvars(shipment_id="SHP-1", workflow_id="shipment:SHP-1"):
        structlog.stdlib.get_logger("tradelane.test").info("booked", partner="ups")
    logging.getLogger("temporalio.workflow").info(
        "transition", extra={"stage": "transit", "temporal_workflow": {"workflow_id": "shipment:SHP-1"}})
    lines = json_lines(capsys.readouterr().out)
    booked = next(line for line in lines if line["event"] == "booked")
    assert (booked["shipment_id"], booked["workflow_id"], booked["partner"]) == ("SHP-1", "shipment:SHP-1",
                                                                                 "ups")
    assert booked["level"] == "info" and "timestamp" in booked
    transition = next(line for line in lines if line["event"] == "transition")
    assert transition["stage"] == "transit"
    assert transition["temporal_workflow"] == {"workflow_id": "shipment:SHP-1"}
