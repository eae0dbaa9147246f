"""Render the per-cluster ``DataPlaneSpec`` of a MultiCloudMongoDB."""

from __future__ import annotations

from fedstate.bus.names import InstanceKey
from fedstate.models.dataplane import Credentials, DataPlaneSpec, InstanceRef, revision_of
from fedstate.models.multicloud import MultiCloudMongoDB, RegistryCredentials
from fedstate.replset.lifecycle import ClusterPlan


def credentials_for(obj: MultiCloudMongoDB, held: Credentials) -> Credentials:
    """The instance's credentials: those its data holds (``held``: opened from the federation's sealed copy, or
    generated at random for a new instance), with root's password from auth.rootPasswd when the user gave one."""
    root = obj.spec.auth.root_passwd or held.root_password
    return held.model_copy(update={"root_password": root, "previous_root_password": None, "older_root_passwords": []})


def rotate(previous: Credentials | None, fresh: Credentials) -> Credentials:
    """Carry the root passwords being replaced, so the agent can log in with whichever the members still
    hold and rotate root, however many changes came before it did."""
    if previous is None:
        return fresh
    return fresh.with_earlier_root_passwords([previous.root_password, *previous.earlier_root_passwords()])


def pull_secret_name(obj: MultiCloudMongoDB) -> str | None:
    secret = obj.spec.image_setting.image_pull_secret
    if isinstance(secret, RegistryCredentials):
        return f"{obj.metadata.name}-pull"
    return secret


def registry_credentials(obj: MultiCloudMongoDB) -> RegistryCredentials | None:
    secret = obj.spec.image_setting.image_pull_secret
    return secret if isinstance(secret, RegistryCredentials) else None


def render(
    key: InstanceKey,
    obj: MultiCloudMongoDB,
    plan: ClusterPlan,
    credentials: Credentials,
    config_content: dict[str, str] | None,
    volume_uid: str = "",
) -> DataPlaneSpec:
    spec = obj.spec
    dataplane = DataPlaneSpec(
        instance=InstanceRef(tenant=key.tenant, namespace=key.namespace, name=key.name, uid=obj.metadata.uid or ""),
        generation=obj.metadata.generation,
        repl_set_name=key.name,
        members=list(plan.members),
        image=spec.image_setting.image,
        image_pull_policy=spec.image_setting.image_pull_policy,
        image_pull_secret=pull_secret_name(obj),
        registry_credentials=registry_credentials(obj),
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
        replica_set_config=plan.rs_config,
        initiator=plan.initiator,
        force_reconfig_on=plan.force_on,
        fenced=list(plan.fenced),
        volume_uid=volume_uid or obj.metadata.uid or "",
        restart=list(plan.restart),
        step_down=list(plan.step_down),
        feature_compatibility_version=plan.fcv,
        next_ordinal=plan.next_ordinal,
        users_created=plan.users_created,
    )
    return dataplane.model_copy(update={"revision": revision_of(dataplane)})
