"""Timings of a reliability run: one place, so the plan's notion of "transient" matches what the processes run with."""

from pydantic import BaseModel, ConfigDict


class RunTimings(BaseModel):
    """What the worker, API and sandbox run with during the fault matrix.

    The retry policy decides which faults are transient: a burst is survived when it is shorter than the attempts,
    an outage when it closes before the backoff runs out of attempts.
    """

    model_config = ConfigDict(frozen=True)

    seconds_per_day: float = 0.05
    """The sandbox's compressed clock: a 22-day voyage plays in about a second."""
    timeout_fault_s: float = 3.0
    """How long a sandbox `timeout` fault stalls; longer than `partner_timeout_s`, so the client gives up first."""
    partner_timeout_s: float = 1.0
    activity_timeout_s: float = 5.0
    """Start-to-close of a partner call: a SIGKILLed worker's calls are retried this soon."""
    retry_initial_interval_s: float = 0.2
    retry_maximum_interval_s: float = 1.0
    retry_maximum_attempts: int = 12
    poll_interval_s: float = 0.3
    transit_timeout_s: float = 30.0
    """A stage waiting longer than this for partner events opens the `stage_overdue` gate."""
    last_mile_timeout_s: float = 30.0
    stall_after_s: float = 10.0
    customs_hold_alert_after_s: float = 5.0
    gate_escalate_after_s: float = 120.0
    callback_retries: int = 12
    """Sandbox retries of a tracking webhook: enough to outlast an API restart."""
    callback_backoff_s: float = 0.2
    temporal_down_s: float = 60.0
    """How long the dev server stays stopped in the `temporal_down` disruption (`--temporal-down`)."""
    database_lock_s: float = 40.0
    """How long the `database_lock` disruption holds the read model's write lock: longer than the engine's SQLite
    busy timeout (30 s, `infra.persistence.db`), so writes caught in it wait, then fail ("database is locked") and
    must be retried."""

    @property
    def max_transient_times(self) -> int:
        """The longest burst (failed attempts in a row) that still leaves attempts to spare for crashes."""
        return self.retry_maximum_attempts // 3

    @property
    def retry_span_s(self) -> float:
        """Seconds the backoff waits in total before the last attempt (calls themselves not counted)."""
        total, interval = 0.0, self.retry_initial_interval_s
        for _ in range(self.retry_maximum_attempts - 1):
            total += interval
            interval = min(interval * 2, self.retry_maximum_interval_s)
        return total

    @property
    def step_budget_s(self) -> float:
        """The longest a step keeps trying: every attempt timing out, plus the backoff between them."""
        return self.retry_maximum_attempts * self.partner_timeout_s + self.retry_span_s

    @property
    def long_outage_s(self) -> float:
        """The shortest outage planned as outlasting a step for good: twice its whole budget, so no late attempt
        can slip past the window's end (undos, with fewer attempts, give up sooner still)."""
        return 2 * self.step_budget_s

    @property
    def max_outage_s(self) -> float:
        """The longest outage window planned as transient: half the backoff span, the rest is margin."""
        return self.retry_span_s / 2


TIMINGS = RunTimings()
"""The timings every run uses."""
