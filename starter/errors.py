"""The API's error: answered as `{"error": {"code", "message"}}` with an HTTP status (see `starter/api.py`)."""


class ApiError(Exception):
    """An error answered as `{"error": {"code", "message"}}` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
