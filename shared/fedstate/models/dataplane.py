"""What the orchestrator asks of one member cluster (``DataPlaneSpec``) and what its agent reports
back (``DataPlaneStatus``)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime
from typing import Any

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from .base import Condition, ResourceRequirements, WireModel
from .multicloud import ConfigEntry, ExportSpec, RegistryCredentials, StorageSpec
from .replicaset import OpTime, RsConfig
from .sealed import Sealed


class InstanceRef(WireModel):
    tenant: str
    namespace: str
    name: str
    uid: str = ""
    kind: str = "MultiCloudMongoDB"


class MemberSpec(WireModel):
    ordinal: int  # the member's replica-set _id, stable for the member's whole life
    name: str  # Kubernetes name of its Service and StatefulSet: <instance>-m<ordinal>
    arbiter: bool = False
    # Leaving the set: kept running until the replica-set config no longer lists it, then deleted.
    retiring: bool = False


def random_secret(length: int) -> str:
    """``length`` random characters of the standard base64 alphabet (valid in a mongod keyFile too)."""
    return base64.b64encode(secrets.token_bytes(length)).decode()[:length]


def random_password(length: int) -> str:
    """``length`` random characters of the URL-safe base64 alphabet: usable in a connection string as it is."""
    return base64.urlsafe_b64encode(secrets.token_bytes(length)).decode()[:length]


# Root password changes remembered until the agent has rotated: a few quick changes in a row still rotate.
MAX_EARLIER_ROOT_PASSWORDS = 4


class Credentials(WireModel):
    """Secret material the agent writes into the member cluster's ``<instance>-auth`` Secret."""

    key_file: str
    root_password: str
    cluster_admin_password: str
    cluster_monitor_password: str
    # The root password before the last change of auth.rootPasswd: the agent logs in with it once to
    # rotate root to ``root_password``. Never in status, events or logs.
    previous_root_password: str | None = None
    # Root passwords before that, newest first: changes that came faster than the agent rotated.
    older_root_passwords: list[str] = Field(default_factory=list)

    @classmethod
    def generate(cls) -> Credentials:
        """A new instance's: a random keyFile (64 base64 characters, as mongod wants) and passwords (24,
        URL-safe), each its own."""
        return cls(
            key_file=random_secret(64),
            root_password=random_password(24),
            cluster_admin_password=random_password(24),
            cluster_monitor_password=random_password(24),
        )

    def earlier_root_passwords(self) -> list[str]:
        """Every root password the members may still hold, newest first."""
        earlier = [self.previous_root_password] if self.previous_root_password else []
        return earlier + self.older_root_passwords

    def with_earlier_root_passwords(self, passwords: list[str]) -> Credentials:
        """These credentials, remembering ``passwords`` (newest first; the current one and repeats dropped)."""
        kept = [p for i, p in enumerate(passwords) if p != self.root_password and p not in passwords[:i]]
        kept = kept[:MAX_EARLIER_ROOT_PASSWORDS]
        return self.model_copy(
            update={"previous_root_password": kept[0] if kept else None, "older_root_passwords": kept[1:]}
        )


class DataPlaneSpec(WireModel):
    instance: InstanceRef
    generation: int
    repl_set_name: str
    members: list[MemberSpec] = Field(default_factory=list)
    image: str = "mongo:6.0"
    image_pull_policy: str = "IfNotPresent"
    image_pull_secret: str | None = None
    # When set, the agent creates ``image_pull_secret`` (a dockerconfigjson Secret) from these. Never on the
    # wire: they travel in ``sealed`` (as ``credentials`` do), and are here once the agent has opened it.
    registry_credentials: SkipJsonSchema[RegistryCredentials | None] = Field(default=None, exclude=True)
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    export: ExportSpec = Field(default_factory=ExportSpec)
    storage: StorageSpec = Field(default_factory=StorageSpec)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    affinity: dict[str, Any] | None = None
    # A single-cluster MongoDB's podSpec.securityContext and podSpec.topologySpreadConstraints, as given.
    security_context: dict[str, Any] = Field(default_factory=dict)
    topology_spread_constraints: list[dict[str, Any]] = Field(default_factory=list)
    config_ref: str | None = None
    config_set: list[ConfigEntry] = Field(default_factory=list)
    # Environment variables of the mongod container (a single-cluster MongoDB's non-option config entries).
    env: list[ConfigEntry] = Field(default_factory=list)
    # Content of the federated ConfigMap that config_ref names (None: none named, or not supplied).
    config_content: dict[str, str] | None = None
    credentials: SkipJsonSchema[Credentials | None] = Field(default=None, exclude=True)
    # ``credentials`` and ``registry_credentials`` sealed to the cluster's agent, bound to ``sealing_binding``.
    sealed: Sealed | None = None
    # ``credentials`` sealed to the federation itself: what a restarted orchestrator reads them from.
    vault: Sealed | None = None
    # Set once every member address is known; only the initiator cluster's agent applies it.
    replica_set_config: RsConfig | None = None
    initiator: bool = False
    # The member (ordinal, in this cluster) on which to install ``replica_set_config`` with force: every
    # member holds a config naming other addresses (adopted volumes), so none can ever be elected.
    force_reconfig_on: int | None = None
    # Members (ordinals) a forced recovery left out of the set: their data may hold writes the new set
    # never had, so they are never admitted again; new members with new ordinals replace them.
    fenced: list[int] = Field(default_factory=list)
    # Whose volumes the members mount: the instance's own uid, or an earlier instance's it adopted.
    volume_uid: str = ""
    revision: str = ""
    # Members (ordinals) whose StatefulSet may take ``revision`` now; others keep the revision they run.
    restart: list[int] = Field(default_factory=list)
    # Members (ordinals) to step down if they are PRIMARY (before a restart or a removal).
    step_down: list[int] = Field(default_factory=list)
    # Set on the initiator once every member runs the image's release: the FCV to raise the set to.
    feature_compatibility_version: str | None = None
    # Ordinals below this were used by this instance once and are never given to a new member.
    next_ordinal: int = 0
    # The set's users exist: the agent of the primary's cluster logged in as clusterAdmin there. Told to every
    # cluster, so agents waiting for the users to read their members' full state look again at once.
    users_created: bool = False

    def unsealed(self) -> Credentials:
        """The credentials, once the agent has opened ``sealed`` (``fedstate.sealing``)."""
        if self.credentials is None:
            raise ValueError(f"the credentials of {self.instance.name} are not unsealed")
        return self.credentials

    def sealing_binding(self, cluster: str) -> str:
        """What the sealed credentials are for: this tenant, instance (its uid), cluster, generation and revision.
        A box moved into another instance's or cluster's spec, or an earlier one replayed, does not match."""
        i = self.instance
        return (
            f"dataplane:{i.tenant}/{i.namespace}/{i.kind}/{i.name}/{i.uid}@{cluster}#{self.generation}/{self.revision}"
        )


def vault_binding(tenant: str, namespace: str, name: str, volume_uid: str) -> str:
    """What the federation's own copy of an instance's credentials is for: the data of ``volume_uid``
    (an instance that adopts retained volumes opens the copy their instance left)."""
    return f"vault:{tenant}/{namespace}/{name}/{volume_uid}"


# Everything that shapes a member's pod. Storage is not here: a StatefulSet's volume claims cannot
# change, so a new storage class or size applies to members created after the change.
_SHAPING = frozenset(
    {
        "image",
        "image_pull_policy",
        "image_pull_secret",
        "resources",
        "export",
        "node_selector",
        "tolerations",
        "affinity",
        "config_set",
        "config_content",
        "env",
        "repl_set_name",
    }
)


# Also shaping, but hashed only when set: a field added here must not change the revision of every
# existing set (which would roll all of them after an upgrade).
_SHAPING_WHEN_SET = frozenset({"security_context", "topology_spread_constraints"})


def revision_of(spec: DataPlaneSpec) -> str:
    """``<instance>-<hash>`` of what shapes a member's pod: a change rolls the members, one at a time."""
    shaping = spec.model_dump(mode="json", include=set(_SHAPING))
    shaping |= {
        field: value for field, value in spec.model_dump(mode="json", include=set(_SHAPING_WHEN_SET)).items() if value
    }
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:10]
    return f"{spec.instance.name}-{digest}"


class MemberObservation(WireModel):
    ordinal: int
    name: str
    address: str | None = None  # VIP:NodePort once the Service has its NodePort
    pod_phase: str = "Absent"
    ready: bool = False
    node: str | None = None
    # The member's own view of its replica-set state (PRIMARY, SECONDARY, STARTUP2, ...).
    role: str = "UNKNOWN"
    # Why its pod is not running, in Kubernetes' words: the pod's PodScheduled message while it waits, or, while
    # there is no pod, its StatefulSet's FailedCreate event (a ResourceQuota, an admission webhook said no).
    message: str = ""
    revision: str = ""  # the revision its pod runs (its fedstate.io/revision annotation)
    version: str = ""  # the mongod version it reports (buildInfo)
    # Its state as the PRIMARY sees it (replSetGetStatus on the primary); "" when not read: no primary answered, or
    # none was asked (a member that never restarted counts as it says itself, see ``follows_the_primary``).
    seen_by_primary: str = ""
    # Which run of its mongod this is: its pod's uid and the container's restart count (each restart changes it),
    # kept from the last report while the pod is away. A member back from a restart counts only once the primary
    # sees it healthy.
    incarnation: str = ""
    # Its last applied write, as it says itself: which survivor is freshest when the majority is lost.
    optime: OpTime | None = None


class ReplsetMemberView(WireModel):
    """One row of replSetGetStatus as seen from this cluster."""

    id: int
    host: str
    state: int
    state_str: str
    health: int
    sync_source_host: str = ""
    # When the member last applied a write, as the viewing member last heard (0: never heard, unreachable).
    optime_seconds: int = 0
    # The PRIMARY's row only: when it won its election.
    election_date: datetime | None = None


class DataPlaneStatus(WireModel):
    cluster: str
    generation: int = 0
    revision: str = ""  # the DataPlaneSpec revision this report is about
    # What the members here run: the older revision while a rolling update is under way.
    current_revision: str = ""
    feature_compatibility_version: str | None = None
    members: list[MemberObservation] = Field(default_factory=list)
    initiated: bool = False
    users_ready: bool = False
    rs_config: RsConfig | None = None
    replset: list[ReplsetMemberView] = Field(default_factory=list)
    # When ``replset`` was read from a member, and the set's election term then (it grows by one each election).
    replset_seen_at: datetime | None = None
    replset_term: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    observed_at: datetime

    def addresses(self) -> dict[int, str]:
        return {m.ordinal: m.address for m in self.members if m.address}

    def set_addresses(self) -> set[str]:
        """Every address the report names: the members here, and the set's members in other clusters (its
        config, the view it was read with), among them the primary an agent here talks to."""
        config_hosts = [m.host for m in self.rs_config.members] if self.rs_config is not None else []
        return {*self.addresses().values(), *config_hosts, *(row.host for row in self.replset)}


class RetainedVolumes(WireModel):
    """What a deleted instance left in its member clusters (``fs-retained``): the data volumes of its
    members, and what a later instance of the same name needs to adopt them (``storage.adoptRetainedVolumes``)."""

    instance: InstanceRef  # the deleted instance, its uid included
    volume_uid: str  # whose uid the claims are named after (the instance's, or one it had adopted)
    repl_set_name: str
    members: dict[str, list[int]]  # cluster → ordinals of the data members whose volumes are kept
    next_ordinal: int  # a new member's ordinal starts here: no new member mounts an old volume by accident
    vault: Sealed  # the users and keyFile the data holds, sealed to the federation (``vault_binding``)
    deleted_at: datetime
