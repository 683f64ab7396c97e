"""Business errors the sandbox answers with, and their wire shape.

Every error leaves the service as ``{"error": {"code": "UPPER_SNAKE", "message": "..."}}`` so
Tradelane's activities can branch on one stable ``code`` instead of parsing prose.
"""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus

from pydantic import BaseModel


class ErrorCode(StrEnum):
    """Error codes the sandbox itself produces (fault rules may add their own ``code``)."""

    UNKNOWN_PARTNER = "UNKNOWN_PARTNER"
    OPERATION_NOT_SUPPORTED = "OPERATION_NOT_SUPPORTED"
    NOT_FOUND = "NOT_FOUND"
    IDEMPOTENCY_KEY_REQUIRED = "IDEMPOTENCY_KEY_REQUIRED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    IDEMPOTENCY_KEY_FENCED = "IDEMPOTENCY_KEY_FENCED"
    PARCEL_LIMIT_EXCEEDED = "PARCEL_LIMIT_EXCEEDED"
    LANE_NOT_SERVED = "LANE_NOT_SERVED"
    BOOKING_CANCELLED = "BOOKING_CANCELLED"
    FILING_WITHDRAWN = "FILING_WITHDRAWN"
    INVALID_HS_CODE = "INVALID_HS_CODE"
    BAD_FAULT_HEADER = "BAD_FAULT_HEADER"
    INVALID_REQUEST = "INVALID_REQUEST"
    RATE_LIMITED = "RATE_LIMITED"
    GATEWAY_TIMEOUT = "GATEWAY_TIMEOUT"
    PARTNER_UNAVAILABLE = "PARTNER_UNAVAILABLE"


class ErrorDetail(BaseModel):
    """The inner object of an error response."""

    code: str
    """Stable machine-readable code in UPPER_SNAKE case."""
    message: str
    """Human text saying what was wrong, where, and what to do."""


class ErrorBody(BaseModel):
    """The JSON body of every non-2xx sandbox response."""

    error: ErrorDetail


class SandboxError(Exception):
    """An error that becomes an HTTP response with the standard error body.

    Args:
        status: HTTP status code to answer with.
        code: Stable error code (see `ErrorCode`; fault rules may use their own).
        message: Human-readable explanation.
        headers: Extra response headers, e.g. ``Retry-After``.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> ErrorBody:
        """Returns the JSON body for this error."""
        return ErrorBody(error=ErrorDetail(code=self.code, message=self.message))


def status_code_name(status: int) -> str:
    """Returns an UPPER_SNAKE code for an HTTP status, e.g. 503 -> ``SERVICE_UNAVAILABLE``.

    Args:
        status: Any HTTP status code, including ones the standard library does not name.
    """
    try:
        return HTTPStatus(status).name
    except ValueError:
        # Fault rules may pick unusual statuses (e.g. 599) to probe client handling.
        return f"HTTP_{status}"
