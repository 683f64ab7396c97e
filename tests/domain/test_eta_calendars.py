"""ETA: business calendars from the holidays library (holidays, weekends, subdivisions) and what they do to ETAs."""

from datetime import date, timedelta

import pytest

from tests.domain.eta_support import AIR, BOOK, PARCELNOW_HOME, at, calendar, d, example_plan
from tests.domain.test_marking import build
from tradelane.eta import BusinessCalendar, business_calendar, eta_basis, plan_eta

# ---- holidays and weekends from the library --------------------------------------------------------------------


def test_delivery_due_on_christmas_moves_to_monday():
    # Start Thu 17 Dec: pick-up Fri 18, air +4 days Tue 22, customs +1 Wed 23, last mile +2 business days:
    # Thu 24, then Fri 25 and Sat 26 are holidays, Sun 27 a weekend: Mon 28 Dec.
    basis = eta_basis(example_plan(AIR), PARCELNOW_HOME, build("basic-cn-de.json"), BOOK)
    assert basis.destination_calendar.holidays[d("2026-12-25")] == "Christmas Day"
    start = at("2026-12-17T08:00:00+00:00")
    assert plan_eta(basis, start).expected == d("2026-12-28")
    no_holidays = basis.destination_calendar.model_copy(update={"holidays": {}})
    without = basis.model_copy(update={"calendars": {**basis.calendars, "DE": no_holidays}})
    assert plan_eta(without, start).expected == d("2026-12-25")


@pytest.mark.parametrize(("country", "subdivision", "day", "n", "expected"), [
    ("DE", None, "2026-12-25", 0, "2026-12-28"),
    ("DE", None, "2026-12-24", 1, "2026-12-28"),
    ("US", None, "2026-11-26", 0, "2026-11-27"),
    ("US", None, "2026-11-25", 1, "2026-11-27"),
    ("CA", "QC", "2026-06-24", 0, "2026-06-25"),
    ("CA", None, "2026-06-24", 0, "2026-06-24"),
    ("CA", "CA-QC", "2026-06-23", 1, "2026-06-25"),
    ("DE", "BY", "2026-06-04", 0, "2026-06-05"),
    ("DE", "Bayern", "2026-06-03", 1, "2026-06-05"),
    ("DE", None, "2026-06-04", 0, "2026-06-04"),
    ("DE", "Atlantis", "2026-06-04", 0, "2026-06-04"),
    ("SA", None, "2026-11-06", 0, "2026-11-08"),
    ("SA", None, "2026-11-05", 1, "2026-11-08"),
    ("AE", None, "2026-11-07", 0, "2026-11-09"),
    ("CN", None, "2026-02-14", 0, "2026-02-14"),
    ("CN", None, "2026-02-13", 1, "2026-02-14"),
    ("CN", None, "2026-02-15", 0, "2026-02-24"),
    ("ZZ", None, "2026-12-25", 0, "2026-12-25"),
], ids=["de-christmas-friday-to-monday", "de-christmas-eve-plus-one", "us-thanksgiving", "us-day-before-thanksgiving",
        "ca-qc-saint-jean-baptiste", "ca-national-ignores-qc-holiday", "ca-qc-prefixed-code",
        "de-by-corpus-christi", "de-bayern-by-name", "de-national-ignores-corpus-christi",
        "unknown-subdivision-national-only", "sa-friday-is-weekend", "sa-thursday-plus-one-is-sunday",
        "ae-saturday-is-weekend-since-2022", "cn-make-up-working-saturday", "cn-friday-plus-one-is-make-up-saturday",
        "cn-spring-festival", "unsupported-country-weekends-only"])
def test_business_days_from_the_library(country, subdivision, day, n, expected):
    cal = business_calendar(country, subdivision, d("2026-01-01"), d("2026-12-31"))
    assert cal.add_business_days(d(day), n) == d(expected)


@pytest.mark.parametrize(("country", "first_day", "weekend", "source"), [
    ("SA", "2026-01-01", [4, 5], "(SA, weekend Fri-Sat)"),
    ("AE", "2026-01-01", [5, 6], "(AE, weekend Sat-Sun)"),
    ("AE", "2021-01-01", [4, 5], "(AE, weekend Fri-Sat)"),
    ("DE", "2026-01-01", [5, 6], "(DE, weekend Sat-Sun)"),
    ("ZZ", "2026-01-01", [5, 6], ": ZZ is not supported; weekends only (Sat, Sun), no public holidays"),
], ids=["saudi-friday-saturday", "uae-saturday-sunday-since-2022", "uae-friday-saturday-before-2022",
        "germany-saturday-sunday", "unsupported-country-says-so"])
def test_weekend_comes_from_the_library(country, first_day, weekend, source):
    import holidays

    cal = business_calendar(country, None, d(first_day), d(first_day) + timedelta(days=200))
    assert cal.weekend == weekend
    assert cal.source == f"python-holidays {holidays.__version__}{' ' if source.startswith('(') else ''}{source}"


def test_subdivision_holidays_only_with_the_subdivision():
    us_thanksgiving = business_calendar("US", None, d("2026-11-01"), d("2026-11-30"))
    assert us_thanksgiving.holidays == {d("2026-11-11"): "Veterans Day", d("2026-11-26"): "Thanksgiving Day"}
    qc = business_calendar("CA", "qc", d("2026-06-01"), d("2026-06-30"))
    national = business_calendar("CA", None, d("2026-06-01"), d("2026-06-30"))
    assert (qc.subdivision, qc.holidays) == ("QC", {d("2026-06-24"): "Saint John the Baptist Day"})
    assert national.holidays == {}
    unknown = business_calendar("CA", "Nowhere", d("2026-06-01"), d("2026-06-30"))
    assert unknown.subdivision is None
    assert unknown.source.endswith("subdivision 'Nowhere' not known, national holidays only")


@pytest.mark.parametrize(("region", "corpus_christi_2027"), [("BY", True), (None, False), ("Berlin", False)],
                         ids=["bavaria-keeps-corpus-christi", "no-region-national-only", "berlin-has-none"])
def test_eta_basis_takes_the_destination_region(region, corpus_christi_2027):
    request = build("basic-cn-de.json", {"destination.region": region})
    basis = eta_basis(example_plan(AIR), PARCELNOW_HOME, request, BOOK)
    assert (d("2027-05-27") in basis.destination_calendar.holidays) is corpus_christi_2027
    assert basis.destination_calendar.is_business_day(d("2027-05-27")) is not corpus_christi_2027


@pytest.mark.parametrize(("fields", "message"), [
    ({"weekend": [0, 1, 2, 3, 4, 5, 6]}, "no business day left"),
    ({"weekend": [7]}, r"\[7\] are not weekday numbers"),
    ({"first_day": d("2027-01-01"), "last_day": d("2026-01-01")}, "last_day 2026-01-01 is before first_day"),
], ids=["whole-week-weekend", "weekday-out-of-range", "range-backwards"])
def test_bad_calendars_are_refused(fields, message):
    values = {"country": "DE", "weekend": [5, 6], "first_day": d("2026-01-01"), "last_day": d("2026-12-31"),
              "source": "test", **fields}
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**values)


def test_negative_business_days_are_refused():
    with pytest.raises(ValueError, match="n: -1 is negative"):
        calendar("DE").add_business_days(d("2026-11-02"), -1)


def test_the_calendars_of_a_lane_and_day_are_built_once_per_worker(monkeypatch):
    """Building a calendar from the holidays library cost more than the rest of the decision layer (issue 20): the
    shipments of one lane and ship date share it."""
    from tradelane.eta import basis

    built: list[tuple[str, str | None]] = []
    real = basis.business_calendar

    def counting(country, subdivision, first_day, last_day):
        built.append((country, subdivision))
        return real(country, subdivision, first_day, last_day)

    monkeypatch.setattr(basis, "business_calendar", counting)
    basis._calendar.cache_clear()
    first_day, last_day = date(2026, 3, 1), date(2026, 10, 1)
    one = basis._calendar("DE", "BY", first_day, last_day)
    again = basis._calendar("DE", "BY", first_day, last_day)
    other = basis._calendar("DE", None, first_day, last_day)
    assert built == [("DE", "BY"), ("DE", None)]
    assert one is again and other.subdivision is None
    basis._calendar.cache_clear()
