"""Error types activities raise, so the workflow and the Web UI can tell them apart."""

PARTNER_REJECTED = "PartnerRejected"
"""The partner said no for a business reason (4xx): retrying cannot help. Details carry the reason code."""
PARTNER_UNAVAILABLE = "PartnerUnavailable"
"""5xx, timeout or connection failure: transient, retried with backoff."""
PARTNER_RATE_LIMITED = "PartnerRateLimited"
"""429: retried after the partner's Retry-After."""
