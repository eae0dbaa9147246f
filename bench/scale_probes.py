"""What bench/scale.py measures on a running local stack, each read from outside the services.

- CPU-seconds and peak RSS of every process ``fedstate up`` recorded, from ``/proc``: each service leads its
  own session, so a service's figure is the sum over every process of that session (its children too, and
  the children it has already waited for);
- the bus, on the stack's own NATS server: every JetStream stream's last sequence, message count and
  consumer count, the account's JetStream API request and error counters, and every message published in
  the account, counted by a ``>`` subscription and grouped by what it is;
- the services' logs (``.fedstate/logs/*.log``): JSON lines with a ``level``, nats-server's ``[ERR]`` and
  ``[WRN]`` lines, and bare Python tracebacks;
- the services' own counters, from their ``/metrics``: reconcile passes per controller and result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.msg import Msg
from nats.errors import SlowConsumerError
from prometheus_client.parser import text_string_to_metric_families

from fedstate.bus.names import SUBJECT_ROOT
from fedstate.cli.records import ProcessRecord
from fedstate.liveness import until_next_beat
from fedstate.settings import AgentSettings
from fedstate_collector.settings import CollectorSettings

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# The service kinds of a local stack, in the order tables show them; collectors and agents run per cluster.
KINDS = ("nats-server", "simulator", "collectors", "agents", "scheduler", "federation", "gateway")
SIMULATOR = "simulator"
# Agents renew their leases every heartbeat, collectors look at their clusters and renew theirs every resync period,
# all on shared wall-clock beats (``fedstate.liveness.until_next_beat``). A steady window that starts anywhere holds
# one or two 60 s beats in its 60 s (reading the counters adds 2-3 s), so its figure swung up to twice the rate: the
# collectors measured 3.09 % of a core over 62 s and 1.55 % over 122 s, the same code on the same hour. Started midway
# between two heartbeats, a quarter of a resync period or more from the next resync beat, a window of whole periods
# holds one beat of each per period.
COLLECTOR_RESYNC_SECONDS = CollectorSettings.model_fields["resync_seconds"].default
HEARTBEAT_SECONDS = AgentSettings.model_fields["heartbeat_seconds"].default


def until_steady_window(wall_clock: float, resync: float, heartbeat: float) -> float:
    """Seconds to wait for a steady window to start: midway between heartbeats, about midway between resync beats."""
    phase = (math.floor(resync / 2 / heartbeat) + 0.5) * heartbeat
    return until_next_beat(wall_clock - phase, resync) % resync


def kind_of(process_name: str) -> str:
    """``collector-member-3`` → ``collectors``, ``agent-member-1-restarted`` → ``agents``, else the name."""
    for prefix, kind in (("collector-", "collectors"), ("agent-", "agents")):
        if process_name.startswith(prefix):
            return kind
    return process_name.removesuffix("-restarted")


def by_kind(values: dict[str, float]) -> dict[str, float]:
    """Per-process figures summed per service kind, in KINDS order (unknown kinds last)."""
    summed: defaultdict[str, float] = defaultdict(float)
    for name, value in values.items():
        summed[kind_of(name)] += value
    ordered = [k for k in KINDS if k in summed] + sorted(k for k in summed if k not in KINDS)
    return {kind: summed[kind] for kind in ordered}


# ----------------------------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class ProcStat:
    session: int
    cpu_ticks: int  # utime + stime + cutime + cstime
    start_ticks: int


def _proc_stat(pid: int) -> ProcStat | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rpartition(")")[2].split()  # fields[0] is field 3 of proc(5), "state"
    return ProcStat(session=int(fields[3]), cpu_ticks=sum(int(f) for f in fields[11:15]), start_ticks=int(fields[19]))


def _peak_rss_bytes(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    line = next((line for line in lines if line.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1]) * 1024


@dataclass(frozen=True)
class ProcessUsage:
    """Per recorded process: CPU-seconds since it started and peak RSS, each summed over its session."""

    cpu_seconds: dict[str, float]
    peak_rss_bytes: dict[str, int]
    exited: list[str]


def process_usage(records: Iterable[ProcessRecord]) -> ProcessUsage:
    leaders = {r.pid: r for r in records}
    cpu: defaultdict[str, float] = defaultdict(float)
    rss: Counter[str] = Counter()
    alive: set[str] = set()
    for entry in Path("/proc").iterdir():
        pid = int(entry.name) if entry.name.isdigit() else 0
        stat = _proc_stat(pid) if pid else None
        record = leaders.get(stat.session) if stat is not None else None
        if stat is None or record is None:
            continue
        if pid == record.pid:
            if record.start_ticks not in (None, stat.start_ticks):
                continue  # a recycled pid that happens to lead a session
            alive.add(record.name)
        cpu[record.name] += stat.cpu_ticks / TICKS_PER_SECOND
        rss[record.name] += _peak_rss_bytes(pid)
    names = [r.name for r in leaders.values()]
    return ProcessUsage(dict(cpu), dict(rss), sorted(set(names) - alive))


RECONCILES = "fedstate_reconcile"  # fedstate.reconcile's Counter, by controller and result (its family name)


async def reconcile_passes(records: Iterable[ProcessRecord]) -> dict[str, float]:
    """Reconcile passes per service kind and result (``agents ok``), as their counters say now. A process
    that does not answer (stopped, or too busy for 10 s) counts nothing this time."""
    passes: defaultdict[str, float] = defaultdict(float)
    async with httpx.AsyncClient(timeout=10) as http:
        for record in records:
            if record.metrics_url is None:
                continue
            try:
                text = (await http.get(record.metrics_url)).text
            except httpx.HTTPError:
                continue
            for family in text_string_to_metric_families(text):
                if family.name != RECONCILES:
                    continue
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        passes[f"{kind_of(record.name)} {sample.labels.get('result', '')}"] += sample.value
    return dict(passes)


async def scrape_like_prometheus(records: Iterable[ProcessRecord], every: float, slowest: dict[str, float]) -> None:
    """Scrape every process's /metrics each ``every`` seconds until cancelled, as a Prometheus would; the slowest
    answer per service kind goes into ``slowest`` (seconds), the number of rounds under ``"rounds"``."""
    async with httpx.AsyncClient(timeout=30) as http:
        while True:
            started = time.monotonic()
            for record in records:
                if record.metrics_url is None:
                    continue
                asked = time.monotonic()
                with contextlib.suppress(httpx.HTTPError):
                    await http.get(record.metrics_url)
                kind = kind_of(record.name)
                slowest[kind] = max(slowest.get(kind, 0.0), time.monotonic() - asked)
            slowest["rounds"] = slowest.get("rounds", 0) + 1
            await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))


# ----------------------------------------------------------------------------------------------------- bus


@dataclass(frozen=True)
class StreamFigures:
    last_seq: int
    messages: int
    consumers: int


@dataclass(frozen=True)
class BusFigures:
    streams: dict[str, StreamFigures]
    api_requests: int
    api_errors: int
    published: dict[str, int]
    dropped: int  # messages the counting subscription missed (slow consumer): the counts are then low


def message_class(subject: str, reply: str = "") -> str:
    """What a message on the bus is, from its subject and reply subject.

    A JetStream consumer's delivery keeps the stored message's subject and carries a ``$JS.ACK.<stream>…``
    reply, so it is told apart from a write by its reply. A ``$KV.`` write is counted as published, stored
    or not (a compare-and-set that lost is rejected); the stream's sequence counts what was stored.
    """
    if reply.startswith("$JS.ACK."):
        return f"delivery {reply.split('.')[2]}"
    tokens = subject.split(".")
    if tokens[0] == "$KV" and len(tokens) > 1:
        return f"kv-write {tokens[1]}"
    if tokens[0] == "$JS" and len(tokens) > 2:
        return {"API": f"js-api {tokens[2].lower()}", "EVENT": "js-advisory", "ACK": "js-ack"}.get(tokens[1], "js")
    if tokens[0] == "_INBOX":
        return "reply or flow control"
    if subject.startswith(f"{SUBJECT_ROOT}.") and len(tokens) > 2:
        return f"fedstate {tokens[2]}"
    return "other"


@dataclass
class BusProbe:
    """A connection to the stack's NATS server that counts every message published in the account."""

    nc: nats.NATS | None = None
    published: Counter[str] = field(default_factory=Counter)
    dropped: int = 0

    @classmethod
    async def open(cls, nats_url: str, options: dict[str, Any]) -> BusProbe:
        """``options``: the connect options of the stack's admin user (``LocalStack.nats_options``)."""
        probe = cls()
        probe.nc = await nats.connect(nats_url, name="bench-scale", error_cb=probe._error, **options)
        await probe.nc.subscribe(">", cb=probe._count, pending_msgs_limit=1_000_000)
        await probe.nc.flush()
        return probe

    @property
    def connection(self) -> nats.NATS:
        assert self.nc is not None, "BusProbe.open() first"
        return self.nc

    async def _count(self, msg: Msg) -> None:
        self.published[message_class(msg.subject, msg.reply)] += 1

    async def _error(self, error: Exception) -> None:
        self.dropped += isinstance(error, SlowConsumerError)

    async def streams(self) -> dict[str, StreamFigures]:
        infos = await self.connection.jetstream().streams_info()
        return {
            i.config.name or "": StreamFigures(i.state.last_seq, i.state.messages, i.state.consumer_count)
            for i in infos
        }

    async def figures(self) -> BusFigures:
        await self.connection.flush()
        account = await self.connection.jetstream().account_info()
        streams = await self.streams()
        return BusFigures(streams, account.api.total, account.api.errors, dict(self.published), self.dropped)

    async def close(self) -> None:
        await self.connection.close()


# ---------------------------------------------------------------------------------------------------- logs


@dataclass(frozen=True)
class LogCounts:
    errors: int
    warnings: int
    top_errors: list[tuple[str, int]]


def line_level(line: str) -> tuple[str, str]:
    """(level, message) of one log line: JSON lines by their level field, nats-server's by its tag."""
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if isinstance(entry, dict):
        return str(entry.get("level", "")).lower(), str(entry.get("message", ""))
    for tag, level in (("[ERR]", "error"), ("[FTL]", "critical"), ("[WRN]", "warning")):
        if tag in line:
            return level, line.partition(tag)[2].strip()
    if line.startswith("Traceback"):
        return "error", line  # a traceback printed outside the JSON logging: a crash
    return "", line


def scan_log(path: Path, top: int = 3) -> LogCounts:
    errors: Counter[str] = Counter()
    warnings = 0
    for line in path.read_text(errors="replace").splitlines():
        level, message = line_level(line)
        if level in ("error", "critical"):
            errors[message[:160]] += 1
        warnings += level == "warning"
    return LogCounts(sum(errors.values()), warnings, errors.most_common(top))


def scan_logs(log_dir: Path) -> dict[str, LogCounts]:
    return {path.stem: scan_log(path) for path in sorted(log_dir.glob("*.log"))}
