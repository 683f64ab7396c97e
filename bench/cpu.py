"""CPU accounting of `make bench`: milliseconds of CPU per shipment for each process, from `/proc/<pid>/stat`.

A process's `utime + stime` (fields 14 and 15, in clock ticks) is read before and after a repetition; the delta
divided by the repetition's completed workflows is its CPU per shipment. Reading `/proc` costs the reader (the
driver) a few system calls and the measured processes nothing. The parsing and the arithmetic are pure; `sample`
alone reads files.
"""

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
"""Clock ticks per second of `utime` and `stime` (100 on Linux)."""

APART = ("partners", "mail", "driver")
"""Roles reported apart from Tradelane's or a hand-written system's own cost: the emulated partners (the sandbox),
the mail receiver and the benchmark's driver. A real partner and a real mailbox run elsewhere."""


class StatLine(BaseModel):
    """What the benchmark reads from one `/proc/<pid>/stat` line."""

    pid: int
    comm: str
    ppid: int
    cpu_ticks: int
    """utime + stime."""


def parse_stat(text: str) -> StatLine:
    """One `/proc/<pid>/stat` line. The command name is in parentheses and may itself hold spaces or ')', so the
    fields are counted from the last ')'.

    Raises:
        ValueError: The text is not a stat line (naming what is missing).
    """
    head, sep, tail = text.rpartition(")")
    pid_text, paren, comm = head.partition(" (")
    fields = tail.split()
    if not sep or not paren or len(fields) < 13 or not pid_text.strip().isdigit():
        raise ValueError(f"not a /proc/<pid>/stat line (pid, (comm), then at least 13 fields): {text[:80]!r}")
    # fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return StatLine(pid=int(pid_text), comm=comm, ppid=int(fields[1]), cpu_ticks=int(fields[11]) + int(fields[12]))


def ticks_to_ms(ticks: int, clock_ticks: int = CLOCK_TICKS) -> float:
    return ticks * 1000 / clock_ticks


def sample(pids: Mapping[str, int], proc: Path = Path("/proc")) -> dict[str, int]:
    """CPU ticks so far of each named process; a process that has exited counts as absent."""
    ticks = {}
    for name, pid in pids.items():
        try:
            ticks[name] = parse_stat((proc / str(pid) / "stat").read_text()).cpu_ticks
        except FileNotFoundError:
            continue
    return ticks


def children_of(parent: int, proc: Path = Path("/proc")) -> list[StatLine]:
    """The processes whose parent is `parent` (the dev server the SDK starts is a child of the driver), by pid."""
    found = []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                line = parse_stat((entry / "stat").read_text())
            except (FileNotFoundError, ProcessLookupError):
                continue  # exited while listing
            if line.ppid == parent:
                found.append(line)
    return sorted(found, key=lambda line: line.pid)


def per_shipment_ms(before: Mapping[str, int], after: Mapping[str, int], completed: int,
                    clock_ticks: int = CLOCK_TICKS) -> dict[str, float]:
    """CPU milliseconds per completed workflow of every process sampled both times.

    Raises:
        ValueError: Nothing completed (no per-shipment figure), or a counter went backwards (a pid reused by
            another process).
    """
    if completed < 1:
        raise ValueError("no completed workflow to divide the CPU by")
    result = {}
    for name in before.keys() & after.keys():
        delta = after[name] - before[name]
        if delta < 0:
            raise ValueError(f"{name}: CPU ticks went backwards ({before[name]} -> {after[name]}); pid reused?")
        result[name] = ticks_to_ms(delta, clock_ticks) / completed
    return dict(sorted(result.items()))


def split_apart(cpu: Mapping[str, float], roles: Mapping[str, str]) -> tuple[float, float]:
    """(own, apart) totals: the system's own processes, and the emulated partners, mail receiver and driver
    (`roles` maps a process name to its role; a process without a role is the system's own)."""
    apart = sum(ms for name, ms in cpu.items() if roles.get(name) in APART)
    return sum(cpu.values()) - apart, apart


def parse_rss_mib(status_text: str) -> float:
    """Resident set size now (`VmRSS`) from `/proc/<pid>/status` text, in MiB.

    Raises:
        ValueError: No VmRSS line (a kernel thread, or not a status file).
    """
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError("no VmRSS line in the status text")


def rss_mib(pid: int, proc: Path = Path("/proc")) -> float:
    return parse_rss_mib((proc / str(pid) / "status").read_text())


def growth(rss_by_open: Mapping[int, float]) -> float:
    """Relative RSS growth from the fewest to the most open shipments (0.08 is 8 %).

    Raises:
        ValueError: Fewer than two levels measured.
    """
    if len(rss_by_open) < 2:
        raise ValueError("at least two levels of open shipments are needed for a growth")
    low, high = rss_by_open[min(rss_by_open)], rss_by_open[max(rss_by_open)]
    return high / low - 1
