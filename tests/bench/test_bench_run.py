"""`make bench` end to end, small: the real stack, both workloads, the files and the last line. No timing asserted."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.temporal

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_small_bench_run_reports_both_workloads_and_ends_with_the_ratio(tmp_path):
    run_dir = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--in-flight", "2", "--shipments", "4", "--reps", "3", "--sweep", "1,2",
         "--sweep-rounds", "1", "--run-dir", str(run_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"throughput_ratio=\d+\.\d\d", lines[-1]), lines[-5:]
    result = json.loads((run_dir / "bench.json").read_text())
    assert [r["workload"] for r in result["reps"]] == ["A", "B", "B", "A", "A", "B"]
    assert all(r["completed"] == 4 and r["failed"] == 0 for r in result["reps"])
    assert f"{result['throughput_ratio']:.2f}" == lines[-1].split("=")[1]
    assert [p["in_flight"] for p in result["sweep"]] == [1, 2]
    # Every shipment history counted stays within the bound; B copies A's activities.
    assert 0 < result["history_events"]["A"]["max"] <= 150
    assert set(result["shapes"]) == {"basic-cn-de", "high-value-us-jp", "lithium-powerbank-cn-us", "pallet-cn-au"}
    assert result["shapes"]["high-value-us-jp"]["updates"] == 1
    assert all(v > 0 for v in result["peak_rss_mib"].values())
    assert result["decision_ms_per_shipment"] > 0
    assert (run_dir / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
