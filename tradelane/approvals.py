"""Approval rules: when a person must decide, and whether a decision may be applied."""

from decimal import Decimal

from tradelane.enums import Decision, GateKind
from tradelane.models import ShipmentRequest
from tradelane.shipment.config import ApprovalPolicy
from tradelane.shipment.state import ApprovalDecision, Gate

DEFAULT_VALUE_THRESHOLDS: dict[str, Decimal] = {
    # Roughly 5,000 USD in each currency, rounded; operators set their own through settings.
    "USD": Decimal("5000"),
    "EUR": Decimal("4500"),
    "GBP": Decimal("4000"),
    "CHF": Decimal("4500"),
    "CAD": Decimal("7000"),
    "AUD": Decimal("7500"),
    "JPY": Decimal("750000"),
    "CNY": Decimal("35000"),
}


def value_approval_reason(request: ShipmentRequest, policy: ApprovalPolicy) -> str | None:
    """Why the shipment's declared value needs approval before booking, or None when it does not."""
    value = request.declared_value
    threshold = policy.value_thresholds.get(request.currency)
    if threshold is None:
        return f"declared value {value} {request.currency}: no approval threshold is set for {request.currency}"
    if value > threshold:
        return f"declared value {value} {request.currency} is above the approval threshold of {threshold}"
    return None


class GateNotPending(ValueError):
    """A decision for a gate that is not waiting for one."""


def pending_gate(gates: list[Gate], kind: GateKind, decision: ApprovalDecision | None = None) -> Gate:
    """The open gate of `kind`, or GateNotPending with a message an operator can act on.

    Approving a packaging gate records the correction, so it needs a comment saying what was fixed.
    """
    for gate in gates:
        if gate.kind == kind and gate.pending:
            if (decision is not None and kind is GateKind.PACKAGING and decision.decision is Decision.APPROVE
                    and not decision.comment.strip()):
                raise GateNotPending("approving the packaging gate records the fix: say what was corrected in "
                                     "'comment' (e.g. 'pallet 2 replaced by an ISPM 15 marked pallet')")
            return gate
    open_kinds = sorted(gate.kind.value for gate in gates if gate.pending)
    waiting = ", ".join(open_kinds) if open_kinds else "none"
    raise GateNotPending(f"gate '{kind}' is not pending for this shipment (pending gates: {waiting})")
