"""Which errors fail the same way every time, and what an activity does with them: not retry.

A retry helps when something outside the message changes (a database or mail relay back up, a lock released). It
cannot help when the message itself is the problem: a header that cannot hold a line break (`ValueError` while
building an e-mail), a value the database refuses (`DataError`: PostgreSQL stores no NUL; an `IntegrityError`
such as NOT NULL), a model that does not validate. Such an error is raised as a non-retryable `ApplicationError`
with a type name the workflow and the Web UI can tell apart; transient errors (connection refused, timeouts,
`OperationalError`) stay retryable. An error of neither family is retried up to a cap and then treated as
deterministic too; so is a duplicate key (`infra.persistence.errors.unique_violation`), which between concurrent
writers is a race that a retry resolves by reading the other writer's row.
"""

from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError, StatementError
from temporalio.exceptions import ApplicationError

from infra.persistence.errors import unique_violation

DEAD_LETTERED = "DeadLettered"
"""The message was given up and recorded as a dead letter (`infra.persistence.dead_letters`); not retried."""

DETERMINISTIC: tuple[type[BaseException], ...] = (ValueError, TypeError, DataError, IntegrityError)
"""Fail again on every retry with the same input (pydantic's `ValidationError` and `UnicodeError` are
`ValueError`s)."""

TRANSIENT: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, ConnectionError, TimeoutError, OSError)
"""Depend on something outside the message that may come back: retried without a cap."""


def deterministic(err: BaseException, *, attempt: int = 1, max_attempts: int | None = None) -> bool:
    """Whether `err` will fail the same way on a retry.

    SQLAlchemy wraps driver errors: a `DataError` or `IntegrityError` is judged by its own class (a duplicate key
    by the driver's code, as an error of neither family), another
    `StatementError` (one that wraps, say, a driver's `ValueError` while binding a parameter) by what it wraps.

    Args:
        err: The error an attempt raised.
        attempt: The attempt that raised it (1 = first).
        max_attempts: When given, an error that is neither known deterministic nor known transient counts as
            deterministic from this attempt on.
    """
    if isinstance(err, TRANSIENT):
        return False
    if unique_violation(err):  # another writer inserted the key first: a race, unless it persists to the cap
        return max_attempts is not None and attempt >= max_attempts
    if isinstance(err, DETERMINISTIC):
        return True
    if isinstance(err, StatementError) and err.orig is not None:
        return deterministic(err.orig, attempt=attempt, max_attempts=max_attempts)
    return max_attempts is not None and attempt >= max_attempts


def non_retryable(err: BaseException, what: str, *, type: str = DEAD_LETTERED) -> ApplicationError:
    """`err` as a non-retryable `ApplicationError` of `type`, its message naming `what` failed and the error's
    class (never its full text, which may quote the values of a failed statement)."""
    return ApplicationError(f"{what}: {type_name(err)}; given up, not retried (see the dead letters)",
                            type=type, non_retryable=True)


def type_name(err: BaseException) -> str:
    """The class of the error that matters: a SQLAlchemy error's driver error (``DataError``) when it has one."""
    inner = err.orig if isinstance(err, StatementError) and err.orig is not None else err
    return type(inner).__name__
