"""The permission template, checked without a server: what each identity's subjects can and cannot match."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fedstate.bus.identities import (
    CONTROL_PLANE_COMPONENTS,
    MEMBER_COMPONENTS,
    Component,
    Identity,
    every_identity,
    permissions,
)
from fedstate.bus.names import (
    Bucket,
    consumer_create_subject,
    consumer_create_unfiltered_subject,
    direct_get_subject,
    intake_subject,
    key_matches,
    kv_stream,
    kv_subject,
)

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


def may_publish(identity: Identity, subject: str) -> bool:
    return any(key_matches(pattern, subject) for pattern in permissions(identity).publish)


def others_subjects(cluster: str) -> list[str]:
    """What reading, watching or writing ``cluster``'s keys takes."""
    key = f"{cluster}.default.ns.rs0"
    subjects = []
    for bucket in (Bucket.DATAPLANE, Bucket.OBSERVED, Bucket.LOCAL_OBJECTS):
        subjects += [
            direct_get_subject(bucket, key),
            kv_subject(bucket, key),
            consumer_create_subject(kv_stream(bucket), "c", kv_subject(bucket, f"{cluster}.>")),
            consumer_create_subject(kv_stream(bucket), "c", kv_subject(bucket, ">")),
        ]
    subjects += [kv_subject(Bucket.CLUSTERS, cluster), kv_subject(Bucket.LEASES, f"dataplane-agent.{cluster}")]
    return [*subjects, kv_subject(Bucket.LEASES, f"collector.{cluster}")]


@given(labels, labels, st.sampled_from([Component.AGENT, Component.COLLECTOR]))
def test_a_member_clusters_user_matches_no_subject_of_another_cluster(
    mine: str, theirs: str, component: Component
) -> None:
    assume(mine != theirs)
    identity = Identity(component, mine)
    assert [] == [subject for subject in others_subjects(theirs) if may_publish(identity, subject)]


@given(labels)
def test_a_member_clusters_user_subscribes_only_to_its_own_inbox(cluster: str) -> None:
    for component in (Component.AGENT, Component.COLLECTOR):
        identity = Identity(component, cluster)
        assert (f"{identity.inbox_prefix}.>",) == permissions(identity).subscribe


def test_nobody_but_the_admin_holds_a_jetstream_wildcard_or_the_stream_api() -> None:
    """No ``>``, ``$JS.>``, ``$JS.API.>`` grant, and no request that names a key only in its body."""
    body_only = [
        f"$JS.API.STREAM.MSG.GET.{kv_stream(Bucket.SPEC)}",
        f"$JS.API.STREAM.DELETE.{kv_stream(Bucket.SPEC)}",
        f"$JS.API.STREAM.PURGE.{kv_stream(Bucket.DATAPLANE)}",
        consumer_create_unfiltered_subject(kv_stream(Bucket.DATAPLANE)),
        "$JS.API.STREAM.CREATE.anything",
    ]
    for identity in every_identity(["member-1"]):
        if identity.component is Component.ADMIN:
            continue
        wide = [p for p in permissions(identity).publish if p in (">", "$JS.>", "$JS.API.>") or p.endswith("API.>")]
        assert [] == wide, identity.user
        assert [] == [s for s in body_only if may_publish(identity, s)], identity.user


def test_only_the_federation_writes_fs_spec_and_only_the_gateway_and_the_bridge_ask_the_intake() -> None:
    spec_write = kv_subject(Bucket.SPEC, "default.ns.multicloudmongodb.rs0")
    everyone = [i for i in every_identity(["member-1"]) if i.component is not Component.ADMIN]
    assert [Component.FEDERATION] == [i.component for i in everyone if may_publish(i, spec_write)]
    askers = [i.component for i in everyone if may_publish(i, intake_subject("default"))]
    assert [Component.GATEWAY, Component.CRD_BRIDGE] == askers


@given(labels, labels)
def test_the_crd_bridge_asks_only_its_own_tenants_intake_and_reads_only_its_kinds(mine: str, theirs: str) -> None:
    assume(mine != theirs)
    bridge = Identity(Component.CRD_BRIDGE, tenant=mine)
    assert may_publish(bridge, intake_subject(mine)) and not may_publish(bridge, intake_subject(theirs))
    for bucket in (Bucket.SPEC, Bucket.STATUS):
        assert may_publish(bridge, direct_get_subject(bucket, f"{mine}.ns.multicloudmongodb.rs0"))
        assert not may_publish(bridge, direct_get_subject(bucket, f"{theirs}.ns.multicloudmongodb.rs0"))
        assert not may_publish(bridge, direct_get_subject(bucket, f"{mine}.ns.configmap.cfg"))
    assert not any(may_publish(bridge, kv_subject(b, f"{mine}.ns.mongodb.rs0")) for b in Bucket)


def test_only_the_scheduler_reads_or_writes_its_reservations() -> None:
    record = kv_subject(Bucket.RESERVATIONS, "member-1")
    read = direct_get_subject(Bucket.RESERVATIONS, "member-1")
    everyone = [i for i in every_identity(["member-1"]) if i.component is not Component.ADMIN]
    assert [Component.SCHEDULER] == [i.component for i in everyone if may_publish(i, record)]
    assert [Component.SCHEDULER] == [i.component for i in everyone if may_publish(i, read)]


def test_every_user_has_an_inbox_prefix_of_its_own() -> None:
    identities = [i for i in every_identity([f"member-{n}" for n in range(1, 12)]) if i.component != Component.ADMIN]
    prefixes = [i.inbox_prefix for i in identities]
    assert len(set(prefixes)) == len(prefixes)
    for identity in identities:
        others = [p for p in prefixes if p not in inboxes_it_carries(identity)]
        assert not any(key_matches(s, f"{p}.x") for s in permissions(identity).subscribe for p in others)


def inboxes_it_carries(identity: Identity) -> set[str]:
    """Its own; a leaf node's link brings its cluster's agent and collector their replies."""
    if identity.component is not Component.LEAF:
        return {identity.inbox_prefix}
    return {Identity(c, identity.cluster, identity.tenant).inbox_prefix for c in MEMBER_COMPONENTS}


@given(labels, labels)
def test_a_leaf_nodes_link_carries_exactly_what_its_clusters_services_may_do(cluster: str, tenant: str) -> None:
    served = [permissions(Identity(c, cluster, tenant), "hub") for c in MEMBER_COMPONENTS]
    leaf = permissions(Identity(Component.LEAF, cluster, tenant), "hub")
    assert set(leaf.publish) == {s for p in served for s in p.publish}
    assert set(leaf.subscribe) == {s for p in served for s in p.subscribe}
    assert not leaf.deletes_consumers and not leaf.allow_responses


def under_domain(subject: str, domain: str) -> str:
    """What docs/security.md says a domain does to a subject: JetStream's API and KV writes go under its API."""
    if subject.startswith("$JS.API."):
        return subject.replace("$JS.API.", f"$JS.{domain}.API.", 1)
    return f"$JS.{domain}.API.{subject}" if subject.startswith("$KV.") else subject


@pytest.mark.parametrize("identity", every_identity(["member-1"], platform_tenants=["t"]), ids=lambda i: i.user)
def test_a_domain_moves_exactly_the_jetstream_subjects_under_its_api(identity: Identity) -> None:
    plain, domained = permissions(identity), permissions(identity, "hub")
    assert [under_domain(s, "hub") for s in plain.publish] == list(domained.publish)
    assert plain.subscribe == domained.subscribe


def test_only_control_plane_services_may_delete_consumers() -> None:
    deleting = {i.component for i in every_identity(["member-1"]) if permissions(i).deletes_consumers}
    assert {Component.ADMIN, *CONTROL_PLANE_COMPONENTS} == deleting


@given(labels, labels)
def test_a_platform_user_asks_only_its_own_tenant_s_intake(mine: str, theirs: str) -> None:
    assume(mine != theirs)
    platform = Identity(Component.PLATFORM, tenant=mine)
    assert may_publish(platform, intake_subject(mine))
    assert not may_publish(platform, intake_subject(theirs))
    assert not any(subject.startswith(("$JS", "$KV")) for subject in permissions(platform).publish)
    assert permissions(platform).subscribe == (f"{platform.inbox_prefix}.>",)


def test_the_scheduler_reads_statuses_and_writes_none() -> None:
    """It asks where a set's PRIMARY is before a scale-down; only the orchestrator and agents write statuses."""
    scheduler = Identity(Component.SCHEDULER)
    key = "default.ns.multicloudmongodb.rs0"
    assert may_publish(scheduler, direct_get_subject(Bucket.STATUS, key))
    assert not may_publish(scheduler, kv_subject(Bucket.STATUS, key))
