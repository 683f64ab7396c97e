"""The result of `make bench`: summary figures, ratio lines, the JSON file and the PNG plot. Pure (no Temporal, no
clock).

Throughput of a workload is completed workflows per second of wall time, pooled over its repetitions (all
completions over all elapsed time), so the rotation of the workloads cancels a linear drift of the machine's speed.
CPU per shipment is pooled the same way: every repetition's CPU over every repetition's completions.
"""

import io
from collections.abc import Mapping
from statistics import mean

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pydantic import BaseModel, Field

from bench.arrivals import sustained
from bench.cpu import APART
from bench.workloads import Rep

WORKLOADS = ("B0", "M", "A")
COLOURS = {"B0": "#7f7f7f", "M": "#ff7f0e", "A": "#1f77b4"}
LABELS = {"B0": "B0: bare Temporal, no-op steps", "M": "M: minimal hand-written workflow", "A": "A: Tradelane"}
RATIOS = (("A", "M"), ("A", "B0"), ("M", "B0"))
"""Printed in this order; the first is the headline, `throughput_ratio=`."""


class WorkloadSummary(BaseModel):
    reps: int
    completed: int
    failed: int
    throughput: float
    """Completed workflows per second, pooled over the repetitions."""
    latency_ms: dict[str, float]
    """Mean over the repetitions of each one's p50, p95 and p99."""
    cpu_ms: dict[str, float] = Field(default_factory=dict)
    """CPU milliseconds per completed workflow per process, pooled over the repetitions."""


def summarise(reps: list[Rep]) -> WorkloadSummary:
    if not reps:
        raise ValueError("no repetitions to summarise")
    completed = sum(r.completed for r in reps)
    processes = sorted({p for r in reps for p in r.cpu_ms})
    return WorkloadSummary(
        reps=len(reps), completed=completed, failed=sum(r.failed for r in reps),
        throughput=completed / sum(r.elapsed_s for r in reps),
        latency_ms={q: mean(r.latency_ms[q] for r in reps) for q in ("p50", "p95", "p99")},
        cpu_ms={p: sum(r.cpu_ms.get(p, 0.0) * r.completed for r in reps) / completed for p in processes}
        if completed else {})


class SweepPoint(BaseModel):
    """One offered rate of the open-loop sweep, every workload run at it."""

    offered_rate: float
    """Shipments per second offered."""
    workloads: dict[str, WorkloadSummary]
    sustained: dict[str, bool]
    """Whether each workload kept up with the offered rate (`bench.arrivals.sustained`)."""


class BenchResult(BaseModel):
    """Everything one run measured; written as JSON next to the plot."""

    machine: dict[str, str | int | float]
    settings: dict[str, str | int | float]
    shapes: dict[str, dict[str, int]]
    """Per example: history events, activities, signals and updates of the Tradelane shipment at warm-up."""
    reps: list[Rep]
    """The main measurement (closed loop), in the order run."""
    main: dict[str, WorkloadSummary]
    ratios: dict[str, float]
    """`A/M`, `A/B0`, `M/B0` of the main measurement."""
    throughput_ratio: float | None
    """A/M of the main measurement: the headline."""
    sweep: list[SweepPoint]
    ratio_at_highest_sustained: dict[str, float] | None = None
    """`offered_rate` and `A/M` at the highest offered rate M sustained (None when it sustained none)."""
    workers: dict[str, WorkloadSummary] = Field(default_factory=dict)
    """Workload A at the main load with 1 and 2 Tradelane worker processes."""
    rss_open_mib: dict[str, float] = Field(default_factory=dict)
    """Worker A's resident memory (VmRSS) with this many shipments open (waiting at a gate)."""
    rss_growth: float | None = None
    """Relative growth of that RSS from the fewest to the most open shipments (the bound is 0.10)."""
    roles: dict[str, str] = Field(default_factory=dict)
    """Process name -> role; `partners`, `mail` and `driver` are reported apart (`bench.cpu.APART`)."""
    history_events: dict[str, dict[str, float]]
    """Per workload and example: mean events per workflow of the fetched histories (and `max`)."""
    peak_rss_mib: dict[str, float]
    decision_ms_per_shipment: float | None
    notes: list[str] = Field(default_factory=list)


def main_summary(reps: list[Rep]) -> dict[str, WorkloadSummary]:
    """Per workload summary of the main reps, in `WORKLOADS` order (workloads not run are left out)."""
    return {w: summarise([r for r in reps if r.workload == w]) for w in WORKLOADS if any(r.workload == w for r in reps)}


def ratios(main: Mapping[str, WorkloadSummary]) -> dict[str, float]:
    """Throughput ratios of the pairs in `RATIOS` whose two workloads both ran and completed something."""
    return {f"{a}/{b}": main[a].throughput / main[b].throughput for a, b in RATIOS
            if a in main and b in main and main[b].throughput > 0}


def ratio_lines(found: Mapping[str, float]) -> list[str]:
    """The closing lines: every ratio but the headline, then exactly `throughput_ratio=<A/M>` last.

    Raises:
        ValueError: A/M is missing (M or A did not run, or M completed nothing): there is no headline.
    """
    headline = "/".join(RATIOS[0])
    if headline not in found:
        raise ValueError(f"no {headline} ratio: both workloads must run and complete shipments")
    others = [f"{name}={value:.2f}" for name, value in found.items() if name != headline]
    return [f"ratios: {', '.join(others)}" if others else "ratios: none besides the headline",
            f"throughput_ratio={found[headline]:.2f}"]


def highest_sustained(sweep: list[SweepPoint], workload: str = "M") -> SweepPoint | None:
    """The point of the highest offered rate that `workload` sustained."""
    kept = [p for p in sweep if p.sustained.get(workload)]
    return max(kept, key=lambda p: p.offered_rate) if kept else None


def sweep_point(offered_rate: float, reps: Mapping[str, Rep]) -> SweepPoint:
    return SweepPoint(offered_rate=offered_rate, workloads={w: summarise([r]) for w, r in reps.items()},
                      sustained={w: sustained(offered_rate, r) for w, r in reps.items()})


def cpu_stack(main: Mapping[str, WorkloadSummary],
              roles: Mapping[str, str]) -> tuple[list[str], dict[str, list[float]]]:
    """The stacked bars' data: processes in a fixed order (the system's own first, then those reported apart) and,
    per process, its CPU ms per shipment in each workload of `main` (0 where it did not run)."""
    processes = sorted({p for s in main.values() for p in s.cpu_ms},
                       key=lambda p: (roles.get(p) in APART, roles.get(p, ""), p))
    return processes, {p: [main[w].cpu_ms.get(p, 0.0) for w in main] for p in processes}


def plot_png(result: BenchResult, width_px: int = 1400, height_px: int = 440) -> bytes:
    """Throughput and p95 latency against the offered rate for each workload, and CPU per shipment per process as
    stacked bars."""
    figure = Figure(figsize=(width_px / 100, height_px / 100), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    throughput, latency, cpu = figure.subplots(1, 3)
    rates = [p.offered_rate for p in result.sweep]
    for workload in WORKLOADS:
        points = [(p.offered_rate, p.workloads[workload]) for p in result.sweep if workload in p.workloads]
        if not points:
            continue
        style = {"color": COLOURS[workload], "marker": "o", "linewidth": 2, "label": LABELS[workload]}
        throughput.plot([r for r, _ in points], [s.throughput for _, s in points], **style)
        latency.plot([r for r, _ in points], [s.latency_ms["p95"] / 1000 for _, s in points], **style)
    if rates:
        throughput.plot(rates, rates, color="black", linestyle=":", linewidth=1, label="offered")
    for axes, title, unit in ((throughput, "Throughput", "completed shipments / s"),
                              (latency, "Latency p95", "start to result, s")):
        axes.set_xlabel("offered shipments / s (open loop)")
        axes.set_ylabel(unit)
        axes.set_title(title)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="best", fontsize="small")
    processes, stack = cpu_stack(result.main, result.roles)
    names, bottom = list(result.main), [0.0] * len(result.main)
    for process in processes:
        apart = result.roles.get(process) in APART
        cpu.bar(names, stack[process], bottom=bottom, label=f"{process}{' (apart)' if apart else ''}",
                hatch="//" if apart else None, edgecolor="white")
        bottom = [b + v for b, v in zip(bottom, stack[process], strict=True)]
    cpu.set_title("CPU per shipment (main load)")
    cpu.set_ylabel("ms per completed shipment")
    cpu.legend(loc="upper left", fontsize="x-small")
    headline = result.throughput_ratio
    figure.suptitle("make bench: throughput ratio A/M = " + (f"{headline:.2f}" if headline is not None else "n/a")
                    + "".join(f", {k} = {v:.2f}" for k, v in result.ratios.items() if k != "A/M"))
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def table(result: BenchResult) -> list[str]:
    """The human-readable lines printed before the closing ratio lines."""
    lines = [f"{'run':<8}{'workers':>8}{'in flight':>10}{'done':>7}{'failed':>7}{'wf/s':>9}{'p50 ms':>10}"
             f"{'p95 ms':>10}{'p99 ms':>10}{'CPU ms/wf':>11}"]
    for rep in result.reps:
        lines.append(f"{rep.workload:<8}{rep.workers:>8}{rep.in_flight:>10}{rep.completed:>7}{rep.failed:>7}"
                     f"{rep.throughput:>9.2f}{rep.latency_ms['p50']:>10.0f}{rep.latency_ms['p95']:>10.0f}"
                     f"{rep.latency_ms['p99']:>10.0f}{sum(rep.cpu_ms.values()):>11.0f}")
    for name, summary in result.main.items():
        lines.append(f"main {name}: {summary.throughput:.2f} wf/s over {summary.reps} reps, "
                     f"p50/p95/p99 {summary.latency_ms['p50']:.0f}/{summary.latency_ms['p95']:.0f}/"
                     f"{summary.latency_ms['p99']:.0f} ms, failed {summary.failed}")
    lines.append("CPU ms per shipment (main load; * reported apart):")
    processes, stack = cpu_stack(result.main, result.roles)
    lines.append(f"  {'process':<18}" + "".join(f"{w:>9}" for w in result.main))
    for process in processes:
        mark = "*" if result.roles.get(process) in APART else " "
        lines.append(f"  {process + mark:<18}" + "".join(f"{v:>9.1f}" for v in stack[process]))
    own = {w: sum(v for p, v in s.cpu_ms.items() if result.roles.get(p) not in APART) for w, s in result.main.items()}
    lines.append(f"  {'own total':<18}" + "".join(f"{own[w]:>9.1f}" for w in result.main))
    lines.append("sweep (offered/s: wf/s and p95 ms per workload; ! = not sustained):")
    for point in result.sweep:
        cells = [f"{w} {s.throughput:.2f}{'' if point.sustained[w] else '!'} p95 {s.latency_ms['p95']:.0f}"
                 for w, s in point.workloads.items()]
        lines.append(f"  {point.offered_rate:>6.2f}: " + "; ".join(cells))
    if result.ratio_at_highest_sustained is not None:
        at = result.ratio_at_highest_sustained
        lines.append(f"A/M at the highest rate M sustained ({at['offered_rate']:.2f}/s): {at['A/M']:.2f}")
    for count, summary in result.workers.items():
        lines.append(f"A with {count} worker process(es): {summary.throughput:.2f} wf/s, "
                     f"p95 {summary.latency_ms['p95']:.0f} ms")
    for workload, per_example in result.history_events.items():
        lines.append(f"history events per workflow {workload}: " +
                     ", ".join(f"{k} {v:.0f}" for k, v in per_example.items()))
    if result.rss_growth is not None:
        lines.append("worker A RSS by open shipments: " + ", ".join(f"{k} open {v:.0f} MiB"
                                                                   for k, v in result.rss_open_mib.items())
                     + f" ({result.rss_growth:+.1%})")
    lines.append("worker peak RSS: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in result.peak_rss_mib.items()))
    if result.decision_ms_per_shipment is not None:
        lines.append(f"decision layer per shipment: {result.decision_ms_per_shipment:.2f} ms")
    lines.extend(result.notes)
    return lines
