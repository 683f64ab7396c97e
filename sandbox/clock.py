"""Time sources of the sandbox, injectable so tests can move time by hand."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time for timestamps and monotonic time for elapsed-seconds windows."""

    def now(self) -> datetime:
        """Returns the current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Returns seconds from an arbitrary fixed point; never goes backwards."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Returns the current time, timezone-aware UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Returns `time.monotonic()`."""
        return time.monotonic()
