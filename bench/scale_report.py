"""bench/scale.py's figures: differences between two snapshots of a stack, and the tables printed from them.

A phase's figures are what changed between the snapshot before it and the one after it: CPU-seconds per
service kind, KV writes per bucket, bus messages per kind of subject, JetStream API calls and errors, error
lines per log. Steady-state figures are the same difference as rates. JSON keys are camelCase, as the
gateway's.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scale_probes import SIMULATOR, BusFigures, LogCounts, ProcessUsage, by_kind

from fedstate.bus.names import Bucket

KV_PREFIX = "KV_"
# Renewed on a period whatever the instances do: left out of the per-instance total.
PERIODIC_BUCKETS = (str(Bucket.CLUSTERS), str(Bucket.LEASES))
MB = 1024 * 1024


@dataclass(frozen=True)
class Snapshot:
    at: float  # time.monotonic()
    usage: ProcessUsage
    bus: BusFigures
    logs: dict[str, LogCounts]
    bench_cpu: float  # this process's own CPU-seconds: the poller and the message counter
    gateway_lists: int  # lists of the instances the bench has asked the gateway for (each costs a consumer)
    passes: dict[str, float]  # reconcile passes per "kind result", as the services count them


def _cpu(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU-seconds per service kind between two snapshots (a process that exited counts 0)."""
    spent = {n: max(0.0, s - before.usage.cpu_seconds.get(n, 0.0)) for n, s in after.usage.cpu_seconds.items()}
    return by_kind(spent)


def cpu_since_start(snapshot: Snapshot) -> dict[str, float]:
    """CPU-seconds per service kind since each process started (at the end of ``fedstate up``: its start-up)."""
    return _rounded(by_kind(snapshot.usage.cpu_seconds))


def control_plane(per_kind: dict[str, float]) -> float:
    """Everything but the simulator (the member clusters): NATS and every service."""
    return sum(value for kind, value in per_kind.items() if kind != SIMULATOR)


def _kv_writes(before: Snapshot, after: Snapshot) -> dict[str, int]:
    old = before.bus.streams
    return {
        stream.removeprefix(KV_PREFIX): figures.last_seq - (old[stream].last_seq if stream in old else 0)
        for stream, figures in sorted(after.bus.streams.items())
        if stream.startswith(KV_PREFIX)
    }


def _published(before: Snapshot, after: Snapshot) -> dict[str, int]:
    spent = Counter(after.bus.published)
    spent.subtract(before.bus.published)
    return dict(spent.most_common())


def _passes(before: Snapshot, after: Snapshot) -> dict[str, int]:
    """Reconcile passes per service kind and result between two snapshots (a restarted process counts from 0)."""
    return {
        k: int(n - before.passes.get(k, 0.0)) for k, n in sorted(after.passes.items()) if n > before.passes.get(k, 0)
    }


def _log_errors(before: Snapshot, after: Snapshot) -> dict[str, int]:
    grown = {name: counts.errors - (before.logs[name].errors if name in before.logs else 0)
             for name, counts in after.logs.items()}  # fmt: skip
    return {name: errors for name, errors in grown.items() if errors}


def _rounded(values: dict[str, float], digits: int = 2) -> dict[str, float]:
    return {key: round(value, digits) for key, value in values.items()}


def phase_figures(before: Snapshot, after: Snapshot, per: int) -> dict[str, Any]:
    """What a phase cost, in all and per instance it concerned (``per``)."""
    cpu, writes, published = _cpu(before, after), _kv_writes(before, after), _published(before, after)
    return {
        "windowSeconds": round(after.at - before.at, 2),
        "cpuSeconds": _rounded(cpu),
        "cpuSecondsControlPlane": round(control_plane(cpu), 2),
        "kvWrites": writes,
        "kvWritesPerInstance": _rounded({bucket: n / per for bucket, n in writes.items()}),
        "instanceKvWritesPerInstance": round(
            sum(n for bucket, n in writes.items() if bucket not in PERIODIC_BUCKETS) / per, 1
        ),
        "busMessages": published,
        "busMessagesPerInstance": round(sum(published.values()) / per, 1),
        "busMessagesDropped": after.bus.dropped - before.bus.dropped,
        "jetstreamApi": {
            "requests": after.bus.api_requests - before.bus.api_requests,
            "errors": after.bus.api_errors - before.bus.api_errors,
        },
        "reconcilePasses": (passes := _passes(before, after)),
        "reconcilePassesPerInstance": _rounded(by_kind({k.split()[0]: n / per for k, n in passes.items()}), 1),
        "logErrors": _log_errors(before, after),
        "benchCpuSeconds": round(after.bench_cpu - before.bench_cpu, 2),
        "benchGatewayLists": after.gateway_lists - before.gateway_lists,
    }


def steady_figures(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """The same differences as rates: CPU in % of one core, writes per minute, messages per second."""
    seconds = after.at - before.at
    cpu = _cpu(before, after)
    return {
        "windowSeconds": round(seconds, 2),
        "cpuPercentOfOneCore": _rounded({kind: 100 * value / seconds for kind, value in cpu.items()}),
        "cpuPercentControlPlane": round(100 * control_plane(cpu) / seconds, 2),
        "kvWritesPerMinute": _rounded({b: 60 * n / seconds for b, n in _kv_writes(before, after).items()}, 1),
        "busMessagesPerSecond": round(sum(_published(before, after).values()) / seconds, 1),
        "jetstreamApiPerSecond": round((after.bus.api_requests - before.bus.api_requests) / seconds, 1),
        "reconcilePassesPerMinute": _rounded({k: 60 * n / seconds for k, n in _passes(before, after).items()}, 1),
        "logErrors": _log_errors(before, after),
        "benchCpuPercent": round(100 * (after.bench_cpu - before.bench_cpu) / seconds, 2),
    }


def end_figures(last: Snapshot) -> dict[str, Any]:
    """Peak RSS per service kind (summed, and its largest process), consumers per stream, logs, exits."""
    rss = last.usage.peak_rss_bytes
    largest: dict[str, float] = {}
    for name, value in rss.items():
        kind = next(iter(by_kind({name: 0.0})))
        largest[kind] = max(largest.get(kind, 0.0), value / MB)
    return {
        "peakRssMB": _rounded({kind: value / MB for kind, value in by_kind(dict(rss)).items()}, 1),
        "peakRssMBLargestProcess": _rounded(largest, 1),
        "processes": {kind: int(n) for kind, n in by_kind(dict.fromkeys(rss, 1.0)).items()},
        "consumersPerStream": {stream: f.consumers for stream, f in sorted(last.bus.streams.items())},
        "exitedProcesses": last.usage.exited,
        "logs": {
            name: {"errors": c.errors, "warnings": c.warnings, "topErrors": [[m, n] for m, n in c.top_errors]}
            for name, c in last.logs.items()
            if c.errors or c.warnings
        },
    }


# -------------------------------------------------------------------------------------------------- tables


def table(rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned text columns, two spaces apart; the first row is the header."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in cells)  # fmt: skip


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _seconds(phase: dict[str, Any]) -> object:
    return "timed out" if phase.get("seconds") is None else phase["seconds"]


def _peak_consumers(phase: dict[str, Any]) -> int:
    return max(phase.get("peakConsumersPerStream", {}).values(), default=0)


def _phase_row(name: str, phase: dict[str, Any]) -> list[object]:
    settled = phase.get("settledSeconds", {})
    return [
        name,
        phase.get("instances", ""),
        _seconds(phase),
        f"{settled.get('p50', '-')} / {settled.get('p90', '-')}",
        phase["instanceKvWritesPerInstance"],
        phase["busMessagesPerInstance"],
        f"{phase['jetstreamApi']['requests']} / {phase['jetstreamApi']['errors']}",
        _peak_consumers(phase),
        sum(phase["logErrors"].values()),
    ]


def print_run(result: dict[str, Any]) -> None:
    phases: dict[str, Any] = result["phases"]
    load = " / ".join(f"{v:.2f}" for v in result["loadAverage"]["start"])
    _say(f"\n{result['clusters']} clusters, {result['instances']} instances ({result['members']} members), "
         f"seed {result['seed']}; load average at start {load}; stack up in {result['startup']['seconds']} s")  # fmt: skip
    header = ["phase", "instances", "seconds", "settled p50 / p90", "instance KV writes/inst", "bus msgs/inst",
              "JS API calls / errors", "peak consumers/stream", "log errors"]  # fmt: skip
    _say(table([header, *(_phase_row(n, p) for n, p in phases.items() if "instanceKvWritesPerInstance" in p)]))
    steady = phases.get("steady", {}).get("cpuPercentOfOneCore", {})
    create, end = phases["create"]["cpuSeconds"], result["end"]
    rows: list[list[object]] = [["service", "processes", "start CPU-s", "create CPU-s", "steady % of a core",
                                 "peak RSS MB"]]  # fmt: skip
    for kind in end["processes"]:
        rows.append([kind, end["processes"][kind], result["startup"]["cpuSeconds"].get(kind, 0),
                     create.get(kind, 0), steady.get(kind, "-"), end["peakRssMB"].get(kind, 0)])  # fmt: skip
    cp_steady = phases.get("steady", {}).get("cpuPercentControlPlane", "-")
    rows.append(["control plane", "", "", phases["create"]["cpuSecondsControlPlane"], cp_steady, ""])
    _say(table(rows))
    _say("KV writes per instance (create): " + _pairs(phases["create"]["kvWritesPerInstance"].items()))
    if "steady" in phases:
        _say("KV writes per minute (steady): " + _pairs(phases["steady"]["kvWritesPerMinute"].items()))
    _say("consumers per stream (end): " + _pairs(end["consumersPerStream"].items()))
    logs = end["logs"]
    _say("log errors / warnings: " + (_pairs((n, f"{v['errors']}/{v['warnings']}") for n, v in logs.items()) or "none"))
    if end["exitedProcesses"]:
        _say("processes that exited: " + ", ".join(end["exitedProcesses"]))


def _pairs(items: Iterable[tuple[str, object]]) -> str:
    return ", ".join(f"{key} {value}" for key, value in items)


GROWTH_HEADER = ["instances", "clusters", "members", "to all settled s", "instance KV writes/inst", "bus msgs/inst",
                 "peak consumers/stream", "steady CPU % control plane", "steady CPU % simulator",
                 "log errors"]  # fmt: skip


def growth_rows(results: Iterable[dict[str, Any]]) -> list[list[object]]:
    rows: list[list[object]] = []
    for result in results:
        create, steady = result["phases"]["create"], result["phases"].get("steady", {})
        rows.append([
            result["instances"], result["clusters"], result["members"], _seconds(create),
            create["instanceKvWritesPerInstance"], create["busMessagesPerInstance"], _peak_consumers(create),
            steady.get("cpuPercentControlPlane", "-"), steady.get("cpuPercentOfOneCore", {}).get(SIMULATOR, "-"),
            sum(v["errors"] for v in result["end"]["logs"].values()),
        ])  # fmt: skip
    return rows


def print_growth(results: Sequence[dict[str, Any]], csv_path: Path | None) -> None:
    rows = growth_rows(results)
    _say("\ngrowth\n" + table([GROWTH_HEADER, *rows]))
    if csv_path is not None:
        with csv_path.open("w", newline="") as out:
            csv.writer(out).writerows([GROWTH_HEADER, *rows])


def plot_growth(results: Sequence[dict[str, Any]], path: Path) -> None:
    """Three panels over the instance count (log scale): time to all settled, steady CPU, KV writes per instance."""
    import matplotlib  # only the growth plot needs it

    matplotlib.use("Agg")
    from matplotlib import pyplot

    runs = sorted(results, key=lambda r: int(r["instances"]))
    instances = [int(r["instances"]) for r in runs]
    create = [r["phases"]["create"] for r in runs]
    steady = [r["phases"].get("steady", {}) for r in runs]
    panels: list[tuple[str, list[Any], str]] = [
        ("apply → all settled (s)", [c.get("seconds") for c in create], "o-"),
        ("steady CPU, control plane (% of one core)", [s.get("cpuPercentControlPlane") for s in steady], "s-"),
        ("instance KV writes per instance (create)", [c.get("instanceKvWritesPerInstance") for c in create], "^-"),
    ]
    figure, axes = pyplot.subplots(1, len(panels), figsize=(13, 3.8), layout="constrained")
    clusters = sorted({int(r["clusters"]) for r in runs})
    figure.suptitle(f"bench/scale.py: {', '.join(map(str, clusters))} clusters, growth in instances")
    for axis, (title, values, style) in zip(axes, panels, strict=True):
        points = [(n, v) for n, v in zip(instances, values, strict=True) if v is not None]
        axis.plot([n for n, _ in points], [v for _, v in points], style)
        for n, v in points:
            axis.annotate(f"{v:g}", (n, v), textcoords="offset points", xytext=(4, 4), fontsize=8)
        axis.set_xscale("log")
        axis.set_xticks(instances, [f"{n:,}" for n in instances])
        axis.set_xlabel("instances applied at once")
        axis.set_title(title, fontsize=10)
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
    figure.savefig(path)
    pyplot.close(figure)
