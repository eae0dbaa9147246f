"""The bus layer's own metrics: how far behind each KV watch is, how often a watch had to start again, and what
failed to go out or come in."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

WATCH_PENDING = Gauge(
    "fedstate_kv_watch_pending_changes",
    "Changes the server holds for a KV watch of this process that it has not delivered yet (last delivery)",
    ["bucket"],
)
PUBLISH_ERRORS = Counter(
    "fedstate_bus_publish_errors",
    "Writes and events the server did not take (a lost compare-and-set is not one)",
    ["target"],
)
CONSUME_ERRORS = Counter(
    "fedstate_bus_consume_errors",
    "Messages received that could not be read (invalid, unknown schemaVersion)",
    ["source"],
)
CONSUMERS_REPLACED = Counter(
    "fedstate_bus_consumers_replaced",
    "Ordered consumers created again after a gap, two missed heartbeats, a reconnect or a NATS server leaving the cluster (a slow or stalled watch)",
    ["stream"],
)
DEAD_LETTERS = Counter(
    "fedstate_bus_dead_letters",
    "Values this process could not read and handed to the dead-letter stream, by source and cause",
    ["source", "cause"],
)
