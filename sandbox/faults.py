"""Deterministic fault injection: rule models, matching, counters and the per-request header.

Matching and effects are pure functions; `FaultBook` only adds the rule list and the call
counters around them. Nothing here is random: a rule fires on exactly the calls it describes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sandbox.errors import ErrorCode, SandboxError, status_code_name
from sandbox.partners import PARTNERS, Operation

ANY = "*"
FAULT_HEADER = "X-Sandbox-Fault"
"""Request header applying one fault to that request only, e.g. ``kind=error;status=503``."""
APPLIED_HEADER = "X-Sandbox-Fault-Applied"
"""Response header naming the fault kind that produced an injected error, for debugging."""


class FaultKind(StrEnum):
    """What an injected fault does."""

    ERROR = "error"
    """Answer ``status`` with an error body."""
    RATE_LIMIT = "rate_limit"
    """Answer 429 with ``Retry-After``."""
    TIMEOUT = "timeout"
    """Sleep ``timeout_fault_seconds`` then answer 504; clients should time out first."""
    LATENCY = "latency"
    """Sleep ``latency_s`` then proceed normally."""
    REJECT = "reject"
    """Answer 422 with ``code``: a business rejection."""
    HOLD = "hold"
    """Create the filing in state ``hold`` with ``hold_reason = code`` (filings only)."""
    OUTAGE = "outage"
    """Answer 503 while inside the time window (always without one)."""
    SCENARIO = "scenario"
    """Play the tracking scenario variant ``scenario`` (stalled, delayed, customs_hold, failed_attempt) after a
    handover or a slot scheduling."""
    ACT_THEN_TIMEOUT = "act_then_timeout"
    """Do the call (the booking, label, filing or slot is made), then stall ``timeout_fault_seconds`` and answer
    504: the partner acted, but the client timed out first and cannot know (an uncertain outcome)."""
    GARBLED = "garbled"
    """Do the call, then answer its success status with the body cut in half, so it does not parse (a proxy or a
    partner that broke off mid-answer): the partner acted, the client cannot read what it made."""


class FaultSource(StrEnum):
    """Where an active rule came from."""

    CONFIG = "config"
    RUNTIME = "runtime"


AFTER_KINDS: frozenset[FaultKind] = frozenset({FaultKind.ACT_THEN_TIMEOUT, FaultKind.GARBLED})
"""Kinds that act on the answer after the partner did the call, not before it (see `sandbox.aftermath`)."""

KIND_OPERATIONS: Mapping[FaultKind, frozenset[Operation]] = MappingProxyType(
    {FaultKind.HOLD: frozenset({Operation.FILE}),
     FaultKind.SCENARIO: frozenset({Operation.HANDOVER, Operation.SCHEDULE})}
)
"""Kinds that only make sense for some operations; kinds not listed apply to every operation."""

_GLOB_CHARS = frozenset("*?[")


def applies_to(kind: FaultKind, operation: Operation) -> bool:
    """Whether a fault of ``kind`` can act on ``operation``."""
    allowed = KIND_OPERATIONS.get(kind)
    return allowed is None or operation in allowed


class FaultRule(BaseModel):
    """One fault-injection rule; see the module docstring of `sandbox.faults`."""

    model_config = ConfigDict(extra="forbid")

    partner: str = ANY
    """Partner name or fnmatch glob."""
    operation: Operation | Literal["*"] = ANY
    shipment_id: str = ANY
    """fnmatch glob on the request's shipment_id, e.g. ``"test-42-*"``."""
    kind: FaultKind
    status: int = Field(default=503, ge=400, le=599)
    """HTTP status answered by ``kind=error``."""
    retry_after_s: float = Field(default=1.0, ge=0)
    """Sent as ``Retry-After`` by ``kind=rate_limit`` (integers without a decimal point)."""
    latency_s: float = Field(default=0, ge=0)
    """Delay added by ``kind=latency``."""
    times: int | None = Field(default=None, ge=0)
    """Fire on the first N matching calls per (rule, shipment_id, partner, operation); None = always."""
    code: str = Field(default="REJECTED", pattern=r"^[A-Z][A-Z0-9_]*$")
    """Error code of ``kind=reject``, or hold_reason of ``kind=hold``."""
    message: str = ""
    scenario: Literal["stalled", "delayed", "customs_hold", "failed_attempt"] | None = None
    """Tracking scenario variant played by ``kind=scenario``."""
    window_start_s: float | None = Field(default=None, ge=0)
    """Rule active from this many seconds after sandbox start (inclusive)."""
    window_end_s: float | None = Field(default=None, ge=0)
    """Rule active until this many seconds after sandbox start (exclusive)."""
    lasts_s: float | None = Field(default=None, gt=0)
    """Rule active for this many seconds from the first call it fires on, per (shipment_id, partner, operation): a
    partner down for minutes from the moment a shipment needs it, however late that is."""

    @field_validator("partner")
    @classmethod
    def _known_partner(cls, value: str) -> str:
        # A typo in a partner name would silently never match; globs are taken at face value.
        if _GLOB_CHARS.isdisjoint(value) and value not in PARTNERS:
            raise ValueError(f"unknown partner {value!r}; known: {', '.join(sorted(PARTNERS))}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (
            self.window_start_s is not None
            and self.window_end_s is not None
            and self.window_end_s <= self.window_start_s
        ):
            raise ValueError(
                f"window_end_s ({self.window_end_s}) must be greater than window_start_s ({self.window_start_s})"
            )
        if self.kind is FaultKind.SCENARIO and self.scenario is None:
            raise ValueError("kind=scenario needs scenario: stalled, delayed, customs_hold or failed_attempt")
        if self.operation != ANY and not applies_to(self.kind, Operation(self.operation)):
            allowed = ", ".join(sorted(KIND_OPERATIONS[self.kind]))
            raise ValueError(f"kind={self.kind} only applies to operation {allowed}, not {str(self.operation)!r}")
        return self


class ActiveRule(FaultRule):
    """A rule as listed by ``GET /_faults``: the rule plus its id and origin."""

    id: int
    source: FaultSource


class FaultContext(BaseModel):
    """The call a fault might apply to."""

    model_config = ConfigDict(frozen=True)

    partner: str
    operation: Operation
    shipment_id: str
    """Empty when the call's shipment is unknown (it then only matches the ``*`` glob)."""


CounterKey = tuple[int, str, str, Operation]
"""(rule id, shipment_id, partner, operation): what ``times`` counts per, and ``lasts_s`` measures from."""


def rule_matches(rule: FaultRule, ctx: FaultContext, elapsed_s: float) -> bool:
    """Whether ``rule`` describes this call at this moment, ignoring its ``times`` budget.

    Args:
        rule: The rule to test.
        ctx: The call.
        elapsed_s: Seconds since the sandbox started.
    """
    in_window = (rule.window_start_s is None or elapsed_s >= rule.window_start_s) and (
        rule.window_end_s is None or elapsed_s < rule.window_end_s
    )
    return (
        in_window
        and fnmatchcase(ctx.partner, rule.partner)
        and rule.operation in (ANY, ctx.operation)
        and fnmatchcase(ctx.shipment_id, rule.shipment_id)
        and applies_to(rule.kind, ctx.operation)
    )


def counter_key(rule_id: int, ctx: FaultContext) -> CounterKey:
    """Returns the key under which calls to ``rule_id`` for ``ctx`` are counted."""
    return (rule_id, ctx.shipment_id, ctx.partner, ctx.operation)


def select_rule(
    rules: Iterable[ActiveRule],
    ctx: FaultContext,
    elapsed_s: float,
    counts: Mapping[CounterKey, int],
    first_fired: Mapping[CounterKey, float] = MappingProxyType({}),
) -> ActiveRule | None:
    """Returns the first rule that matches the call and still has ``times`` budget (and ``lasts_s`` time) left.

    Args:
        rules: Candidate rules in priority order (config first, then runtime).
        ctx: The call.
        elapsed_s: Seconds since the sandbox started.
        counts: How often each rule already fired, by `counter_key`.
        first_fired: When each rule first fired (sandbox seconds), by `counter_key`.
    """
    for rule in rules:
        if not rule_matches(rule, ctx, elapsed_s):
            continue
        key = counter_key(rule.id, ctx)
        if rule.lasts_s is not None and key in first_fired and elapsed_s >= first_fired[key] + rule.lasts_s:
            continue
        if rule.times is None or counts.get(key, 0) < rule.times:
            return rule
    return None


class FaultBook:
    """The active rules (config then runtime) and how often each has fired.

    Selection has no ``await`` inside, so under asyncio it is atomic without a lock.

    Args:
        config_rules: Rules from the config file; they stay until the process ends.
    """

    def __init__(self, config_rules: Sequence[FaultRule] = ()) -> None:
        self._next_id = 1
        self._config = [self._activate(r, FaultSource.CONFIG) for r in config_rules]
        self._runtime: list[ActiveRule] = []
        self._counts: dict[CounterKey, int] = {}
        self._first_fired: dict[CounterKey, float] = {}

    def _activate(self, rule: FaultRule, source: FaultSource) -> ActiveRule:
        active = ActiveRule(**rule.model_dump(), id=self._next_id, source=source)
        self._next_id += 1
        return active

    def rules(self) -> list[ActiveRule]:
        """Returns every active rule in matching order."""
        return [*self._config, *self._runtime]

    def add(self, rules: Iterable[FaultRule]) -> list[ActiveRule]:
        """Appends runtime rules (checked after the config rules) and returns them with ids."""
        added = [self._activate(r, FaultSource.RUNTIME) for r in rules]
        self._runtime.extend(added)
        return added

    def clear_runtime(self) -> int:
        """Removes the runtime rules (config rules stay) and returns how many were removed."""
        removed = len(self._runtime)
        self._runtime.clear()
        # Fresh rules get fresh ids, so counters of removed rules can never apply again.
        config_ids = {r.id for r in self._config}
        self._counts = {k: v for k, v in self._counts.items() if k[0] in config_ids}
        self._first_fired = {k: v for k, v in self._first_fired.items() if k[0] in config_ids}
        return removed

    def select(self, ctx: FaultContext, elapsed_s: float) -> ActiveRule | None:
        """Returns the rule that fires for this call, counting the call against its ``times``."""
        rule = select_rule(self.rules(), ctx, elapsed_s, self._counts, self._first_fired)
        if rule is not None:
            key = counter_key(rule.id, ctx)
            if rule.times is not None:
                self._counts[key] = self._counts.get(key, 0) + 1
            if rule.lasts_s is not None:
                self._first_fired.setdefault(key, elapsed_s)
        return rule


# --- per-request header -----------------------------------------------------------------------

HEADER_FIELDS = frozenset({"kind", "status", "retry_after_s", "latency_s", "code", "message"})
"""Fields the ``X-Sandbox-Fault`` header may set; matching fields make no sense per request."""


def _bad_header(detail: str) -> SandboxError:
    return SandboxError(400, ErrorCode.BAD_FAULT_HEADER, f"{FAULT_HEADER}: {detail}")


def _describe(error: Mapping[str, object], fields: Mapping[str, str]) -> str:
    loc = error.get("loc") or ()
    if not isinstance(loc, tuple) or not loc:
        return str(error["msg"])
    key = str(loc[0])
    return f"{key}={fields.get(key, '')!r}: {error['msg']}"


def parse_fault_header(value: str, operation: Operation) -> FaultRule:
    """Parses ``X-Sandbox-Fault`` (``key=value;key=value``) into a one-off rule.

    Args:
        value: The header value, e.g. ``kind=reject;code=CARRIER_FULL``.
        operation: The operation of this request, to refuse kinds that cannot act on it.

    Raises:
        SandboxError: 400 ``BAD_FAULT_HEADER`` naming the offending part.
    """
    fields: dict[str, str] = {}
    for part in (p.strip() for p in value.split(";")):
        if not part:
            continue
        key, sep, raw = part.partition("=")
        key = key.strip()
        if not sep:
            raise _bad_header(f"{part!r} is not key=value")
        if key not in HEADER_FIELDS:
            raise _bad_header(f"unknown key {key!r} in {part!r}; allowed: {', '.join(sorted(HEADER_FIELDS))}")
        if key in fields:
            raise _bad_header(f"{key!r} given twice")
        fields[key] = raw.strip()
    if "kind" not in fields:
        raise _bad_header("missing kind=..., e.g. kind=error;status=503")
    try:
        rule = FaultRule.model_validate(fields)
    except ValidationError as exc:
        raise _bad_header("; ".join(_describe(e, fields) for e in exc.errors())) from exc
    if not applies_to(rule.kind, operation):
        raise _bad_header(f"kind={rule.kind} does not apply to operation '{operation}'")
    return rule


# --- effects ----------------------------------------------------------------------------------


class FaultEffect(BaseModel):
    """What a fired rule does to the call: wait, then fail or proceed (maybe holding a filing); or proceed and
    spoil the answer afterwards (``after``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    sleep_s: float = 0
    error: SandboxError | None = None
    hold_reason: str | None = None
    scenario: str | None = None
    after: FaultKind | None = None
    """One of `AFTER_KINDS`: the call goes ahead and `sandbox.aftermath` spoils its success answer."""
    after_sleep_s: float = 0
    """How long ``after`` stalls before answering (``act_then_timeout``)."""


def _format_seconds(seconds: float) -> str:
    # Integral values go out as plain integers (the HTTP form); fractions as given.
    return f"{seconds:g}"


def _injected(
    rule: FaultRule, status: int, code: str, default: str, headers: dict[str, str] | None = None
) -> SandboxError:
    return SandboxError(
        status,
        code,
        rule.message or default,
        headers={APPLIED_HEADER: str(rule.kind), **(headers or {})},
    )


def _error(rule: FaultRule, timeout_s: float) -> FaultEffect:
    default = f"sandbox fault: injected HTTP {rule.status}"
    return FaultEffect(error=_injected(rule, rule.status, status_code_name(rule.status), default))


def _rate_limit(rule: FaultRule, timeout_s: float) -> FaultEffect:
    retry = _format_seconds(rule.retry_after_s)
    return FaultEffect(
        error=_injected(
            rule, 429, ErrorCode.RATE_LIMITED, f"rate limited; retry after {retry} s", {"Retry-After": retry}
        )
    )


def _timeout(rule: FaultRule, timeout_s: float) -> FaultEffect:
    return FaultEffect(
        sleep_s=timeout_s,
        error=_injected(rule, 504, ErrorCode.GATEWAY_TIMEOUT, f"partner did not answer within {timeout_s:g} s"),
    )


def _latency(rule: FaultRule, timeout_s: float) -> FaultEffect:
    return FaultEffect(sleep_s=rule.latency_s)


def _reject(rule: FaultRule, timeout_s: float) -> FaultEffect:
    return FaultEffect(error=_injected(rule, 422, rule.code, "partner rejected the request (sandbox fault)"))


def _hold(rule: FaultRule, timeout_s: float) -> FaultEffect:
    return FaultEffect(hold_reason=rule.code)


def _scenario(rule: FaultRule, timeout_s: float) -> FaultEffect:
    return FaultEffect(scenario=rule.scenario)


def _outage(rule: FaultRule, timeout_s: float) -> FaultEffect:
    return FaultEffect(
        error=_injected(rule, 503, ErrorCode.PARTNER_UNAVAILABLE, "partner is unavailable (sandbox outage)")
    )


def _act_then_timeout(rule: FaultRule, timeout_s: float) -> FaultEffect:
    return FaultEffect(after=FaultKind.ACT_THEN_TIMEOUT, after_sleep_s=timeout_s)


def _garbled(rule: FaultRule, timeout_s: float) -> FaultEffect:
    return FaultEffect(after=FaultKind.GARBLED)


EFFECTS: Mapping[FaultKind, Callable[[FaultRule, float], FaultEffect]] = MappingProxyType(
    {
        FaultKind.ERROR: _error,
        FaultKind.RATE_LIMIT: _rate_limit,
        FaultKind.TIMEOUT: _timeout,
        FaultKind.LATENCY: _latency,
        FaultKind.REJECT: _reject,
        FaultKind.HOLD: _hold,
        FaultKind.OUTAGE: _outage,
        FaultKind.SCENARIO: _scenario,
        FaultKind.ACT_THEN_TIMEOUT: _act_then_timeout,
        FaultKind.GARBLED: _garbled,
    }
)
"""How each fault kind acts on a call."""


def effect_of(rule: FaultRule, timeout_fault_seconds: float) -> FaultEffect:
    """Returns what ``rule`` does to a call.

    Args:
        rule: The fired rule.
        timeout_fault_seconds: How long a ``timeout`` fault stalls before answering 504.
    """
    return EFFECTS[rule.kind](rule, timeout_fault_seconds)
