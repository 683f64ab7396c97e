"""The result of `make bench`: summary figures, the JSON file and the PNG plot. Pure (no Temporal, no clock).

Throughput of a workload is completed workflows per second of wall time, pooled over its repetitions (all
completions over all elapsed time), so the alternation A, B, B, A cancels a linear drift of the machine's speed.
"""

import io
from statistics import mean

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pydantic import BaseModel, Field, computed_field

from bench.workloads import Rep

COLOURS = {"A": "#1f77b4", "B": "#ff7f0e"}
LABELS = {"A": "A: Tradelane shipments", "B": "B: bare Temporal, same shape"}


class WorkloadSummary(BaseModel):
    reps: int
    completed: int
    failed: int
    throughput: float
    """Completed workflows per second, pooled over the repetitions."""
    latency_ms: dict[str, float]
    """Mean over the repetitions of each one's p50, p95 and p99."""


def summarise(reps: list[Rep]) -> WorkloadSummary:
    if not reps:
        raise ValueError("no repetitions to summarise")
    completed = sum(r.completed for r in reps)
    return WorkloadSummary(
        reps=len(reps), completed=completed, failed=sum(r.failed for r in reps),
        throughput=completed / sum(r.elapsed_s for r in reps),
        latency_ms={q: mean(r.latency_ms[q] for r in reps) for q in ("p50", "p95", "p99")})


class SweepPoint(BaseModel):
    in_flight: int
    A: WorkloadSummary
    B: WorkloadSummary

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ratio(self) -> float:
        return self.A.throughput / self.B.throughput


class BenchResult(BaseModel):
    """Everything one run measured; written as JSON next to the plot."""

    machine: dict[str, str | int | float]
    settings: dict[str, str | int | float]
    shapes: dict[str, dict[str, int]]
    """Per example: history events, activities, waves, signals and updates of the shape B runs."""
    reps: list[Rep]
    """The main measurement, in the order run (A, B, B, A, ...)."""
    main: dict[str, WorkloadSummary]
    throughput_ratio: float
    sweep: list[SweepPoint]
    history_events: dict[str, dict[str, float]]
    """Per workload and example: mean events per workflow of the fetched histories (and `max`)."""
    peak_rss_mib: dict[str, float]
    decision_ms_per_shipment: float | None
    notes: list[str] = Field(default_factory=list)


def main_summary(reps: list[Rep]) -> tuple[dict[str, WorkloadSummary], float]:
    """Per workload summary of the main reps and the throughput ratio A/B."""
    main = {w: summarise([r for r in reps if r.workload == w]) for w in ("A", "B")}
    return main, main["A"].throughput / main["B"].throughput


def plot_png(sweep: list[SweepPoint], ratio: float, width_px: int = 1000, height_px: int = 420) -> bytes:
    """Throughput and p95 latency against the in-flight count, A and B side by side."""
    figure = Figure(figsize=(width_px / 100, height_px / 100), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    throughput, latency = figure.subplots(1, 2)
    counts = [p.in_flight for p in sweep]
    for workload in ("A", "B"):
        points = [getattr(p, workload) for p in sweep]
        style = {"color": COLOURS[workload], "marker": "o", "linewidth": 2, "label": LABELS[workload]}
        throughput.plot(counts, [s.throughput for s in points], **style)
        latency.plot(counts, [s.latency_ms["p95"] / 1000 for s in points], **style)
    for axes, title, unit in ((throughput, "Throughput", "completed workflows / s"),
                              (latency, "Latency p95", "start to result, s")):
        axes.set_xscale("log")
        axes.set_xticks(counts, [str(c) for c in counts])
        axes.set_xlabel("workflows in flight")
        axes.set_ylabel(unit)
        axes.set_title(title)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="best")
    figure.suptitle(f"make bench: throughput ratio A/B = {ratio:.2f} (main measurement)")
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def table(result: BenchResult) -> list[str]:
    """The human-readable lines printed before the final `throughput_ratio=` line."""
    lines = [f"{'run':<16}{'in flight':>10}{'done':>7}{'failed':>7}{'wf/s':>9}{'p50 ms':>10}{'p95 ms':>10}"
             f"{'p99 ms':>10}"]
    for rep in result.reps:
        lines.append(f"{rep.workload:<16}{rep.in_flight:>10}{rep.completed:>7}{rep.failed:>7}{rep.throughput:>9.2f}"
                     f"{rep.latency_ms['p50']:>10.0f}{rep.latency_ms['p95']:>10.0f}{rep.latency_ms['p99']:>10.0f}")
    for name, summary in result.main.items():
        lines.append(f"main {name}: {summary.throughput:.2f} wf/s over {summary.reps} reps, "
                     f"p50/p95/p99 {summary.latency_ms['p50']:.0f}/{summary.latency_ms['p95']:.0f}/"
                     f"{summary.latency_ms['p99']:.0f} ms, failed {summary.failed}")
    lines.append("sweep (in flight: A wf/s, B wf/s, ratio; p95 A / B ms):")
    for point in result.sweep:
        lines.append(f"  {point.in_flight:>4}: {point.A.throughput:7.2f} {point.B.throughput:7.2f} {point.ratio:6.2f};"
                     f" {point.A.latency_ms['p95']:7.0f} / {point.B.latency_ms['p95']:7.0f}")
    for workload, per_example in result.history_events.items():
        lines.append(f"history events per workflow {workload}: " +
                     ", ".join(f"{k} {v:.0f}" for k, v in per_example.items()))
    lines.append("worker peak RSS: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in result.peak_rss_mib.items()))
    if result.decision_ms_per_shipment is not None:
        lines.append(f"decision layer per shipment: {result.decision_ms_per_shipment:.2f} ms")
    lines.extend(result.notes)
    return lines
