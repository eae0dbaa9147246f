"""Connecting to NATS and creating the buckets and streams of the bus (idempotently)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType, StreamConfig

from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.dataplane import DataPlaneSpec, DataPlaneStatus, RetainedVolumes
from fedstate.models.lease import Lease
from fedstate.models.placement import Placement

from .names import EVENTS_STREAM, Bucket, events_subject_all
from .objects import LocalObject, StatusRecord, StoredObject
from .store import Reconnects, TypedKV

log = logging.getLogger(__name__)

BUCKET_HISTORY = 5
# A lease's past renewals say nothing: keep only the latest.
LEASE_HISTORY = 1
EVENTS_MAX_AGE_SECONDS = 7 * 24 * 3600
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

    async def close(self) -> None:
        if not self.nc.is_closed:
            await self.nc.drain()


async def ensure_layout(js: JetStreamContext) -> None:
    for bucket in Bucket:
        await js.create_key_value(
            KeyValueConfig(
                bucket=str(bucket),
                history=LEASE_HISTORY if bucket is Bucket.LEASES else BUCKET_HISTORY,
                direct=True,
                storage=StorageType.FILE,
            )
        )
    config = StreamConfig(
        name=EVENTS_STREAM,
        subjects=[events_subject_all()],
        max_age=EVENTS_MAX_AGE_SECONDS,
        storage=StorageType.FILE,
    )
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError:
        await js.update_stream(config)


async def connect(url: str, *, name: str, create_layout: bool = True) -> Bus:
    reconnects = Reconnects()
    nc = await nats.connect(
        url, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5, reconnected_cb=reconnects.fire
    )
    version = nc.connected_server_version
    check_server_version(f"{version.major}.{version.minor}.{version.patch}")
    js = nc.jetstream()
    if create_layout:
        await ensure_layout(js)
    return Bus(
        nc=nc,
        js=js,
        spec=TypedKV(js, Bucket.SPEC, StoredObject, reconnects),
        clusters=TypedKV(js, Bucket.CLUSTERS, ClusterSnapshot, reconnects),
        placements=TypedKV(js, Bucket.PLACEMENTS, Placement, reconnects),
        dataplane=TypedKV(js, Bucket.DATAPLANE, DataPlaneSpec, reconnects),
        observed=TypedKV(js, Bucket.OBSERVED, DataPlaneStatus, reconnects),
        status=TypedKV(js, Bucket.STATUS, StatusRecord, reconnects),
        retained=TypedKV(js, Bucket.RETAINED, RetainedVolumes, reconnects),
        leases=TypedKV(js, Bucket.LEASES, Lease, reconnects),
        local=TypedKV(js, Bucket.LOCAL_OBJECTS, LocalObject, reconnects),
    )
