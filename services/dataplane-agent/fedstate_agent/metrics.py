"""Each agent's view of its own cluster's members, on its ``/metrics``: what a Prometheus that reaches only this
member cluster can see. The federation's ``fedstate_instance_*`` series add what no single cluster knows
(silent agents as DOWN, quorum across clusters, lag); this is the same count by state, from the agent's own
reports in memory, rendered at scrape time. Labels are bounded: no member id, no uid."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from prometheus_client import Counter as PrometheusCounter
from prometheus_client import Gauge

from fedstate.bus.cache import KVCache
from fedstate.bus.names import parse_dataplane_key
from fedstate.bus.store import Entry
from fedstate.models.dataplane import DataPlaneStatus
from fedstate.scrape import Family, Sample, registered

MEMBERS = Family(
    "fedstate_agent_members",
    "Members in this cluster by the state its agent last reported",
    ("tenant", "namespace", "multicloudmongodb", "cluster", "state"),
)
COLLECTOR = registered((MEMBERS,))
PASSES_FROM_MEMORY = PrometheusCounter(
    "fedstate_agent_passes_from_memory",
    "Safety passes answered from memory: a steady instance whose inputs (spec, report, objects, members) had not "
    "moved since a pass that read only memory and changed nothing",
)
# What the agent costs its members: each client is two connections (pymongo's monitor's and its pool's) and a
# login, opened while a set changes and closed once it is steady.
MONGO_CLIENTS = Gauge("fedstate_agent_mongo_clients", "pymongo clients open to members, over the clusters served")
MONGO_CLIENTS_OPENED = PrometheusCounter(
    "fedstate_agent_mongo_clients_opened", "pymongo clients opened to members, by the user they log in as", ["user"]
)
_REPORTS: list[KVCache[DataPlaneStatus]] = []  # one per member cluster served by this process


def member_samples(reports: Iterable[Entry[DataPlaneStatus]]) -> Iterator[Sample]:
    """Members by state, per instance and cluster, from the agents' reports."""
    for entry in reports:
        cluster, instance = parse_dataplane_key(entry.key)
        labels = {"tenant": instance.tenant, "namespace": instance.namespace, "multicloudmongodb": instance.name}
        for state, count in sorted(Counter(member.role for member in entry.value.members).items()):
            yield MEMBERS.sample(count, **labels, cluster=cluster, state=state)


def follow(reports: KVCache[DataPlaneStatus]) -> None:
    """Expose the members of the cluster whose reports ``reports`` holds (with any others of this process)."""
    _REPORTS.append(reports)
    COLLECTOR.serve(
        lambda: member_samples(entry for cache in _REPORTS for entry in cache),
        lambda: tuple(cache.changes for cache in _REPORTS),
    )
