"""What a database error says about its cause, for callers deciding whether a retry can help."""

from sqlalchemy.exc import StatementError

UNIQUE_VIOLATION_SQLSTATE = "23505"
"""PostgreSQL's `unique_violation` (psycopg names it on the error as `sqlstate`)."""

SQLITE_UNIQUE_VIOLATIONS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})
"""SQLite's extended result codes for a duplicate key (Python's `sqlite3` names them as `sqlite_errorname`)."""


def unique_violation(err: BaseException) -> bool:
    """Whether `err` (SQLAlchemy's wrapper or the driver's own error) is a duplicate primary or unique key.

    Between concurrent writers this is a race, not a bad value: another transaction inserted the same key and
    committed first, so reading again finds its row. Other integrity errors (NOT NULL, CHECK, a foreign key) fail
    the same way on every retry.
    """
    orig = err.orig if isinstance(err, StatementError) and err.orig is not None else err
    return (getattr(orig, "sqlstate", None) == UNIQUE_VIOLATION_SQLSTATE
            or getattr(orig, "sqlite_errorname", None) in SQLITE_UNIQUE_VIOLATIONS)


RETRY_SQLSTATES = frozenset({"40001", "40P01"})
"""PostgreSQL's `serialization_failure` and `deadlock_detected`: the transaction lost to another; run it again."""


def contended(err: BaseException) -> bool:
    """Whether `err` is a concurrent writer's doing, which a retry with a fresh read resolves: a duplicate key, a
    serialization failure or deadlock (PostgreSQL), a busy or locked database (SQLite's `SQLITE_BUSY*`,
    `SQLITE_LOCKED*` extended codes)."""
    orig = err.orig if isinstance(err, StatementError) and err.orig is not None else err
    name = getattr(orig, "sqlite_errorname", None) or ""
    return (unique_violation(err) or getattr(orig, "sqlstate", None) in RETRY_SQLSTATES
            or name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")))
