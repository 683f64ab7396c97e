"""How a shipment's run ends other than delivered: continued as new, or stopped for a business reason."""

from temporalio.exceptions import ActivityError, ApplicationError

from tradelane.enums import Status


class ContinueAsNew(Exception):
    """The history grew large while waiting: continue as new at this checkpoint."""


class ShipmentStopped(Exception):
    """The shipment cannot go on for a business reason; the undos run and the status becomes `status`."""

    def __init__(self, status: Status, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


def failure_of(err: ActivityError) -> tuple[str, str]:
    """(reason code, readable reason) of a failed activity."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        code = str(cause.details[0]) if cause.details else (cause.type or "ACTIVITY_FAILED")
        return code, f"{cause.type}: {cause.message}"
    return "ACTIVITY_FAILED", str(cause or err)
