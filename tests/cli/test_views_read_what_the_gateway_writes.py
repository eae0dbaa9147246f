"""The CLI's views (``fedstate.api.views``) read the gateway's JSON as the gateway's models wrote it: every field
a view reads is a field of its model under the same wire name and reads the value the model held, and
``to_wire()`` of what the CLI prints is what the model prints (``-o json`` stays the same without pydantic)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from fedstate.api.views import (
    AssignmentView,
    CapacityView,
    EventView,
    Field,
    ListView,
    MemberClusterView,
    ObjectView,
    PlacementView,
    VerdictView,
    View,
)
from fedstate.api.wire import ClusterCapacity, ClusterView, EventList, KubeList, KubeObject
from fedstate.models.base import WireModel
from fedstate.models.cluster import ClusterHealth
from fedstate.models.events import Event
from fedstate.models.placement import ClusterAssignment, ClusterVerdict, Placement

WHEN = datetime(2026, 3, 1, 12, 0, 5, 250_000, tzinfo=UTC)
PAIRS: list[tuple[type[View], type[BaseModel]]] = [
    (ObjectView, KubeObject),
    (EventView, Event),
    (PlacementView, Placement),
    (AssignmentView, ClusterAssignment),
    (VerdictView, ClusterVerdict),
    (MemberClusterView, ClusterView),
    (CapacityView, ClusterCapacity),
]
MCM = KubeObject(
    api_version="middleware.fedstate.io/v1alpha1",
    kind="MultiCloudMongoDB",
    metadata={"name": "a", "namespace": "default", "generation": 2},
    spec={"replicaset": 3},
    status={"state": "Health", "observedGeneration": 2},
)
CONFIGMAP = KubeObject(api_version="v1", kind="ConfigMap", metadata={"name": "c"}, data={"mongod.conf": "net: {}\n"})
EVENT = Event(instance="t/default/a", type="Warning", reason="Failover", message="m", component="federation", time=WHEN)
PLACEMENT = Placement(
    spec_generation=4,
    mode="Weighted",
    clusters=[
        ClusterAssignment(cluster="m1", replicas=2, voters=2),
        ClusterAssignment(cluster="m2", replicas=1, voters=0, arbiter=True),
    ],
    summary="2/3 clusters are available",
    verdicts=[
        ClusterVerdict(cluster="m1", eligible=True, score=2.5),
        ClusterVerdict(cluster="m3", eligible=False, reasons=["down"]),
    ],
    warnings=["QuorumAtRisk"],
)
CLUSTER = ClusterView(
    name="m1",
    vip="127.0.1.1",
    health=ClusterHealth.UNREACHABLE,
    heartbeat_age_seconds=61.5,
    observed_at=WHEN,
    region="eu",
    zone="eu-1a",
    provider="sim",
    labels={"tier": "gold"},
    node_count=3,
    ready_nodes=2,
    capacity=ClusterCapacity(allocatable_cpu_millis=8000, free_cpu_millis=500, free_memory_bytes=1024**3),
    storage_classes=["standard"],
    default_storage_class=None,
    agent_version="1.2.3",
)
SAMPLES: list[tuple[type[View], WireModel]] = [
    (ObjectView, MCM),
    (ObjectView, CONFIGMAP),
    (EventView, EVENT),
    (PlacementView, PLACEMENT),
    (MemberClusterView, CLUSTER),
]


def fields(view: type[View]) -> dict[str, Field[Any]]:
    return {name: f for klass in view.__mro__ for name, f in vars(klass).items() if isinstance(f, Field)}


def sent(model: BaseModel) -> Any:
    """The body as it crosses HTTP: the model dumped as FastAPI dumps it (nulls kept), through JSON."""
    return json.loads(json.dumps(model.model_dump(mode="json", by_alias=True)))


def plain(value: Any) -> Any:
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value.to_wire() if isinstance(value, View | BaseModel) else value


@pytest.mark.parametrize(("view", "model"), PAIRS, ids=lambda k: k.__name__)
def test_every_field_a_view_reads_is_a_field_of_its_model(view: type[View], model: type[BaseModel]) -> None:
    declared = {name: info.alias for name, info in model.model_fields.items()}
    assert {name: declared.get(name) for name in fields(view)} == {name: f.key for name, f in fields(view).items()}


@pytest.mark.parametrize(("view", "model"), SAMPLES, ids=["mcm", "configmap", "event", "placement", "cluster"])
def test_a_view_reads_what_the_model_held(view: type[View], model: WireModel) -> None:
    read = view(sent(model))
    assert {n: plain(getattr(model, n)) for n in fields(view)} == {n: plain(getattr(read, n)) for n in fields(view)}


@pytest.mark.parametrize("model", [MCM, CONFIGMAP, EVENT, CLUSTER], ids=["mcm", "configmap", "event", "cluster"])
def test_what_the_cli_prints_is_what_the_model_prints(model: WireModel) -> None:
    """``get -o json|yaml``, ``events -o json``, ``clusters -o json``: a null field is left out, as before."""
    assert model.to_wire() == View(sent(model)).to_wire()


def test_lists_print_what_the_models_print_with_the_items_kept() -> None:
    objects = KubeList(
        api_version="middleware.fedstate.io/v1alpha1", kind="MultiCloudMongoDBList", items=[MCM, CONFIGMAP]
    )
    listed = ListView(ObjectView, sent(objects))
    assert objects.to_wire() == listed.to_wire()
    listed.items = listed.items[1:]
    assert [CONFIGMAP.to_wire()] == listed.to_wire()["items"]
    assert EventList(items=[EVENT]).to_wire() == ListView(EventView, sent(EventList(items=[EVENT]))).to_wire()
