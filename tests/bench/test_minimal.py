"""Workload M's and B0's pure parts: the partner steps rebound to a new shipment, references threaded from M's own
answers, the ceiling's shape, the gate's backoff and the command line. No Temporal."""

import itertools

import pytest

from bench.__main__ import parse_args, sweep_count
from bench.ceiling import PARTNER_STEPS, ceiling_shape
from bench.minimal import Step, learn_refs, rebind, rewrite_refs
from bench.workloads import gate_waits
from tradelane.enums import TrackingStatus

OLD = "BENCH-R01-00000"


def steps() -> list[Step]:
    request = {"shipment_id": OLD, "order_ref": "ORD-1"}
    return [
        Step(activity="carrier.book", call={"shipment_id": OLD, "partner": "ups", "request": request,
                                            "idempotency_key": f"tl:{OLD}:book:ups", "events_url": None},
             result={"kind": "booking", "partner": "ups", "ref": "UPS-1", "tracking_number": "1Z1"}),
        Step(activity="carrier.handover", call={"shipment_id": OLD, "partner": "ups", "ref": "UPS-1",
                                                "idempotency_key": f"tl:{OLD}:handover:ups",
                                                "events_url": "http://api/v1/carrier-events"},
             until=TrackingStatus.ARRIVED_AT_DESTINATION, polled=True),
    ]


def test_rebinding_replaces_the_shipment_everywhere_and_sends_pushed_events_to_ms_ingress():
    bound = rebind(steps(), OLD, "M-R05-00004", "http://ingress/v1/carrier-events")
    assert bound[0].call["idempotency_key"] == "tl:M-R05-00004:book:ups"
    assert bound[0].call["request"]["shipment_id"] == bound[0].call["shipment_id"] == "M-R05-00004"
    assert bound[0].call["events_url"] is None  # a call without an events URL gets none
    assert bound[1].call["events_url"] == "http://ingress/v1/carrier-events"
    assert bound[1].until is TrackingStatus.ARRIVED_AT_DESTINATION and bound[1].polled
    assert OLD not in repr([s.model_dump() for s in bound])
    assert steps()[0].call["shipment_id"] == OLD  # the warm-up's steps are left as they were


def test_references_are_the_ones_ms_partners_answered():
    answers: dict[str, str] = {}
    told_tradelane = steps()[0].result
    learn_refs(answers, told_tradelane, {"ref": "UPS-77", "tracking_number": "1Z77", "state": "booked"})
    learn_refs(answers, None, None)  # a call without an answer (handover) teaches nothing
    assert answers == {"UPS-1": "UPS-77", "1Z1": "1Z77"}
    call = rewrite_refs(steps()[1].call, answers)
    assert call["ref"] == "UPS-77" and call["partner"] == "ups"
    assert rewrite_refs({"ref": "OTHER", "tracking_number": None}, answers) == {"ref": "OTHER",
                                                                               "tracking_number": None}


def test_the_ceiling_runs_one_noop_per_partner_step_in_order_then_the_signals():
    shape = ceiling_shape("basic-cn-de", 7)
    assert [w.activities[0].name for w in shape.waves] == list(PARTNER_STEPS)
    assert [w.after_activities for w in shape.waves] == [[], [0], [1], [2], [3]]
    assert len(shape.signal_bytes) == 7 and shape.update_bytes == [] and shape.activities == 5
    with pytest.raises(ValueError, match="signals: at least 0"):
        ceiling_shape("x", -1)


def test_the_gate_is_looked_at_a_handful_of_times_not_every_50_ms():
    waits = list(itertools.islice(gate_waits(), 8))
    assert waits[:4] == [0.5, 1.0, 2.0, 2.0]
    looks_in_10_s = len(list(itertools.takewhile(lambda total: total <= 10,
                                                 itertools.accumulate(gate_waits()))))
    assert looks_in_10_s <= 6  # a 50 ms poll looked 200 times


def test_command_line_rates_workers_and_sweep_sizes():
    args = parse_args(["--sweep", "2,0.5,1", "--workers", "1,2", "--poisson"])
    assert args.sweep == [0.5, 1.0, 2.0] and args.workers == [1, 2] and args.poisson
    assert (args.in_flight, args.shipments, args.reps, args.open) == (20, 40, 3, [100, 1000])
    assert parse_args(["--open", ""]).open == []
    assert sweep_count(4, 20) == 80 and sweep_count(0.1, 20) == 4
    for bad in (["--sweep", "0,1"], ["--workers", "3"], ["--reps", "2"], ["--sweep", "a"], ["--open", "5"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
