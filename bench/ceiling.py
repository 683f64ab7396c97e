"""Workload B0 of `make bench`, the ceiling: bare Temporal with one no-op activity per partner step.

A shipment's partner steps (book, label, file customs, schedule the last mile, hand over) become five no-op
activities run one after the other, and the workflow ends once it has received as many signals as the shipment
received tracking events; the driver sends them one by one while the activities run. It runs on `BareWorkflow`
(bench/bare.py) with a shape built here instead of one taken from a history: no decisions, no read model, no
notifications, no partners. Pure.
"""

from bench.shape import ActivitySpec, Shape, Wave

PARTNER_STEPS = ("carrier.book", "carrier.create_label", "customs.file", "last_mile.schedule", "carrier.handover")
STEP_TIMEOUT_S = 30.0
SIGNAL_BYTES = 600
"""About the encoded size of one tracking event as the shipment receives it."""


def ceiling_shape(example: str, signals: int, steps: tuple[str, ...] = PARTNER_STEPS) -> Shape:
    """The ceiling for `example`: `steps` as sequential no-ops, then `signals` signals.

    Raises:
        ValueError: A negative signal count.
    """
    if signals < 0:
        raise ValueError(f"signals: at least 0, got {signals}")
    waves = [Wave(after_activities=[i - 1] if i else [],
                  activities=[ActivitySpec(name=step, start_to_close_s=STEP_TIMEOUT_S)])
             for i, step in enumerate(steps)]
    return Shape(example=example, input_bytes=0, result_bytes=0, waves=waves, signal_bytes=[SIGNAL_BYTES] * signals,
                 update_bytes=[], history_events=0)
