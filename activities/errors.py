"""Error types activities raise, so the workflow and the Web UI can tell them apart."""

PARTNER_REJECTED = "PartnerRejected"
"""The partner said no for a business reason (4xx): retrying cannot help. Details carry the reason code."""
PARTNER_UNAVAILABLE = "PartnerUnavailable"
"""5xx, timeout or connection failure: transient, retried with backoff."""
PARTNER_RATE_LIMITED = "PartnerRateLimited"
"""429: retried after the partner's Retry-After."""
PARTNER_BAD_RESPONSE = "PartnerBadResponse"
"""A success (2xx) whose body does not parse as the partner's published format: not retried, the call is named."""
PARTNER_CANNOT_CANCEL = "PartnerCannotCancel"
"""An undo the partner's API cannot do (DHL Express has no cancel; a waybill it scanned holds goods): not retried, the
saga lists it for ops to settle with the partner."""
