"""Shipment ETAs in destination business days: planned once, revised on every tracking event.

The workflow must stay deterministic when the `holidays` library or the rule tables change, so the split is:

- `eta_basis` (in an activity) reads the allowance table and the holiday calendars once and returns plain data,
  an `EtaBasis`, that the workflow keeps in its state;
- `plan_eta` and `revise_eta` (in the workflow) are pure, fast functions of that data: no clock, no I/O.

Dates are UTC dates of the datetimes passed in.
"""

from tradelane.eta.basis import BusinessDays, EtaBasis, EtaLeg, eta_basis
from tradelane.eta.calendars import BusinessCalendar, business_calendar, utc_date
from tradelane.eta.estimate import Eta, plan_eta, revise_eta

__all__ = [
    "BusinessCalendar",
    "BusinessDays",
    "Eta",
    "EtaBasis",
    "EtaLeg",
    "business_calendar",
    "eta_basis",
    "plan_eta",
    "revise_eta",
    "utc_date",
]
