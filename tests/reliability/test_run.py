"""`python -m reliability` end to end, as `make reliability` runs it: a small batch with every crash and restart
(the dev server down for 10 s instead of a minute, the read model locked for 5 s instead of 40), real processes
(its own dev server, worker and API children), judged by its exit code and its last line."""

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


def test_a_small_batch_with_crashes_ends_clean(tmp_path: Path):
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "reliability", "--shipments", "16", "--in-flight", "8", "--seed", "4",
         "--run-dir", str(tmp_path / "run"), "--deadline", "150", "--temporal-down", "10", "--database-lock", "5",
         "--json", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert lines, run.stderr[-3000:]
    match = LAST_LINE.match(lines[-1])
    assert match, f"last line: {lines[-1]!r}\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    shipments, faults, terminal, duplicates, orphans, lost, dead_letters, _ = map(int, match.groups())
    assert (shipments, terminal, duplicates, orphans, lost) == (16, 16, 0, 0, 0), run.stdout[-6000:]
    assert run.returncode == 0

    result = json.loads(report.read_text())
    kinds = [d["kind"] for d in result["evidence"]["disruptions"]]
    assert kinds.count("worker_kill") == 2 and "server_restart" in kinds and "api_restart" in kinds
    assert "temporal_down" in kinds and "database_lock" in kinds
    # Seed 4 draws partners that act then time out or garble their answer, a partner down for minutes, forged
    # events, a poisoned request and a poisoned notification (but no undo down for minutes: ops would wait it out).
    scenarios = {s["planned"]["scenario"] for s in result["evidence"]["shipments"]}
    assert {"label-acted-then-timeout-always", "book-garbled", "book-outage-minutes", "forged-and-replayed-events",
            "poison-text-refused", "poison-notification"} <= scenarios
    # Every dead letter and reconciliation item is explained by the fault that calls for it.
    assert all(e["expected"] for e in result["result"]["explanations"])
    assert dead_letters == sum(s["planned"]["dead_letters"] for s in result["evidence"]["shipments"]) >= 1
    # Every crash counts as a fault, besides the shipments' own rules that fired.
    fired_rules = sum(sum(s["fired"]) for s in result["evidence"]["shipments"])
    hostile = sum(len(s["probes"]) + (s["poisoned_notice"] is not None) + (s["refusal"] is not None)
                  for s in result["evidence"]["shipments"])
    assert faults == fired_rules + hostile + sum(d["fired"] for d in result["evidence"]["disruptions"]) >= 4
    assert all(s["acknowledged"] and s["workflow_found"] for s in result["evidence"]["shipments"]
               if not s["planned"]["refused_at_api"])
