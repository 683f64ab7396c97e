"""The request contract under hostile input, without any service: example requests mutated by hypothesis.

Every mutated body is either a valid `ShipmentRequest` or refused with a `ValidationError` (never another
exception), and every error's `loc` leads to a value in the body, or names the required field that is missing,
so `starter.errors.field_path` turns it into a path a caller can read (`items[1].hs_code`). Mutations that must be
refused (a required field dropped, a number out of range or not finite, a string or list over its limit, an
unknown field) are refused at exactly the mutated path. The strategies here are reused by `test_api_fuzz.py`; each
limit case by case is in `test_request_fuzz_limits.py`.
"""

import copy
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from starter.errors import field_path
from tests.support import VALID_EXAMPLES, load_example
from tradelane.models import ShipmentRequest
from tradelane.shipment.state import ApprovalDecision, CancelRequest
from tradelane.tracking_codes import PartnerEvent

Path = tuple[str | int, ...]
Draw = Callable[[st.SearchStrategy[Any]], Any]

SCHEMA = ShipmentRequest.model_json_schema()
EXAMPLE_NAMES = [p.name for p in VALID_EXAMPLES]

# Characters that break naive handling: NUL and other C0/C1 controls, bidirectional overrides and marks (RTL),
# zero-width and byte-order marks, non-characters, a lone surrogate (valid JSON via "\ud800"), combining marks,
# emoji and scripts outside the BMP.
HOSTILE_CHARS = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u200b", "\u200e", "\u200f", "\u202a", "\u202e", "\u2066",
                 "\u2069", "\ufeff", "\ufffe", "\uffff", "\ud800", "\udfff", "\u0301", "\u0627", "\u05d0", "\U0001f6a2",
                 "\U0001d54f", "\U000e0001", "界", "\\", '"', "'", "<", "%", "{", "$"]
# No whitespace (a stripped string keeps its length), so a string of these over a limit stays over it.
LONG_FILL = ["x", "界", "\u0627", "\u202e", "\U0001f6a2", "\x00", "é", "0"]


class Kind(StrEnum):
    """How a mutation damages a valid request."""

    DROP = "drop"
    """Remove a key: refused exactly when the field is required."""
    WRONG_TYPE = "wrong_type"
    """Replace a value with one of another JSON type (pydantic's lax mode may still accept some, e.g. 1 for 1.0)."""
    OUT_OF_RANGE = "out_of_range"
    NON_FINITE = "non_finite"
    TOO_LONG = "too_long"
    TOO_MANY = "too_many"
    EXTRA_FIELD = "extra_field"
    UNICODE = "unicode"
    """Replace a string with random or hostile unicode: valid or refused, never a crash."""
    DEEP_JUNK = "deep_junk"
    """Replace a value with deeply nested lists or objects."""


REFUSED_AT_PATH = (Kind.OUT_OF_RANGE, Kind.NON_FINITE, Kind.TOO_LONG, Kind.TOO_MANY, Kind.EXTRA_FIELD)
"""Kinds that always make the request invalid, with an error at exactly the mutated path."""
ALWAYS_INVALID = (*REFUSED_AT_PATH, Kind.DEEP_JUNK)


@dataclass
class Mutated:
    """A mutated request: the body, what was done and where."""

    body: dict[str, Any]
    kind: Kind
    path: Path


# --- the schema and the body as trees ------------------------------------------------------------------------


def resolve(schema: dict[str, Any], root: dict[str, Any] = SCHEMA) -> dict[str, Any]:
    """`schema` (part of `root`) with `$ref`s followed and an optional (`X | None`) reduced to `X`."""
    while True:
        if "$ref" in schema:
            schema = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in schema and len(branches := [s for s in schema["anyOf"] if s.get("type") != "null"]) == 1:
            schema = branches[0]
        else:
            return schema


def schema_at(path: Path, root: dict[str, Any] = SCHEMA) -> dict[str, Any]:
    """The JSON schema of the value at `path` in a body that `root` describes (a shipment request by default)."""
    schema = resolve(root, root)
    for part in path:
        schema = resolve(schema["items"] if isinstance(part, int) else schema["properties"][part], root)
    return schema


def number_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The numeric form of a field (a Decimal is `number | string`), or None when it is not a number."""
    for form in schema.get("anyOf", [schema]):
        if form.get("type") in ("number", "integer"):
            return form
    return None


def nodes(value: Any, path: Path = ()) -> list[tuple[Path, Any]]:
    """Every value below `value` (not itself), with its path."""
    children: list[tuple[str | int, Any]] = (
        list(value.items()) if isinstance(value, dict) else list(enumerate(value)) if isinstance(value, list) else [])
    found: list[tuple[Path, Any]] = []
    for key, child in children:
        found.append(((*path, key), child))
        found.extend(nodes(child, (*path, key)))
    return found


def get_at(body: Any, path: Path) -> Any:
    for part in path:
        body = body[part]
    return body


def set_at(body: Any, path: Path, value: Any) -> None:
    get_at(body, path[:-1])[path[-1]] = value


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
OF_TYPE: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(), "boolean": st.booleans(),
    "number": st.integers() | st.floats(allow_nan=False, allow_infinity=False),
    "string": st.text(max_size=20), "array": st.lists(JSON_SCALARS, max_size=3),
    "object": st.dictionaries(st.text(max_size=8), JSON_SCALARS, max_size=3),
}
HOSTILE_TEXT = (st.text(max_size=80)
                | st.text(alphabet=st.sampled_from(HOSTILE_CHARS), max_size=80)
                | st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Co", "Mn", "Zl", "Zp"]),
                          max_size=40))


# --- one mutator per kind: each damages `body` in place and returns the path it damaged ------------------------


def _drop(draw: Draw, body: dict[str, Any], root: dict[str, Any]) -> Path:
    path = draw(st.sampled_from([p for p, _ in nodes(body) if isinstance(p[-1], str)]))
    del get_at(body, path[:-1])[path[-1]]
    return path


def _wrong_type(draw: Draw, body: dict[str, Any], root: dict[str, Any]) -> Path:
    path, value = draw(st.sampled_from(nodes(body)))
    other = draw(st.sampled_from(sorted(set(OF_TYPE) - {json_type(value)})))
    set_at(body, path, draw(OF_TYPE[other]))
    return path


def _bounded_numbers(body: dict[str, Any], root: dict[str, Any]) -> list[tuple[Path, dict[str, Any]]]:
    return [(p, form) for p, v in nodes(body) if json_type(v) in ("number", "string") and not isinstance(p[-1], int)
            and (form := number_schema(schema_at(p, root))) is not None]


def _out_of_range(draw: Draw, body: dict[str, Any], root: dict[str, Any]) -> Path:
    path, form = draw(st.sampled_from(_bounded_numbers(body, root)))
    integer = form["type"] == "integer"
    options: list[st.SearchStrategy[Any]] = []
    # A `minimum` or `maximum` is itself valid, so the damage must go past it; an exclusive bound is already out.
    for key, below, bound_valid in (("minimum", True, True), ("exclusiveMinimum", True, False),
                                    ("maximum", False, True), ("exclusiveMaximum", False, False)):
        if key not in form:
            continue
        bound = form[key]
        if integer:
            step = int(bound_valid)
            options.append(st.integers(max_value=bound - step) if below else st.integers(min_value=bound + step))
        else:
            finite = {"allow_nan": False, "allow_infinity": False}
            options.append(st.floats(max_value=bound, exclude_max=bound_valid, **finite) if below
                           else st.floats(min_value=bound, exclude_min=bound_valid, **finite))
    set_at(body, path, draw(st.one_of(options)))
    return path


def _non_finite(draw: Draw, body: dict[str, Any], root: dict[str, Any]) -> Path:
    path, _ = draw(st.sampled_from(_bounded_numbers(body, root)))
    set_at(body, path, draw(st.sampled_from([math.nan, math.inf, -math.inf])))
    return path


def _too_long(draw: Draw, body: dict[str, Any], root: dict[str, Any]) -> Path:
    path, _ = draw(st.sampled_from([(p, v) for p, v in nodes(body) if isinstance(v, str)
                                    and "maxLength" in schema_at(p, root)]))
    length = schema_at(path, root)["maxLength"] + draw(st.integers(1, 300) | st.just(50_000))
    unit = draw(st.text(alphabet=st.sampled_from(LONG_FILL), min_size=1, max_size=12))
    set_at(body, path, (unit * (length // len(unit) + 1))[:length])
    return path


def _too_many(draw: Draw, body: dict[str, Any], root: dict[str, Any]) -> Path:
    if root is SCHEMA and "exclude_countries" not in body:
        body["exclude_countries"] = ["FR"]  # an optional list, so the absent ones get their turn
    path, items = draw(st.sampled_from([(p, v) for p, v in nodes(body) if isinstance(v, list) and v
                                        and "maxItems" in schema_at(p, root)]))
    length = schema_at(path, root)["maxItems"] + draw(st.integers(1, 30))
    set_at(body, path, [items[i % len(items)] for i in range(length)])
    return path


def _extra_field(draw: Draw, body: dict[str, Any], root: dict[str, Any]) -> Path:
    parent = draw(st.sampled_from([(), *(p for p, v in nodes(body) if isinstance(v, dict))]))
    known = schema_at(parent, root)["properties"]
    key = draw(st.text(min_size=1, max_size=30).filter(lambda k: k not in known)
               | st.sampled_from(["__proto__", "constructor", "$where", "shipmentId", "ITEMS", "items "]))
    get_at(body, parent)[key] = draw(JSON_VALUES)
    return (*parent, key)


def _unicode(draw: Draw, body: dict[str, Any], root: dict[str, Any]) -> Path:
    path = draw(st.sampled_from([p for p, v in nodes(body) if isinstance(v, str)]))
    set_at(body, path, draw(HOSTILE_TEXT))
    return path


def _deep_junk(draw: Draw, body: dict[str, Any], root: dict[str, Any]) -> Path:
    path = draw(st.sampled_from([p for p, _ in nodes(body)]))
    junk: Any = draw(JSON_SCALARS)
    for wrap in draw(st.lists(st.sampled_from(["list", "object"]), min_size=20, max_size=400)):
        junk = [junk] if wrap == "list" else {"junk": junk}
    set_at(body, path, junk)
    return path


MUTATORS: dict[Kind, Callable[[Draw, dict[str, Any], dict[str, Any]], Path]] = {
    Kind.DROP: _drop, Kind.WRONG_TYPE: _wrong_type, Kind.OUT_OF_RANGE: _out_of_range, Kind.NON_FINITE: _non_finite,
    Kind.TOO_LONG: _too_long, Kind.TOO_MANY: _too_many, Kind.EXTRA_FIELD: _extra_field, Kind.UNICODE: _unicode,
    Kind.DEEP_JUNK: _deep_junk,
}


@st.composite
def mutated(draw: Draw, kinds: tuple[Kind, ...] = tuple(Kind), shipment_id: str | None = None,
            model: type[BaseModel] = ShipmentRequest, bases: tuple[dict[str, Any], ...] = ()) -> Mutated:
    """A valid body damaged once by one of `kinds`.

    Args:
        kinds: The kinds of damage to choose from.
        shipment_id: Set in the example request before the damage (shipment requests only).
        model: The request model whose schema guides the damage.
        bases: Valid bodies of `model` to damage; the example requests when empty.
    """
    body = copy.deepcopy(draw(st.sampled_from(bases))) if bases else load_example(
        draw(st.sampled_from(EXAMPLE_NAMES)), shipment_id)
    root = SCHEMA if model is ShipmentRequest else model.model_json_schema()
    # Other requests have no lists, and some no numbers.
    applicable = [k for k in kinds if (k is not Kind.TOO_MANY or root is SCHEMA)
                  and (k not in (Kind.OUT_OF_RANGE, Kind.NON_FINITE) or _bounded_numbers(body, root))]
    kind = draw(st.sampled_from(applicable))
    return Mutated(body=body, kind=kind, path=MUTATORS[kind](draw, body, root))


@st.composite
def stacked(draw: Draw) -> dict[str, Any]:
    """A valid example request damaged one to four times, by any kinds."""
    body = load_example(draw(st.sampled_from(EXAMPLE_NAMES)))
    for kind in draw(st.lists(st.sampled_from(list(Kind)), min_size=1, max_size=4)):
        if isinstance(body, dict) and nodes(body):
            try:
                MUTATORS[kind](draw, body, SCHEMA)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation removed what this kind would damage (e.g. no strings are left)
    return body


# --- what a refusal must look like -----------------------------------------------------------------------------


def errors_of(model: type[BaseModel], body: Any) -> list[dict[str, Any]]:
    """The validation errors of `body` ([] when valid). Any exception but `ValidationError` propagates: a crash."""
    try:
        model.model_validate(body)
    except ValidationError as err:
        return err.errors()
    return []


def leads_into(body: Any, error: dict[str, Any]) -> bool:
    """Whether the error's `loc` leads to a value in `body`, or names a missing field of an object in it."""
    node, loc = body, error["loc"]
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return i == len(loc) - 1 and error["type"] == "missing" and isinstance(node, dict)
    return True


NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_field_path(text: str) -> Path:
    """`items[1].hs_code` -> `("items", 1, "hs_code")`: the inverse of `field_path` for names of the schema."""
    return tuple(int(index) if index else name for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", text))


def assert_names_a_field(body: Any, errors: list[dict[str, Any]]) -> None:
    """Each error leads into the body, and `field_path` shows it readably."""
    for error in errors:
        assert leads_into(body, error), f"{error['loc']} ({error['type']}) is not a path in the body"
        shown = field_path(("body", *error["loc"]))
        if all(isinstance(p, int) or NAME.match(p) for p in error["loc"]):
            assert parse_field_path(shown) == tuple(error["loc"]) or (shown, error["loc"]) == ("body", ())
        else:  # a made-up key (an unknown field) is shown as sent, if not unambiguously
            assert all(str(p) in shown for p in error["loc"])


def shown(errors: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Each error as a caller reads it: the field path `field_path` shows, and the error type."""
    return [(field_path(("body", *e["loc"])), e["type"]) for e in errors]


def under(path: Path, loc: tuple[Any, ...]) -> bool:
    return tuple(loc[:len(path)]) == path


# --- tests ------------------------------------------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None)


@FUZZ
@given(mutated(kinds=(Kind.DROP,)))
def test_dropping_a_field_is_refused_exactly_when_it_is_required(m):
    required = m.path[-1] in schema_at(m.path[:-1]).get("required", [])
    errors = errors_of(ShipmentRequest, m.body)
    if required:
        assert {"type": "missing", "loc": m.path} in [{"type": e["type"], "loc": e["loc"]} for e in errors]
    else:
        assert errors == [], f"dropping optional {m.path} was refused"
    assert_names_a_field(m.body, errors)


@FUZZ
@given(mutated(kinds=REFUSED_AT_PATH))
def test_out_of_range_non_finite_over_long_too_many_and_unknown_are_refused_at_their_path(m):
    errors = errors_of(ShipmentRequest, m.body)
    assert errors, f"{m.kind} at {m.path} was accepted"
    assert m.path in [e["loc"] for e in errors], [(e["loc"], e["type"]) for e in errors]
    assert all(under(m.path, e["loc"]) for e in errors)
    assert_names_a_field(m.body, errors)


@FUZZ
@given(mutated(kinds=(Kind.WRONG_TYPE, Kind.UNICODE, Kind.DEEP_JUNK)))
def test_wrong_types_unicode_and_deep_junk_are_valid_or_refused_under_their_path(m):
    errors = errors_of(ShipmentRequest, m.body)
    if m.kind is Kind.DEEP_JUNK:
        assert errors, f"deep junk at {m.path} was accepted"
    assert all(under(m.path, e["loc"]) for e in errors), [(e["loc"], e["type"]) for e in errors]
    assert_names_a_field(m.body, errors)


@FUZZ
@given(stacked())
def test_stacked_damage_raises_only_validation_errors_with_readable_paths(body):
    assert_names_a_field(body, errors_of(ShipmentRequest, body))


REQUESTS = [ShipmentRequest, ApprovalDecision, CancelRequest, PartnerEvent]
FIELD_NAMES = {name for model in REQUESTS for name in model.model_fields}


@FUZZ
@given(st.sampled_from(REQUESTS),
       # Keys that are no field name, so every required field is missing and no body can be valid by chance.
       JSON_VALUES | st.dictionaries(st.text(max_size=12).filter(lambda k: k not in FIELD_NAMES), JSON_VALUES,
                                     max_size=6))
def test_any_json_at_all_is_refused_naming_a_field(cls, body):
    errors = errors_of(cls, body)
    assert errors, f"{body!r} is a valid {cls.__name__}"
    assert_names_a_field(body, errors)
