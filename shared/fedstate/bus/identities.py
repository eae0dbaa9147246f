"""Who may say what on the bus: one NATS user per service and per member cluster's service, from one template.

``permissions(identity)`` is a pure function from an identity to the exact subjects that user may publish and
subscribe to; the server configuration (``credentials.py``), the deploy manifests and docs/security.md are all made
from it. A member cluster's agent and collector each have a user of their own, whose every KV grant starts with
their cluster's token: reading another cluster's keys, writing ``fs-spec`` or asking the intake is refused by
the NATS server itself. Only the admin user holds ``$JS.>`` (it creates the buckets and streams: services only use
them). Every user receives its replies under an inbox prefix of its own, so nobody else may subscribe to them.

With a JetStream domain (member clusters behind NATS leaf nodes, decision 0022) every JetStream API subject and
every KV write is granted under ``$JS.<domain>.API``, the only form that crosses a leaf node; a member cluster's
leaf node has a user of its own, whose link to the hub carries what that cluster's agent and collector may do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from fedstate.models.base import check_dns_label

from .names import (
    EVENTS_STREAM,
    Bucket,
    Elected,
    Kind,
    LeaseHolder,
    consumer_create_subject,
    consumer_create_unfiltered_subject,
    consumer_subject,
    dead_letter_events_of,
    dead_letters_of,
    direct_get_subject,
    events_subject_all,
    flow_control_subject,
    inbox_prefix,
    inbox_subject,
    intake_subject,
    intake_subject_all,
    kv_put_subject,
    kv_stream,
    kv_subject,
    leader_filter,
    lease_filter,
    lease_key,
    spec_filter,
)

EVERY_KEY = ">"
ANY_NAME = "*"


class Component(StrEnum):
    ADMIN = "admin"
    FEDERATION = "federation"
    SCHEDULER = "scheduler"
    GATEWAY = "gateway"
    AGENT = "agent"
    COLLECTOR = "collector"
    # Bridges a control-plane cluster's custom resources to the intake (services/crd-bridge).
    CRD_BRIDGE = "crd-bridge"
    # A tenant's platform that submits straight on the bus (docs/platform-api.md): it may ask its tenant's intake,
    # nothing else.
    PLATFORM = "platform"
    # A member cluster's NATS leaf node: the hub holds its link to what the cluster's agent and collector may do
    # together; the leaf holds each of them, its local users, to its own permissions.
    LEAF = "leaf"


MEMBER_COMPONENTS = (Component.COLLECTOR, Component.AGENT)
# Every user that belongs to one member cluster.
CLUSTER_COMPONENTS = (*MEMBER_COMPONENTS, Component.LEAF)
CONTROL_PLANE_COMPONENTS = (Component.FEDERATION, Component.SCHEDULER, Component.GATEWAY, Component.CRD_BRIDGE)


@dataclass(frozen=True)
class Identity:
    """A bus user: a control-plane service, or one member cluster's agent or collector (serving one tenant)."""

    component: Component
    cluster: str | None = None
    tenant: str = "default"

    def __post_init__(self) -> None:
        if (self.component in CLUSTER_COMPONENTS) != (self.cluster is not None):
            raise ValueError(f"{self.component}: a cluster is required for a member cluster's service, and only there")
        # Each becomes one token of the user's subjects: a "*" or a "a.b" would grant other clusters' keys.
        check_dns_label(self.tenant)
        if self.cluster is not None:
            check_dns_label(self.cluster)

    @property
    def user(self) -> str:
        """``scheduler``, ``agent-member-1``: also the name of its process in a local stack; ``platform-<tenant>``."""
        if self.component is Component.PLATFORM:
            return f"{self.component}-{self.tenant}"
        return f"{self.component}-{self.cluster}" if self.cluster else str(self.component)

    @property
    def inbox_prefix(self) -> str:
        return inbox_prefix(self.user)


def every_identity(
    clusters: Iterable[str], tenant: str = "default", platform_tenants: Iterable[str] = ()
) -> tuple[Identity, ...]:
    """The admin, each control-plane service, the agent, collector and leaf node of each member cluster, and the
    platform user of each of ``platform_tenants``."""
    central = (Identity(Component.ADMIN), *(Identity(component) for component in CONTROL_PLANE_COMPONENTS))
    members = (Identity(component, cluster, tenant) for cluster in clusters for component in CLUSTER_COMPONENTS)
    platforms = (Identity(Component.PLATFORM, tenant=platform) for platform in platform_tenants)
    return (*central, *members, *platforms)


@dataclass(frozen=True)
class Grant:
    """What a user may do with the keys of one bucket that match ``keys`` (a KV filter)."""

    bucket: Bucket
    keys: str
    write: bool = False


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    # May answer the requests it receives (the intake replies to requesters' inboxes) and nothing else of theirs.
    allow_responses: bool = False
    # A member cluster may not delete consumers (it could delete anyone's): its own vanish once unused.
    deletes_consumers: bool = False


def grants(identity: Identity) -> tuple[Grant, ...]:
    """The buckets and keys each identity reads and writes (docs/bus-contract.md, "Buckets")."""
    cluster, tenant = identity.cluster or "", identity.tenant
    match identity.component:
        case Component.AGENT:
            return (
                Grant(Bucket.DATAPLANE, f"{cluster}.>"),
                Grant(Bucket.OBSERVED, f"{cluster}.>", write=True),
                Grant(Bucket.LOCAL_OBJECTS, f"{cluster}.>", write=True),
                Grant(Bucket.LEASES, lease_key(LeaseHolder.AGENT, cluster), write=True),
                # Single-cluster MongoDB objects and the ConfigMaps they name: their keys carry no cluster, so
                # every agent of the tenant reads them all, and writes their status (docs/security.md).
                Grant(Bucket.SPEC, spec_filter(tenant, Kind.MONGODB)),
                Grant(Bucket.SPEC, spec_filter(tenant, Kind.CONFIGMAP)),
                Grant(Bucket.STATUS, spec_filter(tenant, Kind.MONGODB), write=True),
            )
        case Component.COLLECTOR:
            return (
                Grant(Bucket.CLUSTERS, cluster, write=True),
                Grant(Bucket.LEASES, lease_key(LeaseHolder.COLLECTOR, cluster), write=True),
            )
        case Component.SCHEDULER:
            return (
                Grant(Bucket.SPEC, EVERY_KEY),
                Grant(Bucket.CLUSTERS, EVERY_KEY),
                Grant(Bucket.LEASES, lease_filter(LeaseHolder.COLLECTOR)),
                Grant(Bucket.LEASES, lease_filter(LeaseHolder.AGENT)),  # a cluster's heartbeat (decision 0023)
                Grant(Bucket.RETAINED, EVERY_KEY),
                Grant(Bucket.STATUS, EVERY_KEY),  # where the PRIMARY is, before a scale-down empties a cluster
                Grant(Bucket.PLACEMENTS, EVERY_KEY, write=True),
                Grant(Bucket.RESERVATIONS, EVERY_KEY, write=True),
                Grant(Bucket.LEASES, leader_filter(Elected.SCHEDULER), write=True),
            )
        case Component.FEDERATION:
            written = (Bucket.SPEC, Bucket.DATAPLANE, Bucket.STATUS, Bucket.RETAINED)
            return (
                *(Grant(bucket, EVERY_KEY, write=True) for bucket in written),
                Grant(Bucket.PLACEMENTS, EVERY_KEY),
                Grant(Bucket.OBSERVED, EVERY_KEY),
                Grant(Bucket.CLUSTERS, EVERY_KEY),
                Grant(Bucket.LEASES, lease_filter(LeaseHolder.AGENT)),
                Grant(Bucket.LEASES, leader_filter(Elected.ORCHESTRATOR), write=True),
            )
        case Component.GATEWAY:
            read = (Bucket.SPEC, Bucket.STATUS, Bucket.PLACEMENTS, Bucket.DATAPLANE, Bucket.OBSERVED, Bucket.CLUSTERS)
            return (
                *(Grant(bucket, EVERY_KEY) for bucket in read),
                Grant(Bucket.LOCAL_OBJECTS, EVERY_KEY),
                Grant(Bucket.LEASES, lease_filter(LeaseHolder.COLLECTOR)),
                Grant(Bucket.LEASES, lease_filter(LeaseHolder.AGENT)),
            )
        case Component.CRD_BRIDGE:
            # Its tenant's two bridged kinds only: what the federation holds of each, and their status.
            bridged = (Kind.MULTICLOUD_MONGODB, Kind.MONGODB)
            return tuple(
                Grant(bucket, spec_filter(tenant, kind)) for bucket in (Bucket.SPEC, Bucket.STATUS) for kind in bridged
            )
        case Component.ADMIN | Component.PLATFORM | Component.LEAF:
            return ()


def permissions(identity: Identity, domain: str | None = None) -> Permissions:
    """The exact subjects ``identity`` may publish and subscribe to, its JetStream requests and KV writes under
    ``domain``'s API when there is one."""
    if identity.component is Component.ADMIN:
        return Permissions(publish=(EVERY_KEY,), subscribe=(EVERY_KEY,), deletes_consumers=True)
    if identity.component is Component.PLATFORM:
        # Its tenant's intake only: the subject is the tenant the intake stores under, so it reaches no other.
        return Permissions(
            publish=(intake_subject(identity.tenant),), subscribe=(inbox_subject(identity.inbox_prefix),)
        )
    if identity.component is Component.LEAF:
        return _leaf_permissions(identity, domain)
    granted = grants(identity)
    central = identity.component in CONTROL_PLANE_COMPONENTS
    publish = [subject for grant in granted for subject in _grant_subjects(grant, domain)]
    if central:
        # Its own consumers' names are not known in advance; a control-plane service is trusted with them.
        publish += sorted({consumer_subject("DELETE", kv_stream(g.bucket), ANY_NAME, domain) for g in granted})
    publish += _bus_subjects(identity.component, domain)
    publish += _intake_of(identity)
    # The values it could not read, and the events announcing them, under its own name only.
    publish.append(dead_letters_of(identity.user))
    if events_subject_all() not in publish:
        publish.append(dead_letter_events_of(identity.user))
    return Permissions(
        publish=tuple(dict.fromkeys(publish)),
        subscribe=(inbox_subject(identity.inbox_prefix), *_subscribed(identity.component)),
        allow_responses=identity.component is Component.FEDERATION,
        deletes_consumers=central,
    )


def _leaf_permissions(leaf: Identity, domain: str | None) -> Permissions:
    """What the cluster's agent and collector may do, together: a leaf node forwards their requests and brings
    back their replies, and holds each to its own permissions itself."""
    served = [permissions(Identity(component, leaf.cluster, leaf.tenant), domain) for component in MEMBER_COMPONENTS]
    return Permissions(
        publish=tuple(dict.fromkeys(s for p in served for s in p.publish)),
        subscribe=tuple(dict.fromkeys(s for p in served for s in p.subscribe)),
    )


def _grant_subjects(grant: Grant, domain: str | None) -> tuple[str, ...]:
    stream = kv_stream(grant.bucket)
    reads = (
        direct_get_subject(grant.bucket, grant.keys, domain),
        consumer_create_subject(stream, ANY_NAME, kv_subject(grant.bucket, grant.keys), domain),
        flow_control_subject(stream),
    )
    return (*reads, kv_put_subject(grant.bucket, grant.keys, domain)) if grant.write else reads


def _bus_subjects(component: Component, domain: str | None) -> tuple[str, ...]:
    """What a component publishes besides KV: events, intake requests, and the gateway's reads of events."""
    match component:
        case Component.GATEWAY:
            pull = (
                consumer_create_unfiltered_subject(EVENTS_STREAM, domain),
                consumer_create_subject(EVENTS_STREAM, ANY_NAME, EVERY_KEY, domain),
                consumer_subject("MSG.NEXT", EVENTS_STREAM, ANY_NAME, domain),
                consumer_subject("DELETE", EVENTS_STREAM, ANY_NAME, domain),
            )
            return (intake_subject_all(), *pull)
        case Component.FEDERATION | Component.SCHEDULER | Component.AGENT:
            return (events_subject_all(),)
        case _:
            return ()


def _intake_of(identity: Identity) -> tuple[str, ...]:
    """The crd-bridge asks the intake of its own tenant only (the gateway, of any: ``_bus_subjects``)."""
    return (intake_subject(identity.tenant),) if identity.component is Component.CRD_BRIDGE else ()


def _subscribed(component: Component) -> tuple[str, ...]:
    return (intake_subject_all(),) if component is Component.FEDERATION else ()
