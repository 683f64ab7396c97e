"""Undo by idempotency key: how a partner step whose outcome is unknown is resolved (`tradelane.shipment.undo`).

The activity asks the partner for the record it made under the step's key (the undo call carries the undo's own key,
`<step key>:undo`, from which the step's follows) and, when there is one, runs the ordinary undo on it, sending the
undo's key. Nothing found means nothing was made: the answer is a record in state `absent`, which changes nothing.
It stays true because the dialect's lookup fences the key (`find_or_fence`): the step's last attempt, still on its
way to the partner when its worker died, is refused if it arrives after the answer.
"""

from collections.abc import Awaitable, Callable

import structlog
from temporalio.exceptions import ApplicationError

from tradelane.shipment.calls import PartnerCall, PartnerRecord
from tradelane.shipment.undo import LOOKUP_UNSUPPORTED, NOT_FOUND, step_key_of

log = structlog.stdlib.get_logger(__name__)

Find = Callable[[str], Awaitable[PartnerRecord | None]]
Undo = Callable[[PartnerCall], Awaitable[PartnerRecord]]
Replay = Callable[[str], Awaitable[PartnerRecord]]


def find_or_replay(find: Find, replay: Replay | None) -> Find:
    """`find`, or, where the partner's API has no lookup by key (`PartnerLookupUnsupported`) and its create is
    idempotent by the key Tradelane sends, the step itself sent again under its key (`replay`): the partner answers
    the record it made under that key, or makes it now. Either way what it answers is then undone, so nothing is
    left whether or not the first attempt acted; a step still on its way is deduplicated into the same record.
    Without `replay` (a protocol whose create is not idempotent, such as DCSA) the lookup's error stands and the
    step is listed for ops."""

    async def found(key: str) -> PartnerRecord | None:
        try:
            return await find(key)
        except ApplicationError as err:
            if err.type != LOOKUP_UNSUPPORTED or replay is None:
                raise
        log.warning("no lookup by key: the step is sent again under its key to learn what it made", key=key)
        return await replay(key)

    return found


async def undo_by_key(call: PartnerCall, kind: str, find: Find, undo: Undo) -> PartnerRecord:
    """Find the `kind` record made under the step's key and undo it; an `absent` record when there is none."""
    step_key = step_key_of(call.idempotency_key)
    found = await find(step_key)
    if found is None:
        log.info("outcome resolved: nothing was made", shipment_id=call.shipment_id, partner=call.partner,
                 kind=kind, key=step_key)
        return PartnerRecord(kind=kind, partner=call.partner, ref="", state=NOT_FOUND)
    log.warning("outcome resolved: the partner had acted; undoing", shipment_id=call.shipment_id,
                partner=call.partner, kind=kind, ref=found.ref, key=step_key)
    return await undo(call.model_copy(update={"ref": found.ref, "tracking_number": found.tracking_number}))
