"""ETA: the plan ETA, the basis built from a plan and the allowance table, and the plan ETA's properties."""

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.domain.eta_support import (
    AIR,
    BASIS,
    BOOK,
    PARCELNOW_HOME,
    allowances,
    at,
    d,
    example_plan,
    legs_strategy,
    random_basis,
    starts,
    weekends,
)
from tests.domain.test_marking import build
from tradelane.decisions.planner import HUB_HANDLING_DAYS
from tradelane.enums import Mode
from tradelane.eta import BusinessCalendar, EtaLeg, eta_basis, plan_eta
from tradelane.rules import DATA_DIR, RuleBook, RuleDataError, RuleStatus
from tradelane.rules.schemas.eta import EtaAllowanceRow, EtaStep

# ---- the plan ETA ----------------------------------------------------------------------------------------------


def test_plan_eta_by_hand():
    # Start Mon 2 Nov. Pick-up +1/+2/+4 business days: Tue 3, Wed 4, Fri 6 Nov. Rail +14/16/18 days: 17, 20, 24.
    # Hub day +1: 18, 21, 25. Road +1/2/3: Thu 19, Mon 23, Sat 28. Customs +1/2/4 business days: Fri 20,
    # Wed 25, Thu 3 Dec. Last mile +1/2/3: Mon 23 Nov, Fri 27 Nov, Tue 8 Dec (latest as without the hub day:
    # road then ended Fri 27 and customs +4 reached Thu 3 Dec just the same over the weekend).
    eta = plan_eta(BASIS, at("2026-11-02T09:00:00+00:00"))
    assert (eta.earliest, eta.expected, eta.latest) == (d("2026-11-23"), d("2026-11-27"), d("2026-12-08"))
    assert eta.basis == "plan rail silkrail CN-PL, road roadlink PL-DE, last mile parcelnow"
    assert eta.as_of == at("2026-11-02T09:00:00+00:00") and not eta.delivered


def test_plan_eta_counts_the_utc_date():
    # 23:30 in New York on Sun 1 Nov is Mon 2 Nov in UTC: the same ETA as a Monday start.
    local = datetime(2026, 11, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    eta = plan_eta(BASIS, local)
    assert (eta.earliest, eta.expected, eta.latest) == (d("2026-11-23"), d("2026-11-27"), d("2026-12-08"))


def seven_day_calendar(country: str) -> BusinessCalendar:
    """Every day a business day: customs and the last mile count calendar days, so no weekend hides a day."""
    return BusinessCalendar(country=country, subdivision=None, weekend=[], holidays={}, first_day=d("2026-10-01"),
                            last_day=d("2027-06-30"), source="hand-built seven-day calendar")


def one_leg(low: int, mid: int, high: int) -> list[EtaLeg]:
    return [EtaLeg(seq=0, partner="silkrail", mode=Mode.RAIL, origin="CN", destination="DE",
                   days_min=low, days_expected=mid, days_max=high)]


@pytest.mark.parametrize(("legs", "start", "dates"), [
    # Rail 14/16/18 + road 1/2/3 (BASIS), start Mon 2 Nov, no weekends. Pick-up +1/2/4: 3, 4, 6 Nov. Rail: 17, 20,
    # 24. Hub day +1: 18, 21, 25. Road: 19, 23, 28. Customs +1/2/4: 20, 25 Nov, 2 Dec. Last mile +1/2/3: 21, 27 Nov,
    # 5 Dec. The leg days alone (15/18/21 as one leg) would give 20, 26 Nov, 4 Dec: one day earlier each.
    (BASIS.legs, "2026-11-02", ("2026-11-21", "2026-11-27", "2026-12-05")),
], ids=["hub-handling-day-between-legs"])
def test_plan_eta_counts_the_hub_handling_day(legs, start, dates):
    seven_days = {"CN": seven_day_calendar("CN"), "DE": seven_day_calendar("DE")}
    basis = BASIS.model_copy(update={"legs": legs, "calendars": seven_days})
    eta = plan_eta(basis, at(start))
    assert (eta.earliest, eta.expected, eta.latest) == tuple(d(day) for day in dates)
    summed = [sum(leg.pick(k) for leg in legs) for k in (0, 1, 2)]
    without_hub = plan_eta(basis.model_copy(update={"legs": one_leg(*summed)}), at(start))
    assert [(eta.earliest - without_hub.earliest).days, (eta.expected - without_hub.expected).days,
            (eta.latest - without_hub.latest).days] == [HUB_HANDLING_DAYS] * 3 == [1] * 3
    # The planner's transit days (leg days + one hub day per change of leg) as one leg give the same dates.
    planner_days = [total + (len(legs) - 1) * HUB_HANDLING_DAYS for total in summed]
    as_planned = plan_eta(basis.model_copy(update={"legs": one_leg(*planner_days)}), at(start))
    assert (as_planned.earliest, as_planned.expected, as_planned.latest) == (eta.earliest, eta.expected, eta.latest)


def test_plan_eta_on_the_basic_example():
    request = build("basic-cn-de.json")
    basis = eta_basis(example_plan(AIR, risk_days=2), PARCELNOW_HOME, request, BOOK)
    assert basis.legs[0].model_dump(include={"days_min", "days_expected", "days_max"}) == {
        "days_min": 3, "days_expected": 6, "days_max": 7}  # ceil(4) + 2 risk days; 5 + 2
    assert (basis.pickup.min, basis.pickup.expected, basis.pickup.max) == (0, 1, 2)  # air_express row
    assert (basis.last_mile.min, basis.last_mile.expected, basis.last_mile.max) == (1, 2, 3)  # SLA 2 -> 1/2/3
    assert basis.last_mile_partner == "parcelnow"
    # Tue 1 Dec 2026. Pick-up +0/1/2 (CN): 1, 2, 3 Dec. Air +3/6/7 days: Fri 4, Tue 8, Thu 10 Dec.
    # Customs +0/1/2 (DE): Fri 4, Wed 9, Mon 14. Last mile +1/2/3: Mon 7, Fri 11, Thu 17 Dec.
    eta = plan_eta(basis, datetime.combine(request.ship_date, datetime.min.time(), UTC))
    assert (eta.earliest, eta.expected, eta.latest) == (d("2026-12-07"), d("2026-12-11"), d("2026-12-17"))
    assert eta.basis == "plan air_express ups CN-DE, last mile parcelnow"


def test_eta_basis_of_a_multimodal_plan_uses_the_table():
    plan = example_plan([(Mode.RAIL, "silkrail", "CN", "PL", 16, 20, 9500.0),
                         (Mode.ROAD, "roadlink", "PL", "DE", 1, 3, 570.0)], risk_days=3)
    basis = eta_basis(plan, None, build("basic-cn-de.json"), BOOK)
    assert [(leg.partner, leg.days_min, leg.days_expected, leg.days_max) for leg in basis.legs] == [
        ("silkrail", 16, 21, 23), ("roadlink", 1, 2, 3)]  # risk days on the main (longest) leg only
    picked = {name: (part.min, part.expected, part.max) for name, part in
              (("pickup", basis.pickup), ("customs", basis.customs), ("customs_hold", basis.customs_hold),
               ("last_mile", basis.last_mile))}
    assert picked == {"pickup": (1, 2, 4), "customs": (1, 2, 4), "customs_hold": (2, 4, 10), "last_mile": (1, 2, 4)}
    assert basis.customs.source == "eta_allowances customs *: Tradelane planning allowance (default) [general]"
    assert basis.last_mile_partner is None
    assert sorted(basis.calendars) == ["CN", "DE"]
    assert (basis.destination_calendar.first_day, basis.destination_calendar.last_day) == (
        d("2026-11-24"), d("2027-07-29"))  # ship date 1 Dec 2026 - 7 days .. + 240 days


def test_a_plan_without_legs_is_refused():
    plan = example_plan(AIR).model_copy(update={"legs": []})
    with pytest.raises(ValueError, match="plan.legs: plan test-plan has no legs"):
        eta_basis(plan, None, build("basic-cn-de.json"), BOOK)


# ---- the allowance table ---------------------------------------------------------------------------------------


def test_every_allowance_row_has_a_source_and_every_step_a_default():
    table = BOOK.table(EtaAllowanceRow)
    assert len(table) == 7
    assert all(row.source == "Tradelane planning allowance (default)" and row.status is RuleStatus.GENERAL
               and row.valid_from == d("2020-01-01") and row.min <= row.expected <= row.max for row in table)
    assert {row.step for row in table if row.mode == "*"} == set(EtaStep)
    customs = {row.mode: (row.min, row.expected, row.max) for row in table if row.step is EtaStep.CUSTOMS}
    assert customs == {Mode.AIR_EXPRESS: (0, 1, 2), "*": (1, 2, 4)}
    raw = yaml.safe_load((DATA_DIR / "eta_allowances.yaml").read_text())
    assert raw["defaults"]["source"] == "Tradelane planning allowance (default)"


def _book(directory: Path, rows: list[dict[str, Any]]) -> RuleBook:
    defaults = {"source": "test allowance", "status": "general", "valid_from": "2020-01-01", "valid_to": None}
    document = {"table": "eta_allowances", "defaults": defaults, "rules": rows}
    (directory / "eta_allowances.yaml").write_text(yaml.safe_dump(document))
    return RuleBook(directory)


@pytest.mark.parametrize(("rows", "message"), [
    ([{"step": "customs", "mode": "*", "min": 3, "expected": 2, "max": 4}],
     "customs \\*: expected 0 <= min <= expected <= max, got 3/2/4"),
    ([{"step": "customs", "mode": "*", "min": 1, "expected": 2, "max": 4},
      {"step": "customs", "mode": "*", "min": 1, "expected": 2, "max": 5, "valid_from": "2025-01-01"}],
     "overlap"),
    ([{"step": "pickup", "mode": "*", "min": 1, "expected": 2, "max": 4}],
     "eta_allowances: no row for step customs, mode air_express or '\\*', in force on 2026-12-01"),
    ([{"step": "customs", "mode": "teleport", "min": 1, "expected": 2, "max": 4}], "rules.0.mode"),
], ids=["min-above-expected", "overlapping-rows", "missing-step", "unknown-mode"])
def test_bad_allowance_tables_are_refused(tmp_path, rows, message):
    with pytest.raises(RuleDataError, match=message):
        eta_basis(example_plan(AIR), PARCELNOW_HOME, build("basic-cn-de.json"), _book(tmp_path, rows))


def test_a_mode_row_wins_over_the_default_until_it_expires(tmp_path):
    rows = [{"step": str(step), "mode": "*", "min": 1, "expected": 2, "max": 4} for step in EtaStep]
    rows.append({"step": "customs", "mode": "air_express", "min": 0, "expected": 0, "max": 1,
                 "valid_to": "2026-12-01"})
    book = _book(tmp_path, rows)
    request = build("basic-cn-de.json")
    before = eta_basis(example_plan(AIR), None, build("basic-cn-de.json", {"ship_date": "2026-11-30"}), book)
    after = eta_basis(example_plan(AIR), None, request, book)
    assert (before.customs.max, after.customs.max) == (1, 4)


# ---- properties ------------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(legs=legs_strategy, parts=st.lists(allowances, min_size=4, max_size=4), weekend=weekends, start=starts)
def test_plan_eta_is_ordered_and_on_business_days(legs, parts, weekend, start):
    basis = random_basis(legs, parts, weekend)
    eta = plan_eta(basis, start)
    assert eta.earliest <= eta.expected <= eta.latest
    assert eta.earliest >= start.date()
    for day in (eta.earliest, eta.expected, eta.latest):
        assert basis.destination_calendar.is_business_day(day)
