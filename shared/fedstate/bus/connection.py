"""Connecting to NATS as a bus user, and the admin's bootstrap: creating the buckets and streams (idempotently).

A service connecting with a user (``identity`` and a credentials directory) only uses the buckets and streams:
its permissions allow nothing else. Without a user (an open NATS server, as in most tests) it creates them too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType, StreamConfig

from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.dataplane import DataPlaneSpec, DataPlaneStatus, RetainedVolumes
from fedstate.models.lease import LeaderLease, Lease
from fedstate.models.placement import Placement
from fedstate.models.reservation import ClusterReservations

from .access import OPEN, BusAccess, nats_servers
from .deadletters import DeadLetters
from .identities import Component, Identity, permissions
from .membership import ClusterMembership
from .names import (
    DEAD_LETTERS_STREAM,
    EVENTS_STREAM,
    MAX_DEAD_LETTER_BYTES,
    Bucket,
    dead_letters_all,
    events_subject_all,
)
from .objects import LocalObject, StatusRecord, StoredObject
from .ordered import IDLE_HEARTBEAT_SECONDS, MEMBER_IDLE_HEARTBEAT_SECONDS, ConsumerOwner
from .store import Fence, M, Reconnects, TypedKV

log = logging.getLogger(__name__)

BUCKET_HISTORY = 5
# A lease's past renewals say nothing: keep only the latest.
LEASE_HISTORY = 1
EVENTS_MAX_AGE_SECONDS = 7 * 24 * 3600
DEAD_LETTERS_MAX_BYTES = 64 * 1024 * 1024
MIN_SERVER_VERSION = (2, 10, 0)


class ServerTooOld(RuntimeError):
    pass


def check_server_version(version: str) -> None:
    """Refuse servers before 2.10: 2.9 silently ignores consumer ``filter_subjects``."""
    numbers = tuple(int(part) for part in version.split("-")[0].split(".")[:3])
    if numbers < MIN_SERVER_VERSION:
        raise ServerTooOld(
            f"nats-server {version} is too old: fedstate needs 2.10 or newer "
            "(2.9 silently ignores consumer filter_subjects); use the nats-server from the project's venv"
        )


@dataclass
class Bus:
    """A connection plus typed handles on every bucket."""

    nc: Client
    js: JetStreamContext
    spec: TypedKV[StoredObject]
    clusters: TypedKV[ClusterSnapshot]
    placements: TypedKV[Placement]
    dataplane: TypedKV[DataPlaneSpec]
    observed: TypedKV[DataPlaneStatus]
    status: TypedKV[StatusRecord]
    retained: TypedKV[RetainedVolumes]
    leases: TypedKV[Lease]
    local: TypedKV[LocalObject]
    reservations: TypedKV[ClusterReservations]
    # The central services' leader leases, in the same bucket (``leader.<service>`` keys).
    leaders: TypedKV[LeaderLease]

    @property
    def dead_letters(self) -> DeadLetters:
        """Where this connection keeps what it could not read (one budget of events for all its handles)."""
        return self.spec.dead_letters

    def fenced(self, fence: Fence) -> Bus:
        """The same connection whose every KV write first asks ``fence``: what a leader's work writes with."""
        handles: dict[str, Any] = {
            f.name: value.fenced(fence) for f in fields(self) if isinstance(value := getattr(self, f.name), TypedKV)
        }
        return replace(self, **handles)

    async def close(self) -> None:
        if not self.nc.is_closed:
            await self.nc.drain()


async def ensure_layout(js: JetStreamContext, replicas: int = 1) -> None:
    """Every bucket and stream, each kept by ``replicas`` servers (3 on a three-server cluster: R3)."""
    for bucket in Bucket:
        await js.create_key_value(
            KeyValueConfig(
                bucket=str(bucket),
                history=LEASE_HISTORY if bucket is Bucket.LEASES else BUCKET_HISTORY,
                direct=True,
                storage=StorageType.FILE,
                replicas=replicas,
            )
        )
    events = StreamConfig(
        name=EVENTS_STREAM,
        subjects=[events_subject_all()],
        max_age=EVENTS_MAX_AGE_SECONDS,
        storage=StorageType.FILE,
        num_replicas=replicas,
    )
    dead_letters = StreamConfig(
        name=DEAD_LETTERS_STREAM,
        subjects=[dead_letters_all()],
        max_age=EVENTS_MAX_AGE_SECONDS,
        max_bytes=DEAD_LETTERS_MAX_BYTES,  # the oldest go first: a flood of bad values cannot fill the disk
        max_msg_size=MAX_DEAD_LETTER_BYTES,
        storage=StorageType.FILE,
        num_replicas=replicas,
    )
    for config in (events, dead_letters):
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await js.update_stream(config)


async def connect(
    url: str | Sequence[str],
    *,
    name: str,
    identity: Identity | None = None,
    access: BusAccess = OPEN,
    create_layout: bool | None = None,
    replicas: int = 1,
) -> Bus:
    """Connect as ``identity`` (with ``access.credentials``) or as nobody; ``create_layout`` defaults to creating
    the buckets and streams (with ``replicas``) only when connecting as nobody, since a user may not. ``url`` may
    name every server of a cluster (a list, or comma-separated): the client picks one and moves to another when
    it goes away."""
    authenticated = identity is not None and access.credentials is not None
    reconnects = Reconnects()
    nc = await nats.connect(
        nats_servers(url),
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        reconnected_cb=reconnects.fire,
        **access.options(identity),
    )
    version = nc.connected_server_version
    check_server_version(f"{version.major}.{version.minor}.{version.patch}")
    ClusterMembership(reconnects.fire).follow(nc)
    js = nc.jetstream(domain=access.jetstream_domain)
    if not authenticated if create_layout is None else create_layout:
        await ensure_layout(js, replicas)
    member_cluster = identity is not None and identity.cluster is not None
    owner = ConsumerOwner(
        identity.user if identity is not None else name,
        deletes=permissions(identity).deletes_consumers if authenticated and identity is not None else True,
        idle_heartbeat_seconds=MEMBER_IDLE_HEARTBEAT_SECONDS if member_cluster else IDLE_HEARTBEAT_SECONDS,
    )

    dead_letters = DeadLetters(js, owner.name)

    def typed(bucket: Bucket, model: type[M]) -> TypedKV[M]:
        return TypedKV(js, bucket, model, reconnects, owner, dead_letters=dead_letters, domain=access.jetstream_domain)

    return Bus(
        nc=nc,
        js=js,
        spec=typed(Bucket.SPEC, StoredObject),
        clusters=typed(Bucket.CLUSTERS, ClusterSnapshot),
        placements=typed(Bucket.PLACEMENTS, Placement),
        dataplane=typed(Bucket.DATAPLANE, DataPlaneSpec),
        observed=typed(Bucket.OBSERVED, DataPlaneStatus),
        status=typed(Bucket.STATUS, StatusRecord),
        retained=typed(Bucket.RETAINED, RetainedVolumes),
        leases=typed(Bucket.LEASES, Lease),
        local=typed(Bucket.LOCAL_OBJECTS, LocalObject),
        reservations=typed(Bucket.RESERVATIONS, ClusterReservations),
        leaders=typed(Bucket.LEASES, LeaderLease),
    )


async def bootstrap_layout(url: str | Sequence[str], access: BusAccess = OPEN, replicas: int = 1) -> None:
    """The admin's bootstrap: create (or update) every bucket and stream with ``replicas`` copies, as the admin
    user when ``access`` has credentials (``fedstate up``; in Kubernetes, the bootstrap Job of deploy/k8s)."""
    bus = await connect(
        url,
        name="fedstate-bootstrap",
        identity=Identity(Component.ADMIN),
        access=access,
        create_layout=True,
        replicas=replicas,
    )
    await bus.close()
