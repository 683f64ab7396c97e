"""What a cluster does to Tradelane, with the same audit as `make reliability` (issue 23): `python -m reliability
--cluster` on a small batch, its own cluster (a fresh PostgreSQL, the binaries `make cluster` found or built), with
a history host SIGKILLed mid-batch and started again (twice, one host then the other), one of the two Tradelane
workers SIGKILLed, the frontend restarted, a rolling restart of the Tradelane workers and an API restart. Judged by
the run's exit code and last line: every shipment terminal, no duplicate, no orphan, nothing lost."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAST_LINE = re.compile(r"^shipments=(\d+) faults=(\d+) terminal=(\d+) duplicates=(\d+) orphans=(\d+) lost=(\d+) "
                       r"dead_letters=(\d+) reconciled=(\d+)$")

pytestmark = pytest.mark.temporal


def test_a_batch_survives_a_lost_history_host_worker_and_frontend(tmp_path: Path):
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "reliability", "--cluster", "--shipments", "48", "--in-flight", "4", "--seed", "4",
         "--run-dir", str(tmp_path / "run"), "--deadline", "240", "--json", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=1200)
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert lines, run.stderr[-3000:]
    match = LAST_LINE.match(lines[-1])
    assert match, f"last line: {lines[-1]!r}\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    shipments, _, terminal, duplicates, orphans, lost, _, _ = map(int, match.groups())
    assert (shipments, terminal, duplicates, orphans, lost) == (48, 48, 0, 0, 0), run.stdout[-6000:]
    assert run.returncode == 0, run.stdout[-6000:]

    events = json.loads(report.read_text())["evidence"]["disruptions"]
    kinds = [e["kind"] for e in events]
    assert kinds.count("history_kill") == 2 and kinds.count("worker_kill") == 1
    assert {"frontend_restart", "workers_rolling_restart", "api_restart"} <= set(kinds)
    # The lost host's shards moved to the other host while it was away (their range ids grew), and back.
    moved = [int(re.search(r"(\d+) of 8 shards taken over", e["detail"]).group(1))
             for e in events if e["kind"] == "history_kill"]
    back = [int(re.search(r"(\d+) taken again", e["detail"]).group(1)) for e in events if e["kind"] == "history_kill"]
    assert all(count > 0 for count in moved + back), [e["detail"] for e in events if e["kind"] == "history_kill"]
