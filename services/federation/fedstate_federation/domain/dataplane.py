"""Render the per-cluster ``DataPlaneSpec`` of a MultiCloudMongoDB."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from fedstate.bus.names import InstanceKey
from fedstate.models.dataplane import Credentials, DataPlaneSpec, InstanceRef, MemberSpec
from fedstate.models.multicloud import MultiCloudMongoDB, RegistryCredentials
from fedstate.models.replicaset import RsConfig

from .members import member_name


def derive_secret(control_plane_secret: str, uid: str, purpose: str, length: int = 24) -> str:
    """A stable per-instance secret: the same on every pass and cluster, never stored in clear by us."""
    digest = hmac.new(control_plane_secret.encode(), f"{uid}/{purpose}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:length]


def credentials_for(obj: MultiCloudMongoDB, control_plane_secret: str) -> Credentials:
    uid = obj.metadata.uid or obj.metadata.name
    return Credentials(
        key_file=derive_secret(control_plane_secret, uid, "keyfile", 64),
        root_password=obj.spec.auth.root_passwd or derive_secret(control_plane_secret, uid, "root"),
        cluster_admin_password=derive_secret(control_plane_secret, uid, "clusterAdmin"),
        cluster_monitor_password=derive_secret(control_plane_secret, uid, "clusterMonitor"),
    )


def pull_secret_name(obj: MultiCloudMongoDB) -> str | None:
    secret = obj.spec.image_setting.image_pull_secret
    if isinstance(secret, RegistryCredentials):
        return f"{obj.metadata.name}-pull"
    return secret


@dataclass(frozen=True)
class ClusterPlan:
    cluster: str
    ordinals: list[int]
    initiator: bool
    rs_config: RsConfig | None


def revision_of(spec: DataPlaneSpec) -> str:
    """Hash of everything that shapes a member's pod: a change rolls the members of that cluster."""
    shaping = spec.model_dump(
        mode="json",
        include={
            "image",
            "image_pull_policy",
            "image_pull_secret",
            "resources",
            "export",
            "storage",
            "node_selector",
            "tolerations",
            "affinity",
            "config_set",
            "config_content",
            "repl_set_name",
        },
    )
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:10]
    return f"{spec.instance.name}-{digest}"


def render(
    key: InstanceKey,
    obj: MultiCloudMongoDB,
    plan: ClusterPlan,
    credentials: Credentials,
    config_content: dict[str, str] | None,
) -> DataPlaneSpec:
    spec = obj.spec
    dataplane = DataPlaneSpec(
        instance=InstanceRef(tenant=key.tenant, namespace=key.namespace, name=key.name, uid=obj.metadata.uid or ""),
        generation=obj.metadata.generation,
        repl_set_name=key.name,
        members=[MemberSpec(ordinal=o, name=member_name(key.name, o)) for o in plan.ordinals],
        image=spec.image_setting.image,
        image_pull_policy=spec.image_setting.image_pull_policy,
        image_pull_secret=pull_secret_name(obj),
        resources=spec.resource,
        export=spec.export,
        storage=spec.storage,
        node_selector=spec.spread_constraints.node_select,
        tolerations=spec.scheduler.tolerations,
        affinity=spec.scheduler.affinity,
        config_ref=spec.config.config_ref,
        config_set=spec.config.config_set,
        config_content=config_content,
        credentials=credentials,
        replica_set_config=plan.rs_config if plan.initiator else None,
        initiator=plan.initiator,
    )
    return dataplane.model_copy(update={"revision": revision_of(dataplane)})
