"""The API's error: answered as `{"error": {"code", "message"}}` with an HTTP status (see `starter/api.py`)."""


class ApiError(Exception):
    """An error answered as `{"error": {"code", "message"}}` with an HTTP status (and headers, e.g. for 401)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers
        self.fields = fields
        """Per-field problems (`{"field", "message"}`), as in a validation error."""
