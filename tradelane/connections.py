"""Partner connections as data: each partner's protocol, address, credentials (by reference), modes, lanes, limits
and how it reports tracking, from `tradelane/data/partners.yaml`, validated once at import.

The planner, the workflow, the activities and the sandbox read this one directory, so a partner is a row: adding a
carrier of a supported protocol (Karrio's carriers, DCSA ocean lines) needs no code.
"""

from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tradelane.enums import Aircraft, Mode, PartnerKind

TABLE = Path(__file__).parent / "data" / "partners.yaml"

NAME_PATTERN = r"^[a-z][a-z0-9_]{1,31}$"
"""A connection's name: in URLs, keys' names, records and events, so lower case and short."""


class PartnerProtocol(StrEnum):
    """Which adapter speaks to a partner."""

    TRADELANE = "tradelane"
    """Tradelane's own dialect, for partners with no public standard (`{base}/partners/{name}/...`)."""
    KARRIO = "karrio"
    """A parcel or express carrier in its own published format, through Karrio's SDK (`options.carrier`)."""
    DCSA = "dcsa"
    """An ocean line through DCSA Booking 2.0 and Track & Trace 2.2."""


KARRIO_CARRIERS = frozenset({"ups", "dhl_express", "fedex", "roadie"})
"""Karrio carrier extensions Tradelane installs (pyproject.toml); a karrio row names one of them."""


class EventDelivery(StrEnum):
    """How a partner reports its tracking events."""

    WEBHOOK = "webhook"
    """The partner pushes events to Tradelane."""
    POLL = "poll"
    """The partner has no webhooks; Tradelane polls its tracking endpoint."""
    BOTH = "both"
    """The partner pushes, and Tradelane polls as well (events are de-duplicated by partner and event id)."""

    @property
    def pushes(self) -> bool:
        return self is not EventDelivery.POLL

    @property
    def polled(self) -> bool:
        return self is not EventDelivery.WEBHOOK


class Lane(BaseModel):
    """One direction a carrier serves; None on a side means any country."""

    model_config = ConfigDict(frozen=True)

    origins: frozenset[str] | None = None
    destinations: frozenset[str] | None = None

    def serves(self, origin: str, destination: str) -> bool:
        return ((self.origins is None or origin in self.origins)
                and (self.destinations is None or destination in self.destinations))


ANYWHERE = (Lane(),)


class Connection(BaseModel):
    """One partner connection (a row of `partners.yaml`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    kind: PartnerKind
    display_name: str = Field(min_length=1)
    protocol: PartnerProtocol
    options: dict[str, str] = Field(default_factory=dict)
    """Protocol options that are not secret: Karrio's `carrier` and `service`, a DCSA line's contract rates."""
    base_url: str | None = None
    """An absolute URL, or a path below the partners' base URL; None means the protocol's default path."""
    credentials: dict[str, str] = Field(default_factory=dict)
    """Credential field -> the environment variable holding it. Never the value."""
    tracking: EventDelivery
    modes: frozenset[Mode] = frozenset()
    """Modes a carrier runs; an ocean carrier runs both FCL and LCL and quotes them as generic `ocean`."""
    aircraft: Aircraft | None = None
    """For air carriers: the aircraft its network flies, which decides what dangerous goods it may take."""
    lanes: tuple[Lane, ...] = ANYWHERE
    serves: frozenset[str] | None = None
    """Last mile: destination countries served; None means everywhere."""
    max_parcel_kg: float | None = None
    max_parcel_length_cm: float | None = None

    @field_validator("credentials")
    @classmethod
    def _references_only(cls, value: dict[str, str]) -> dict[str, str]:
        for field, variable in value.items():
            if not variable.isupper() or not variable.replace("_", "").isalnum():
                raise ValueError(f"credentials.{field}: name the environment variable holding it "
                                 f"(upper case, like TRADELANE_UPS_CLIENT_ID), never the value")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Connection":
        if self.protocol is PartnerProtocol.KARRIO and self.options.get("carrier") not in KARRIO_CARRIERS:
            raise ValueError(f"options.carrier: a karrio connection names one of {sorted(KARRIO_CARRIERS)}, "
                             f"got {self.options.get('carrier')!r}")
        if self.kind is PartnerKind.CARRIER and not self.modes:
            raise ValueError("modes: a carrier runs at least one mode")
        if self.kind is not PartnerKind.LAST_MILE and self.serves is not None:
            raise ValueError("serves: only last-mile partners name the countries they serve; carriers use lanes")
        return self

    @property
    def default_path(self) -> str:
        """Where the sandbox emulates this partner, below the partners' base URL."""
        if self.protocol is PartnerProtocol.KARRIO:
            return f"/{self.options['carrier']}"
        if self.protocol is PartnerProtocol.DCSA:
            return f"/dcsa/{self.name}"
        return f"/partners/{self.name}"

    def url(self, partners_base_url: str) -> str:
        """The connection's API root: its absolute base URL, or its path below `partners_base_url`."""
        where = self.base_url or self.default_path
        if where.startswith(("http://", "https://")):
            return where.rstrip("/")
        return partners_base_url.rstrip("/") + "/" + where.strip("/")


class Directory(BaseModel):
    """Every connection, by name, in file order (which breaks ties between equal quotes and last-mile partners)."""

    connections: dict[str, Connection]
    regions: dict[str, frozenset[str]] = Field(default_factory=dict)
    """Named country groups the rows use (`EU`), expanded when the file is read."""


def _expand(value: Any, regions: dict[str, list[str]]) -> Any:
    """A country list with region names (`EU`) expanded; a bare region name becomes its list."""
    if isinstance(value, str):
        return regions[value] if value in regions else value
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            out.extend(regions[item] if item in regions else [item])
        return out
    return value


def parse_directory(raw: dict[str, Any]) -> Directory:
    """The validated directory from the file's YAML; a bad row fails here, naming the partner and field."""
    regions = raw.get("regions") or {}
    rows = {}
    for name, row in (raw.get("connections") or {}).items():
        row = dict(row, name=name)
        if "serves" in row:
            row["serves"] = _expand(row["serves"], regions)
        if "lanes" in row:
            row["lanes"] = [{side: _expand(countries, regions) for side, countries in lane.items()}
                            for lane in row["lanes"]]
        rows[name] = row
    return Directory.model_validate({"connections": rows, "regions": regions})


@cache
def directory(path: Path = TABLE) -> Directory:
    return parse_directory(yaml.safe_load(path.read_text()))


directory()  # read at import, not on first use: workflow code looks partners up and may not open files


def connection(name: str) -> Connection:
    """The named connection; KeyError naming the known ones for an unknown name."""
    found = directory().connections.get(name)
    if found is None:
        raise KeyError(f"no partner connection {name!r}; known: {', '.join(directory().connections)}")
    return found


def event_delivery(partner: str) -> EventDelivery:
    """How `partner` reports its events; partners not in the directory are polled."""
    found = directory().connections.get(partner)
    return EventDelivery.POLL if found is None else found.tracking
