"""``apply``, ``get`` and ``describe`` print what kubectl would: created/unchanged lines, tables, whole objects."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from served_gateway import ServedGateway

from fedstate.bus import events
from fedstate.bus.names import InstanceKey, Kind
from fedstate.bus.objects import StatusRecord
from fedstate.models.base import Condition
from fedstate.models.multicloud import ClusterResult, InstanceState, MultiCloudMongoDBStatus
from fedstate.models.placement import ClusterAssignment, ClusterVerdict, Placement

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "multicloudmongodb-sample.yaml"


def manifest(name: str, replicas: int = 5) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "middleware.fedstate.io/v1alpha1",
            "kind": "MultiCloudMongoDB",
            "metadata": {"name": name},
            "spec": {"replicaset": replicas},
        }
    )


def healthy(served: ServedGateway, name: str) -> None:
    """Write the status the orchestrator would: 2+2+1 members, PRIMARY in member-2."""
    roles = [
        {"127.0.1.1:30001": "SECONDARY", "127.0.1.1:30002": "SECONDARY"},
        {"127.0.2.1:30003": "PRIMARY", "127.0.2.1:30004": "SECONDARY"},
        {"127.0.3.1:30005": "SECONDARY"},
    ]
    result = [
        ClusterResult(
            cluster=f"member-{i + 1}",
            applied=True,
            connect_addr_with_role=r,
            replicaset_spec=len(r),
            replicaset_status=len(r),
            state="Running",
        )
        for i, r in enumerate(roles)
    ]
    status = MultiCloudMongoDBStatus(
        state=InstanceState.HEALTH,
        external_addr=",".join(a for r in roles for a in r),
        result=result,
        observed_generation=1,
        conditions=[Condition(type="ServerReady", status="True", reason="ServerReady", message="ready")],
    )
    key = InstanceKey(served.tenant, "default", Kind.MULTICLOUD_MONGODB, name)
    served.run(served.bus.status.put(key.status_key, StatusRecord(kind="MultiCloudMongoDB", multicloud=status)))


def test_apply_reports_created_then_unchanged(cli: Callable[..., Any], tmp_path: Path) -> None:
    first = cli("apply", "-f", str(SAMPLE))
    second = cli("apply", "-f", str(SAMPLE))
    assert 0 == first.exit_code, first.output
    assert [
        "configmap/my-custome-configmap created",
        "multicloudmongodb.middleware.fedstate.io/multicloudmongodb-sample created",
    ] == first.stdout.splitlines()
    assert "configmap/my-custome-configmap unchanged" in second.stdout


def test_apply_reads_stdin_and_reports_configured(cli: Callable[..., Any], name: str) -> None:
    cli("apply", "-f", "-", input=manifest(name, 3))
    result = cli("apply", "-f", "-", input=manifest(name, 5))
    assert f"multicloudmongodb.middleware.fedstate.io/{name} configured\n" == result.stdout


def test_get_prints_a_kubectl_like_table(cli: Callable[..., Any], served: ServedGateway, name: str) -> None:
    cli("apply", "-f", "-", input=manifest(name))
    healthy(served, name)
    header, *rows = cli("get", "mcm").stdout.splitlines()
    assert ["NAME", "REPLICAS", "STATE", "PRIMARY", "AGE"] == header.split()
    row = next(r.split() for r in rows if r.startswith(name))
    assert [name, "5", "Health", "127.0.2.1:30003@member-2"] == row[:4]


def test_wide_output_adds_external_address_and_split(cli: Callable[..., Any], served: ServedGateway, name: str) -> None:
    cli("apply", "-f", "-", input=manifest(name))
    healthy(served, name)
    header, row = cli("get", "multicloudmongodb", name, "-o", "wide").stdout.splitlines()
    assert ["EXTERNAL-ADDR", "CLUSTERS"] == header.split()[-2:]
    assert "2+2+1" == row.split()[-1]
    assert row.split()[-2].startswith("127.0.1.1:30001,")


def test_json_output_is_the_whole_object_with_status(cli: Callable[..., Any], served: ServedGateway, name: str) -> None:
    cli("apply", "-f", "-", input=manifest(name))
    healthy(served, name)
    document = json.loads(cli("get", "mcm", name, "-o", "json").stdout)
    assert ("MultiCloudMongoDB", name, 5, "Health") == (
        document["kind"],
        document["metadata"]["name"],
        document["spec"]["replicaset"],
        document["status"]["state"],
    )
    assert {"uid", "generation", "creationTimestamp"} <= set(document["metadata"])


def test_yaml_output_of_a_list(cli: Callable[..., Any], name: str) -> None:
    cli("apply", "-f", "-", input=manifest(name))
    document = yaml.safe_load(cli("get", "mcm", "-o", "yaml").stdout)
    assert "MultiCloudMongoDBList" == document["kind"]
    assert name in [item["metadata"]["name"] for item in document["items"]]


def test_mongodb_objects_carry_their_cluster(cli: Callable[..., Any], name: str) -> None:
    body = yaml.safe_dump(
        {
            "apiVersion": "middleware.fedstate.io/v1alpha1",
            "kind": "MongoDB",
            "metadata": {"name": name},
            "spec": {"members": 1},
        }
    )
    assert 0 == cli("apply", "-f", "-", "--cluster", "member-2", input=body).exit_code
    header, *rows = cli("get", "mongodb", "--cluster", "member-2").stdout.splitlines()
    assert ["NAME", "CLUSTER", "MEMBERS", "STATE", "PRIMARY", "AGE"] == header.split()
    assert [name, "member-2", "1"] == next(r.split() for r in rows if r.startswith(name))[:3]


def test_describe_shows_members_placement_and_events(cli: Callable[..., Any], served: ServedGateway, name: str) -> None:
    cli("apply", "-f", "-", input=manifest(name))
    healthy(served, name)
    key = InstanceKey(served.tenant, "default", Kind.MULTICLOUD_MONGODB, name)
    placement = Placement(
        spec_generation=1,
        mode="Uniform",
        clusters=[ClusterAssignment(cluster=f"member-{i}", replicas=r, voters=r) for i, r in ((1, 2), (2, 2), (3, 1))],
        summary="3/4 clusters are available: 1 insufficient memory",
        verdicts=[ClusterVerdict(cluster="member-4", eligible=False, reasons=["insufficient memory"])],
    )
    served.run(served.bus.placements.put(key.placement_key, placement))
    served.run(events.emit(served.bus.js, key, reason="Scheduled", message="placed 2+2+1", component="scheduler"))
    text = " ".join(cli("describe", "mcm", name).stdout.split())
    for expected in (
        f"Name: {name}",
        "State: Health",
        "Primary: 127.0.2.1:30003@member-2",
        "member-2: Running, 2/2 members, applied",
        "127.0.2.1:30003 PRIMARY",
        "member-2: 2 members, 2 voting",
        "3/4 clusters are available: 1 insufficient memory",
        "- member-4 not eligible: insufficient memory",
        "placed 2+2+1",
        "ServerReady True ServerReady",
    ):
        assert expected in text, expected
