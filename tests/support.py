"""Test helpers that need no running service: example files, ids, stage order."""

import json
import uuid
from pathlib import Path
from typing import Any

from tradelane.enums import Stage
from tradelane.state import ShipmentState

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
VALID_EXAMPLES = sorted(EXAMPLES.glob("*.json"))
INVALID_EXAMPLES = sorted((EXAMPLES / "invalid").glob("*.json"))

# The sandbox's compressed clock for tests: a 22-day voyage plays out in under half a second.
SECONDS_PER_DAY = 0.02


def load_example(name: str, shipment_id: str | None = None) -> dict[str, Any]:
    """An example request; tests give each its own shipment id so runs never collide."""
    body = json.loads((EXAMPLES / name).read_text())
    if shipment_id is not None:
        body["shipment_id"] = shipment_id
    return body


def unique_id(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def stages_in_order(state: ShipmentState) -> list[Stage]:
    """The distinct stages a shipment went through, in the order it entered them."""
    seen: list[Stage] = []
    for t in state.transitions:
        if not seen or seen[-1] != t.stage:
            seen.append(t.stage)
    return seen
