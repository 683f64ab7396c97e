"""Fault rules as pure data: validation, matching, counting, windows and the header."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sandbox.errors import ErrorCode, SandboxError
from sandbox.faults import (
    APPLIED_HEADER,
    FaultBook,
    FaultContext,
    FaultKind,
    FaultRule,
    effect_of,
    parse_fault_header,
    rule_matches,
)
from sandbox.partners import Operation


def ctx(partner: str = "aerocargo", operation: Operation = Operation.BOOK, shipment_id: str = "S-1") -> FaultContext:
    return FaultContext(partner=partner, operation=operation, shipment_id=shipment_id)


@pytest.mark.parametrize(
    ("rule", "call", "matches"),
    [
        pytest.param(FaultRule(kind=FaultKind.ERROR), ctx(), True, id="wildcards_match_everything"),
        pytest.param(FaultRule(kind=FaultKind.ERROR, partner="bluewave"), ctx(), False, id="other_partner"),
        pytest.param(FaultRule(kind=FaultKind.ERROR, operation=Operation.QUOTE), ctx(), False, id="other_operation"),
        pytest.param(FaultRule(kind=FaultKind.ERROR, shipment_id="S-*"), ctx(), True, id="shipment_glob"),
        pytest.param(FaultRule(kind=FaultKind.ERROR, shipment_id="T-*"), ctx(), False, id="shipment_glob_miss"),
        pytest.param(FaultRule(kind=FaultKind.ERROR, shipment_id="S-*"), ctx(shipment_id=""), False,
                     id="unknown_shipment_only_matches_star"),
        pytest.param(
            FaultRule(kind=FaultKind.ERROR, partner="*rail"), ctx(partner="silkrail"), True, id="partner_glob"
        ),
        pytest.param(FaultRule(kind=FaultKind.HOLD), ctx(), False, id="hold_never_acts_on_bookings"),
        pytest.param(FaultRule(kind=FaultKind.HOLD), ctx("clearpath", Operation.FILE), True, id="hold_acts_on_filings"),
    ],
)
def test_rule_matching(rule: FaultRule, call: FaultContext, matches: bool) -> None:
    assert rule_matches(rule, call, elapsed_s=0) is matches


@pytest.mark.parametrize(
    ("elapsed", "active"),
    [(0.0, False), (9.99, False), (10.0, True), (19.99, True), (20.0, False), (100.0, False)],
)
def test_window_is_half_open(elapsed: float, active: bool) -> None:
    rule = FaultRule(kind=FaultKind.OUTAGE, window_start_s=10, window_end_s=20)
    assert rule_matches(rule, ctx(), elapsed) is active


def test_times_counts_per_shipment_partner_and_operation() -> None:
    book = FaultBook([FaultRule(kind=FaultKind.ERROR, times=2)])
    assert [book.select(ctx(), 0) is not None for _ in range(3)] == [True, True, False]
    # Each (shipment, partner, operation) has its own budget.
    assert book.select(ctx(shipment_id="S-2"), 0) is not None
    assert book.select(ctx(partner="bluewave"), 0) is not None
    assert book.select(ctx(operation=Operation.QUOTE), 0) is not None
    assert book.select(ctx(), 0) is None


def test_first_rule_with_budget_wins_then_falls_through() -> None:
    book = FaultBook([FaultRule(kind=FaultKind.RATE_LIMIT, times=1)])
    book.add([FaultRule(kind=FaultKind.REJECT, code="CARRIER_FULL")])
    assert book.select(ctx(), 0).kind == FaultKind.RATE_LIMIT  # type: ignore[union-attr]
    assert book.select(ctx(), 0).kind == FaultKind.REJECT  # type: ignore[union-attr]


def test_clear_runtime_keeps_config_rules_and_new_rules_get_fresh_budget() -> None:
    book = FaultBook([FaultRule(kind=FaultKind.LATENCY, shipment_id="cfg-*")])
    book.add([FaultRule(kind=FaultKind.ERROR, times=1)])
    assert book.select(ctx(), 0) is not None
    assert book.select(ctx(), 0) is None
    assert book.clear_runtime() == 1
    assert [r.source for r in book.rules()] == ["config"]
    book.add([FaultRule(kind=FaultKind.ERROR, times=1)])
    assert book.select(ctx(), 0) is not None


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"kind": "explode"}, "kind"),
        ({"kind": "error", "status": 200}, "status"),
        ({"kind": "error", "partner": "fedx"}, "unknown partner 'fedx'"),
        ({"kind": "error", "operation": "ship"}, "operation"),
        ({"kind": "reject", "code": "lower case"}, "code"),
        ({"kind": "outage", "window_start_s": 5, "window_end_s": 5}, "window_end_s"),
        ({"kind": "hold", "operation": "book"}, "only applies to operation file"),
        ({"kind": "error", "colour": "red"}, "colour"),
    ],
)
def test_invalid_rules_say_what_is_wrong(fields: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError) as err:
        FaultRule.model_validate(fields)
    assert needle in str(err.value)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("kind=error;status=502", {"kind": FaultKind.ERROR, "status": 502}),
        ("kind=reject; code=CARRIER_FULL ;", {"kind": FaultKind.REJECT, "code": "CARRIER_FULL"}),
        ("kind=rate_limit;retry_after_s=2", {"kind": FaultKind.RATE_LIMIT, "retry_after_s": 2.0}),
        ("kind=latency;latency_s=0.5", {"kind": FaultKind.LATENCY, "latency_s": 0.5}),
    ],
)
def test_fault_header_parses(header: str, expected: dict[str, object]) -> None:
    rule = parse_fault_header(header, Operation.BOOK)
    assert {k: getattr(rule, k) for k in expected} == expected


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        ("status=503", "missing kind"),
        ("kind=error;status", "'status' is not key=value"),
        ("kind=error;times=3", "unknown key 'times'"),
        ("kind=error;kind=reject", "'kind' given twice"),
        ("kind=error;status=abc", "status='abc'"),
        ("kind=boom", "kind='boom'"),
        ("kind=hold", "does not apply to operation 'book'"),
    ],
)
def test_bad_fault_header_names_the_part(header: str, needle: str) -> None:
    with pytest.raises(SandboxError) as err:
        parse_fault_header(header, Operation.BOOK)
    assert (err.value.status, err.value.code) == (400, ErrorCode.BAD_FAULT_HEADER)
    assert needle in err.value.message


@pytest.mark.parametrize(
    ("rule", "status", "code", "sleep_s"),
    [
        (FaultRule(kind=FaultKind.ERROR, status=502), 502, "BAD_GATEWAY", 0),
        (FaultRule(kind=FaultKind.ERROR, status=599), 599, "HTTP_599", 0),
        (FaultRule(kind=FaultKind.RATE_LIMIT), 429, ErrorCode.RATE_LIMITED, 0),
        (FaultRule(kind=FaultKind.TIMEOUT), 504, ErrorCode.GATEWAY_TIMEOUT, 7.0),
        (FaultRule(kind=FaultKind.REJECT, code="CARRIER_FULL"), 422, "CARRIER_FULL", 0),
        (FaultRule(kind=FaultKind.OUTAGE), 503, ErrorCode.PARTNER_UNAVAILABLE, 0),
    ],
)
def test_failing_effects(rule: FaultRule, status: int, code: str, sleep_s: float) -> None:
    effect = effect_of(rule, timeout_fault_seconds=7.0)
    assert effect.error is not None
    assert (effect.error.status, effect.error.code, effect.sleep_s) == (status, code, sleep_s)
    assert effect.error.headers[APPLIED_HEADER] == rule.kind


@pytest.mark.parametrize(("retry_after_s", "header"), [(1.0, "1"), (2.5, "2.5"), (0.25, "0.25"), (30, "30")])
def test_retry_after_header_value(retry_after_s: float, header: str) -> None:
    effect = effect_of(FaultRule(kind=FaultKind.RATE_LIMIT, retry_after_s=retry_after_s), 1)
    assert effect.error is not None and effect.error.headers["Retry-After"] == header


def test_proceeding_effects() -> None:
    latency = effect_of(FaultRule(kind=FaultKind.LATENCY, latency_s=0.3), 30)
    assert (latency.sleep_s, latency.error, latency.hold_reason) == (0.3, None, None)
    hold = effect_of(FaultRule(kind=FaultKind.HOLD, code="DOCS_MISSING"), 30)
    assert (hold.error, hold.hold_reason) == (None, "DOCS_MISSING")
