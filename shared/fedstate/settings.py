"""Settings every service reads from the environment (``FEDSTATE_*``) and from flags."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Self, TypeVar

from pydantic import Field, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from fedstate.bus.access import BusAccess, nats_servers
from fedstate.models.base import DnsLabel


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FEDSTATE_", extra="ignore", cli_kebab_case=True)

    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        description="the NATS server, or every server of a NATS cluster, comma-separated (as the nats CLI takes them)",
    )
    nats_credentials: Path | None = Field(
        default=None,
        description="directory of the bus users' NKey seeds (<user>.nk, docs/security.md); unset: connect as nobody",
    )
    nats_tls_ca_file: Path | None = Field(
        default=None, description="authority the NATS server's certificate is checked with"
    )
    nats_tls_cert_file: Path | None = Field(default=None, description="client certificate presented to NATS")
    nats_tls_key_file: Path | None = Field(default=None, description="the client certificate's key")
    nats_jetstream_domain: DnsLabel | None = Field(
        default=None,
        description="the JetStream domain of the hub's NATS servers (decision 0022): needed to reach JetStream "
        "through a leaf node; unset: the server's own JetStream, as without a domain",
    )
    tenant: DnsLabel = "default"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, description="/metrics and /healthz; 0 picks a free port")
    log_level: str = "INFO"
    spans_file: Path | None = None
    # Cluster health: a cluster is Ready while its collector's heartbeat is younger than this.
    failure_threshold_seconds: float = 20.0
    heartbeat_seconds: float = 5.0
    # Failover: members leave a cluster that has sent no heartbeat for this long (well past the threshold
    # above, so a slow or restarting collector moves nothing).
    failover_after_seconds: float = 60.0
    # ... unless more than this fraction of the clusters holding members are that silent at once (at least three):
    # then the federation's own view is the likelier fault, and failover waits. 1.0 never waits.
    failover_hold_fraction: float = Field(0.55, gt=0, le=1, description="silent share of clusters that holds failover")
    # Replicas of the scheduler and the orchestrator: the holder of the service's leader lease does the work, the
    # others take over once it has not been renewed for the lease's duration (decision 0013).
    leader_lease_seconds: float = Field(15.0, gt=0, description="how long an unrenewed leader lease holds")
    leader_renew_deadline_seconds: float = Field(
        10.0, gt=0, description="a leader stops writing when it could not renew its lease for this long"
    )
    leader_retry_seconds: float = Field(2.0, gt=0, description="seconds between two renewals, or two looks")
    # A replica's stable name (a pod's name, from the downward API): restarted under it after a crash, the replica
    # takes back the leader lease it held at once (its predecessor is gone), as client-go's election does.
    # Empty: a name of its own per process, and a restarted leader waits out its predecessor's lease.
    replica_name: str = Field("", description="this replica's stable name (FEDSTATE_REPLICA_NAME)")
    # The federation's public keys (``federation.pub``, written beside its key ring): an agent opens only what they
    # sealed; the gateway and the crd-bridge seal an intake request's secrets to the first, the current one.
    federation_public_key_file: Path | None = Field(
        default=None,
        description="the federation's public sealing keys (federation.pub): trusted by an agent, sealed to by a submitter",
    )

    @property
    def nats_servers(self) -> list[str]:
        """Every NATS server to try: the client connects to one and moves to another when it goes away."""
        return nats_servers(self.nats_url)

    def bus_access(self) -> BusAccess:
        return BusAccess(
            self.nats_credentials,
            self.nats_tls_ca_file,
            self.nats_tls_cert_file,
            self.nats_tls_key_file,
            self.nats_jetstream_domain,
        )


class MemberClusterSettings(ServiceSettings):
    """Settings of the per-member-cluster services (collector, data-plane agent)."""

    cluster: DnsLabel = Field(description="this member cluster's name")
    kubeconfig: Path | None = None
    kube_context: str | None = None
    # The address members are reached at from outside; taken from the nodes' ExternalIP when unset.
    vip: str | None = None
    # More member clusters served by this process, each as if by a process of its own (its own bus
    # connection, Kubernetes client and loops; its kube context named as the cluster). Only for local stacks
    # of many simulated clusters, where a process per cluster would not fit: a real member cluster runs its own.
    hosted_clusters: list[DnsLabel] = Field(default_factory=list)

    def each_cluster(self) -> list[Self]:
        """These settings, then one copy per hosted cluster."""
        hosted = [
            self.model_copy(update={"cluster": c, "kube_context": c, "hosted_clusters": []})
            for c in self.hosted_clusters
        ]
        return [self.model_copy(update={"hosted_clusters": []}), *hosted]


class AgentSettings(MemberClusterSettings):
    """Settings of the data-plane agent."""

    # Changes come by watches (bus, Kubernetes informers, the members' watches): this look at a steady instance
    # is only a safety net, and at 900 instance-clusters a 30 s one was most of the agents' idle CPU.
    resync_seconds: float = Field(300.0, gt=0, description="seconds between two looks at a steady instance")
    # A look reuses a steady member's state while its watch says nothing moved; a primary's, for this long at
    # most: then it logs in and reads it again, and the set's users and FCV. 1,000 sets pay 1,000 logins a period.
    member_recheck_seconds: float = Field(
        1800.0, gt=0, description="seconds a steady primary's state, users and FCV are trusted before read again"
    )
    # Each cluster's X25519 key ring, ``<cluster>.key`` (fedstate.sealing): made at the agent's first start.
    sealing_key_dir: Path | None = Field(
        default=None, description="directory of the clusters' sealing key rings (<cluster>.key, mode 0600)"
    )

    def pinned_federation_keys_file(self) -> Path:
        if self.federation_public_key_file is None:
            raise SystemExit(
                "error: FEDSTATE_FEDERATION_PUBLIC_KEY_FILE (--federation-public-key-file) is not set: the agent "
                "opens only credentials sealed by the federation's key, whose public half it must be given "
                "(docs/security.md)"
            )
        return self.federation_public_key_file

    def sealing_key_file(self) -> Path:
        if self.sealing_key_dir is None:
            raise SystemExit(
                "error: FEDSTATE_SEALING_KEY_DIR (--sealing-key-dir) is not set: the agent opens its cluster's "
                "credentials with its own key, kept there (docs/security.md)"
            )
        return self.sealing_key_dir / f"{self.cluster}.key"


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], argv: list[str] | None = None) -> S:
    """Settings from ``FEDSTATE_*`` environment variables, overridden by flags (``--nats-url URL``).

    Invalid settings end the process with one line per problem, naming the variable and the flag.
    """
    try:
        return cls(_cli_parse_args=sys.argv[1:] if argv is None else argv)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SystemExit("\n".join(map(_setting_error, exc.errors()))) from None


def _setting_error(error: ErrorDetails) -> str:
    field = str(error["loc"][0]) if error["loc"] else "settings"
    message = str(error.get("ctx", {}).get("error", error["msg"])) if error["type"] == "value_error" else error["msg"]
    return f"error: invalid setting FEDSTATE_{field.upper()} (--{field.replace('_', '-')}): {message}"
