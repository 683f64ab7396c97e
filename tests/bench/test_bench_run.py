"""`make bench` end to end, small: the real stack, the three workloads, the files and the last lines. No timing
asserted."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.temporal

ROOT = Path(__file__).resolve().parent.parent.parent
PROCESSES = {"devserver", "worker-A", "api", "worker-B0", "worker-M", "ingress-M", "sandbox", "mail", "driver"}


def test_a_small_bench_run_reports_three_workloads_cpu_per_process_and_ends_with_a_over_m(tmp_path):
    run_dir = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--in-flight", "2", "--shipments", "4", "--reps", "3", "--sweep", "2",
         "--sweep-seconds", "2", "--workers", "1,2", "--open", "3,6", "--run-dir", str(run_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"throughput_ratio=\d+\.\d\d", lines[-1]), lines[-5:]
    assert re.fullmatch(r"ratios: A/B0=\d+\.\d\d, M/B0=\d+\.\d\d", lines[-2]), lines[-5:]
    result = json.loads((run_dir / "bench.json").read_text())
    assert [r["workload"] for r in result["reps"]] == ["B0", "M", "A", "A", "B0", "M", "M", "A", "B0"]
    assert all(r["completed"] == 4 and r["failed"] == 0 for r in result["reps"]), [r["notes"] for r in result["reps"]]
    assert f"{result['throughput_ratio']:.2f}" == lines[-1].split("=")[1]
    assert set(result["ratios"]) == {"A/M", "A/B0", "M/B0"}
    # CPU per shipment of every process, each repetition; the workload's own worker did the work.
    for rep in result["reps"]:
        assert set(rep["cpu_ms"]) == PROCESSES, rep["cpu_ms"]
        assert rep["cpu_ms"][f"worker-{rep['workload']}"] > 0 and rep["cpu_ms"]["devserver"] > 0
    assert all(r["cpu_ms"]["api"] > 0 for r in result["reps"] if r["workload"] == "A")
    assert result["roles"]["sandbox"] == "partners" and result["roles"]["driver"] == "driver"
    [point] = result["sweep"]
    assert point["offered_rate"] == 2 and set(point["workloads"]) == {"B0", "M", "A"}
    assert all(s["completed"] == 4 for s in point["workloads"].values())
    assert set(result["workers"]) == {"1", "2"} and result["workers"]["2"]["completed"] == 4
    # Every shipment history counted stays within the bound; M's are smaller than A's.
    assert 0 < result["history_events"]["A"]["max"] <= 150
    assert 0 < result["history_events"]["M"]["max"] < result["history_events"]["A"]["max"]
    assert result["shapes"]["high-value-us-jp"]["updates"] == 1
    assert set(result["rss_open_mib"]) == {"3", "6"} and result["rss_growth"] is not None
    assert all(v > 0 for v in result["peak_rss_mib"].values())
    assert result["decision_ms_per_shipment"] > 0
    assert (run_dir / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
