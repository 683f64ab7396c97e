"""When a recipient may be notified: their time zone, and holding messages back during quiet hours.

Everything works on local wall-clock time in the recipient's IANA zone through `zoneinfo`, so daylight-saving changes
are handled by the tz database, not by arithmetic on offsets.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
import pytz


def _zones(table: dict[str, str]) -> dict[str, str]:
    """`{zone: "space separated region codes"}` turned round into `{region code: zone}`."""
    return {code: zone for zone, codes in table.items() for code in codes.split()}


# Regions (ISO 3166-2 codes without the country prefix) of the big multi-zone countries. A region split between
# zones gets the zone of its largest population (Kentucky -> Louisville, Pará -> Belém, Nunavut -> Iqaluit).
REGION_ZONES: dict[str, dict[str, str]] = {
    "US": _zones({
        "America/New_York": "CT DE DC FL GA ME MD MA NH NJ NY NC OH PA RI SC VT VA WV",
        "America/Detroit": "MI",
        "America/Kentucky/Louisville": "KY",
        "America/Indiana/Indianapolis": "IN",
        "America/Chicago": "AL AR IL IA KS LA MN MS MO NE ND OK SD TN TX WI",
        "America/Denver": "CO MT NM UT WY",
        "America/Boise": "ID",
        "America/Phoenix": "AZ",
        "America/Los_Angeles": "CA NV OR WA",
        "America/Anchorage": "AK",
        "Pacific/Honolulu": "HI",
        "America/Puerto_Rico": "PR",
        "America/St_Thomas": "VI",
        "Pacific/Guam": "GU",
        "Pacific/Saipan": "MP",
        "Pacific/Pago_Pago": "AS",
    }),
    "CA": _zones({
        "America/St_Johns": "NL",
        "America/Halifax": "NS PE",
        "America/Moncton": "NB",
        "America/Toronto": "ON QC",
        "America/Iqaluit": "NU",
        "America/Winnipeg": "MB",
        "America/Regina": "SK",
        "America/Edmonton": "AB NT",
        "America/Vancouver": "BC",
        "America/Whitehorse": "YT",
    }),
    "AU": _zones({
        "Australia/Sydney": "NSW ACT",
        "Australia/Melbourne": "VIC",
        "Australia/Brisbane": "QLD",
        "Australia/Adelaide": "SA",
        "Australia/Perth": "WA",
        "Australia/Hobart": "TAS",
        "Australia/Darwin": "NT",
    }),
    "BR": _zones({
        "America/Sao_Paulo": "SP RJ MG ES PR SC RS GO DF",
        "America/Bahia": "BA",
        "America/Fortaleza": "CE MA PI RN PB",
        "America/Recife": "PE",
        "America/Maceio": "AL SE",
        "America/Araguaina": "TO",
        "America/Belem": "PA AP",
        "America/Manaus": "AM",
        "America/Boa_Vista": "RR",
        "America/Porto_Velho": "RO",
        "America/Campo_Grande": "MS",
        "America/Cuiaba": "MT",
        "America/Rio_Branco": "AC",
    }),
}

# Representative zone of a multi-zone country when the region is not given or not known: the zone of the capital or
# of most people. Countries not listed here take the tz database's first zone for the country (zone.tab order),
# which is right for the others (Mexico City, Jakarta, Madrid, Lisbon, Shanghai, ...).
DEFAULT_ZONES: dict[str, str] = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv",
    "UZ": "Asia/Tashkent",
    "FM": "Pacific/Pohnpei",
    "PS": "Asia/Hebron",
}


def _fold(text: str) -> str:
    """Case- and accent-insensitive form of a region name (`São Paulo` == `sao paulo`)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


@cache
def _region_names(country: str) -> dict[str, str]:
    """Folded subdivision name -> code (without prefix), from ISO 3166-2 via pycountry."""
    subdivisions = pycountry.subdivisions.get(country_code=country) or []
    return {_fold(s.name): s.code.split("-", 1)[1] for s in subdivisions}


def recipient_timezone(country: str, region: str | None = None) -> str:
    """The IANA time zone to use for a recipient.

    Args:
        country: ISO 3166-1 alpha-2 code of the recipient's country.
        region: For the US, Canada, Australia and Brazil: the state or province, as a code (`CA`, `US-CA`) or its
            ISO 3166-2 name (`California`, `São Paulo`). Ignored for other countries.

    Returns:
        The region's zone; else the country's representative zone (`DEFAULT_ZONES`, or the tz database's first zone
        for the country). A region the table does not know gives the representative zone too: a wrong guess shifts
        quiet hours by a few hours, while refusing would stop the notification.

    Raises:
        ValueError: the tz database has no zone for `country`.
    """
    code = country.strip().upper()
    zones = pytz.country_timezones.get(code)
    if not zones:
        raise ValueError(f"country: '{country}' is not an ISO 3166-1 alpha-2 code with a time zone")
    table = REGION_ZONES.get(code)
    if table and region:
        key = region.strip().upper().removeprefix(f"{code}-")
        key = key if key in table else _region_names(code).get(_fold(region), "")
        if key in table:
            return table[key]
    return DEFAULT_ZONES.get(code, zones[0])


def zone(name: str) -> ZoneInfo:
    """The `ZoneInfo` of an IANA zone name.

    Raises:
        ValueError: the name is not in the tz database.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"timezone: '{name}' is not an IANA time zone") from error


_QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*[-\u2013]\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


@dataclass(frozen=True)
class QuietHours:
    """A daily local wall-clock window in which no message is sent.

    The window holds `start` and excludes `end`; when `end` is earlier than `start` it wraps midnight
    (`21:00-08:00` is quiet from 21:00 to 07:59:59 the next morning).
    """

    start: time
    """Local time the window opens."""
    end: time
    """Local time the window closes (messages held back are released then)."""

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours: start and end are local wall-clock times and take no tzinfo")
        if self.start == self.end:
            raise ValueError(f"quiet hours: start and end are both {self.start:%H:%M}, an empty window; "
                             "leave quiet hours unset instead")

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """Quiet hours from text such as `21:00-08:00` (seconds may be given: `21:00:00-07:59:30`).

        Raises:
            ValueError: the text is not `HH:MM[:SS]-HH:MM[:SS]`, a time is out of range, or the window is empty.
        """
        found = _QUIET.match(text)
        if not found:
            raise ValueError(f"quiet hours '{text}': expected HH:MM-HH:MM, e.g. 21:00-08:00")
        sh, sm, ss, eh, em, es = (int(part or 0) for part in found.groups())
        for which, hour, minute, second in (("start", sh, sm, ss), ("end", eh, em, es)):
            if hour > 23 or minute > 59 or second > 59:
                raise ValueError(f"quiet hours '{text}': {which} {hour:02d}:{minute:02d}:{second:02d} is not a time "
                                 "of day (00:00-23:59)")
        return cls(time(sh, sm, ss), time(eh, em, es))

    @property
    def wraps_midnight(self) -> bool:
        return self.end < self.start

    def contains(self, wall: time) -> bool:
        """Whether a local wall-clock time is inside the window."""
        if self.wraps_midnight:
            return wall >= self.start or wall < self.end
        return self.start <= wall < self.end


def _first_instant_at_or_after(wall: datetime, tz: ZoneInfo, not_before: datetime) -> datetime:
    """The earliest UTC instant, not before `not_before`, at which the local clock in `tz` reads `wall` or later.

    A wall time repeated when clocks go back has two instants; the earlier one that is not before `not_before`
    counts. A wall time skipped when clocks go forward has none; the clock then first reads later than `wall` at the
    transition itself, found by bisection between the two offsets' readings of `wall`.
    """
    readings = [wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)]
    existing = [r for r in readings if r.astimezone(tz).replace(tzinfo=None) == wall]
    if existing:
        later = [r for r in existing if r >= not_before]
        return min(later) if later else max(max(existing), not_before)
    lo, hi = min(readings), max(readings)  # local clock reads < wall at lo and > wall at hi
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return max(hi.replace(microsecond=0), not_before)


def release_time(at: datetime, timezone: str, quiet: QuietHours | None) -> datetime:
    """When a message due at `at` may go out: the first instant at or after `at` outside the quiet hours.

    Args:
        at: When the message is due (timezone-aware).
        timezone: The recipient's IANA time zone, in which the quiet hours are read.
        quiet: The recipient's quiet hours; None sends at once.

    Returns:
        The release instant in UTC; equal to `at` when `at` is outside the quiet hours or there are none.

    Raises:
        ValueError: `at` is naive or `timezone` is unknown.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"at: {at.isoformat()} has no time zone; pass an aware datetime (UTC)")
    tz = zone(timezone)
    at_utc = at.astimezone(UTC)
    if quiet is None:
        return at_utc
    local = at_utc.astimezone(tz)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return at_utc
    # Inside the window: it closes today, or tomorrow when it wrapped midnight and we are before midnight.
    before_midnight = quiet.wraps_midnight and local.time() >= quiet.start
    closes_on = local.date() + timedelta(days=1) if before_midnight else local.date()
    return _first_instant_at_or_after(datetime.combine(closes_on, quiet.end), tz, at_utc)
