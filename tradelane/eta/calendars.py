"""Business days of one country as plain data: weekend days and public holidays, looked up once.

`business_calendar` asks the maintained `holidays` library (in an activity); the `BusinessCalendar` it returns is
plain data the workflow keeps in its state, so upgrading the library never changes a running workflow's dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:  # for annotations only: the library is imported when a calendar is built (see business_calendar)
    from holidays import HolidayBase

ONE_DAY = timedelta(days=1)
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Most of the world rests on Saturday and Sunday; used only when the library does not know the country.
_DEFAULT_WEEKEND = [5, 6]


def utc_date(moment: datetime) -> date:
    """The UTC date of `moment`; a naive datetime is read as UTC."""
    return moment.date() if moment.tzinfo is None else moment.astimezone(UTC).date()


class BusinessCalendar(BaseModel):
    """Weekend days and public holidays of a country (and subdivision) between `first_day` and `last_day`.

    Outside `[first_day, last_day]` the holidays are not known: only weekend days count as closed there.
    """

    model_config = ConfigDict(frozen=True)

    country: str = Field(pattern=r"^[A-Z]{2}$")
    """ISO 3166-1 alpha-2."""
    subdivision: str | None = None
    """The library's subdivision code (e.g. `BY`, `QC`) whose holidays are included; None for national only."""
    weekend: list[int]
    """Rest days as `date.weekday()` numbers: `[5, 6]` Saturday-Sunday, `[4, 5]` Friday-Saturday."""
    holidays: dict[date, str] = Field(default_factory=dict)
    """Public holidays in `[first_day, last_day]` with their names."""
    weekend_workdays: list[date] = Field(default_factory=list)
    """Weekend days that are working days (e.g. China's make-up working Saturdays), sorted."""
    first_day: date
    last_day: date
    source: str = Field(min_length=3)
    """Where the days come from, e.g. `python-holidays 0.109 (DE-BY)`."""

    @field_validator("weekend")
    @classmethod
    def _weekend(cls, weekend: list[int]) -> list[int]:
        bad = [day for day in weekend if not 0 <= day <= 6]
        if bad:
            raise ValueError(f"{bad} are not weekday numbers (0 = Monday .. 6 = Sunday)")
        if len(set(weekend)) == 7:
            # A week without a working day would make next_business_day search forever.
            raise ValueError("every day of the week is a weekend day: no business day left")
        return sorted(set(weekend))

    @model_validator(mode="after")
    def _range(self) -> BusinessCalendar:
        if self.last_day < self.first_day:
            raise ValueError(f"last_day {self.last_day} is before first_day {self.first_day}")
        return self

    def is_business_day(self, day: date) -> bool:
        """Whether `day` is neither a weekend day (unless a make-up working day) nor a public holiday."""
        if day in self.holidays:
            return False
        if day.weekday() in self.weekend:
            return day in self.weekend_workdays
        return True

    def next_business_day(self, day: date) -> date:
        """`day` itself when it is a business day, else the first business day after it."""
        while not self.is_business_day(day):
            day += ONE_DAY
        return day

    def add_business_days(self, day: date, n: int) -> date:
        """The `n`-th business day after `day`; for `n == 0`, `next_business_day(day)`.

        Friday + 1 is Monday (with a Saturday-Sunday weekend), and so is Saturday + 1 and Saturday + 0.

        Raises:
            ValueError: `n` is negative.
        """
        if n < 0:
            raise ValueError(f"n: {n} is negative; business days are only added")
        if n == 0:
            return self.next_business_day(day)
        for _ in range(n):
            day = self.next_business_day(day + ONE_DAY)
        return day


def business_calendar(country: str, subdivision: str | None, first_day: date, last_day: date) -> BusinessCalendar:
    """The business days of `country` from the `holidays` library, for `[first_day, last_day]`.

    Calls the library, so it belongs in an activity; the result is plain data for the workflow.

    Args:
        country: ISO 3166-1 alpha-2 code.
        subdivision: A state, province or region as the library codes it (`BY`, `QC`), with or without the
            country prefix (`CA-QC`), or one of the library's names for it (`Bayern`). One the library does not
            know is ignored (national holidays only), and `source` says so.
        first_day: First day whose holidays are included.
        last_day: Last day whose holidays are included.

    Returns:
        The calendar. A country the library does not support gets weekends only (Saturday-Sunday), and `source`
        says so.

    Raises:
        ValueError: `country` is not two letters, or `last_day` is before `first_day`.
    """
    # Imported here, not at module level: the workflow imports this package for plan_eta/revise_eta and must
    # never load the library (its data changes between versions).
    import holidays
    from holidays.version import __version__ as holidays_version

    code = country.upper()
    if len(code) != 2 or not code.isalpha():
        raise ValueError(f"country: '{country}' is not an ISO 3166-1 alpha-2 code")
    if last_day < first_day:
        raise ValueError(f"last_day: {last_day} is before first_day {first_day}")
    library = f"python-holidays {holidays_version}"
    try:
        national = holidays.country_holidays(code)
    except NotImplementedError:
        return BusinessCalendar(
            country=code, subdivision=None, weekend=_DEFAULT_WEEKEND, first_day=first_day, last_day=last_day,
            source=f"{library}: {code} is not supported; weekends only (Sat, Sun), no public holidays",
        )
    known = _library_subdivision(national, code, subdivision)
    language = "en_US" if "en_US" in (national.supported_languages or ()) else None
    found = holidays.country_holidays(
        code, subdiv=known, years=range(first_day.year, last_day.year + 1), language=language,
    )
    # The week of first_day: some countries changed their weekend (AE in 2022), and is_weekend knows when.
    weekend = sorted({(first_day + timedelta(days=k)).weekday() for k in range(7)
                      if found.is_weekend(first_day + timedelta(days=k))})
    where = f"{code}-{known}" if known else code
    note = "" if known or not subdivision else f"; subdivision '{subdivision}' not known, national holidays only"
    return BusinessCalendar(
        country=code,
        subdivision=known,
        weekend=weekend,
        holidays={day: name for day, name in sorted(found.items()) if first_day <= day <= last_day},
        weekend_workdays=sorted(day for day in found.weekend_workdays if first_day <= day <= last_day),
        first_day=first_day,
        last_day=last_day,
        source=f"{library} ({where}, weekend {'-'.join(_DAY_NAMES[d] for d in weekend)}){note}",
    )


def _library_subdivision(national: HolidayBase, country: str, subdivision: str | None) -> str | None:
    """The library's code for `subdivision` (code, `CC-code` or alias, any case), or None when it has none."""
    if not subdivision or not subdivision.strip():
        return None
    text = subdivision.strip()
    if text.upper().startswith(f"{country}-"):
        text = text[len(country) + 1:]
    codes = {code.upper(): code for code in national.subdivisions}
    if text.upper() in codes:
        return codes[text.upper()]
    aliases = {alias.casefold(): code for alias, code in national.subdivisions_aliases.items()}
    return aliases.get(text.casefold())
