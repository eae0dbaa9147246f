"""Every bucket, KV key and subject of the bus, built in one place.

No other module formats a subject or key string. Names are DNS-1123 labels (no dots),
so each is exactly one token of a key or subject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

SUBJECT_ROOT = "fedstate.v1"
DEFAULT_TENANT = "default"
EVENTS_STREAM = "FS_EVENTS"
# Values a service could not read (not JSON, an unknown schema major, failing validation, oversized), kept with
# the reason.
DEAD_LETTERS_STREAM = "FS_DEAD_LETTERS"
# A dead letter is the value as it was stored (cut to fit in MAX_DEAD_LETTER_BYTES), with these headers.
DEAD_LETTER_BUCKET = "Fedstate-Bucket"  # the bucket, or the events stream, it was read from
DEAD_LETTER_KEY = "Fedstate-Key"  # the key (an event's subject)
DEAD_LETTER_REVISION = "Fedstate-Revision"
DEAD_LETTER_CAUSE = "Fedstate-Cause"  # NotJSON, UnknownSchemaVersion, Invalid or Oversized
DEAD_LETTER_REASON = "Fedstate-Reason"
DEAD_LETTER_SIZE = "Fedstate-Size"  # of the value as stored, in bytes: more than the letter holds when cut
MAX_DEAD_LETTER_BYTES = 1024 * 1024
MAX_REASON_CHARACTERS = 1000
# Events about the bus itself (a reader's dead letters) are under this tenant: not a DNS label, so never a tenant's
# name; a tenant's view of events never shows them, an admin's does.
BUS_EVENTS = "_bus"


class Bucket(StrEnum):
    SPEC = "fs-spec"
    CLUSTERS = "fs-clusters"
    PLACEMENTS = "fs-placements"
    DATAPLANE = "fs-dataplane"
    OBSERVED = "fs-observed"
    STATUS = "fs-status"
    # What deleted instances left behind: their retained data volumes, by instance name.
    RETAINED = "fs-retained"
    # Liveness of each member cluster's services, renewed on a fixed period (never judged from reports).
    LEASES = "fs-leases"
    # MongoDB custom resources created on a member cluster's own API, mirrored by that cluster's agent.
    LOCAL_OBJECTS = "fs-local-objects"
    # The scheduler's in-flight promises of room, one key per member cluster (its name): only the scheduler's.
    RESERVATIONS = "fs-reservations"


class Kind(StrEnum):
    MULTICLOUD_MONGODB = "multicloudmongodb"
    MONGODB = "mongodb"
    # Federated configuration that a MultiCloudMongoDB's config.configRef names.
    CONFIGMAP = "configmap"


@dataclass(frozen=True, order=True)
class InstanceKey:
    """Identity of one user object: tenant, namespace, kind and name."""

    tenant: str
    namespace: str
    kind: Kind
    name: str

    @property
    def spec_key(self) -> str:
        return f"{self.tenant}.{self.namespace}.{self.kind}.{self.name}"

    status_key = spec_key

    @property
    def placement_key(self) -> str:
        return f"{self.tenant}.{self.namespace}.{self.name}"

    retained_key = placement_key

    def dataplane_key(self, cluster: str) -> str:
        return f"{cluster}.{self.tenant}.{self.namespace}.{self.name}"

    observed_key = dataplane_key
    local_object_key = dataplane_key

    @property
    def events_subject(self) -> str:
        return f"{SUBJECT_ROOT}.events.{self.tenant}.{self.namespace}.{self.name}"

    def __str__(self) -> str:
        return f"{self.tenant}/{self.namespace}/{self.name}"


def parse_spec_key(key: str) -> InstanceKey:
    tenant, namespace, kind, name = key.split(".")
    return InstanceKey(tenant, namespace, Kind(kind), name)


def parse_placement_key(key: str, kind: Kind = Kind.MULTICLOUD_MONGODB) -> InstanceKey:
    tenant, namespace, name = key.split(".")
    return InstanceKey(tenant, namespace, kind, name)


def parse_dataplane_key(key: str, kind: Kind = Kind.MULTICLOUD_MONGODB) -> tuple[str, InstanceKey]:
    """``<cluster>.<tenant>.<namespace>.<name>`` → (cluster, instance)."""
    cluster, tenant, namespace, name = key.split(".")
    return cluster, InstanceKey(tenant, namespace, kind, name)


def spec_filter(tenant: str, kind: Kind, namespace: str | None = None) -> str:
    """KV filter for every ``fs-spec`` (or ``fs-status``) key of one kind, in one namespace or all."""
    return f"{tenant}.{namespace or '*'}.{kind}.*"


def tenant_filter(tenant: str) -> str:
    """KV filter for every key of one tenant in ``fs-spec``, ``fs-status`` and ``fs-placements``."""
    return f"{tenant}.>"


def tenant_in_clusters_filter(tenant: str) -> str:
    """KV filter for every key of one tenant, in every cluster, of ``fs-dataplane``, ``fs-observed`` and
    ``fs-local-objects`` (``<cluster>.<tenant>.<namespace>.<name>``)."""
    return f"*.{tenant}.>"


def cluster_filter(cluster: str) -> str:
    """KV watch filter for every data-plane (or observed) key of one cluster."""
    return f"{cluster}.>"


def local_objects_filter(tenant: str, namespace: str | None = None, name: str | None = None) -> str:
    """KV filter for the mirrored custom resources of every cluster: one tenant, one namespace (or all), one name."""
    return f"*.{tenant}.{namespace or '*'}.{name or '*'}"


def intake_subject(tenant: str = DEFAULT_TENANT) -> str:
    return f"{SUBJECT_ROOT}.intake.{tenant}"


def intake_subject_all() -> str:
    return f"{SUBJECT_ROOT}.intake.*"


def intake_tenant(subject: str) -> str:
    """The tenant an intake request is for: the last token of ``fedstate.v1.intake.<tenant>``."""
    prefix = intake_subject("")
    tenant = subject.removeprefix(prefix)
    if tenant == subject or not tenant or "." in tenant:
        raise ValueError(f"{subject!r} is not an intake subject ({intake_subject('<tenant>')})")
    return tenant


def events_subject_all() -> str:
    return f"{SUBJECT_ROOT}.events.>"


def dead_letter_subject(user: str, source: str) -> str:
    """Where ``user`` (a bus user, or a connection's name) puts a value it could not read from ``source`` (a
    bucket, or the events stream)."""
    return f"{SUBJECT_ROOT}.deadletters.{user}.{source}"


def dead_letter_reader(subject: str) -> str:
    """Who kept the dead letter on ``subject``: the reader's token of ``fedstate.v1.deadletters.<user>.<source>``."""
    return subject.removeprefix(f"{SUBJECT_ROOT}.deadletters.").split(".")[0]


def dead_letter_events_subject(user: str, source: str) -> str:
    """Where ``user`` announces its dead letters of ``source``: ``Event.instance`` is ``_bus/<user>/<source>``."""
    return f"{SUBJECT_ROOT}.events.{BUS_EVENTS}.{user}.{source}"


def dead_letter_events_of(user: str) -> str:
    return f"{SUBJECT_ROOT}.events.{BUS_EVENTS}.{user}.*"


def dead_letters_of(user: str) -> str:
    return f"{SUBJECT_ROOT}.deadletters.{user}.*"


def dead_letters_all() -> str:
    return f"{SUBJECT_ROOT}.deadletters.>"


def events_filter(instance: InstanceKey | None = None) -> str:
    return instance.events_subject if instance else events_subject_all()


class LeaseHolder(StrEnum):
    """The member-cluster services that hold a lease."""

    AGENT = "dataplane-agent"
    COLLECTOR = "collector"


def lease_key(component: LeaseHolder, cluster: str) -> str:
    """``<component>.<cluster>``: one key per service per cluster, so a permission can name it."""
    return f"{component}.{cluster}"


def lease_filter(component: LeaseHolder) -> str:
    return f"{component}.*"


def parse_lease_key(key: str) -> tuple[LeaseHolder, str]:
    component, cluster = key.split(".")
    return LeaseHolder(component), cluster


class Elected(StrEnum):
    """The central services whose work one replica at a time does, under a leader lease (decision 0013)."""

    SCHEDULER = "scheduler"
    ORCHESTRATOR = "federation"


LEADER_TOKEN = "leader"  # never a LeaseHolder: a member cluster's lease filter cannot match a leader lease
EVERY_TENANT = "_all"  # not a DNS label, so never a tenant's name


def leader_key(service: Elected, tenant: str | None = None) -> str:
    """``leader.<service>.<scope>``: the lease whose holder is the one replica of ``service`` doing its work, for
    one tenant (a replica serving only that tenant) or for every tenant (``_all``)."""
    return f"{LEADER_TOKEN}.{service}.{tenant or EVERY_TENANT}"


def leader_filter(service: Elected) -> str:
    """Every leader lease of ``service``, whatever the scope: what its bus user may write."""
    return f"{LEADER_TOKEN}.{service}.*"


# A KV key: dot-separated tokens of letters, digits and -_/= (NATS's rule); never a wildcard nor a blank.
_KEY = re.compile(r"[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*")


def is_key(key: str) -> bool:
    """Can a value be stored under ``key``? A name from outside (``*``, ``>``, ``a b``) may make a key that cannot."""
    return _KEY.fullmatch(key) is not None


def key_matches(pattern: str, key: str) -> bool:
    """Does ``key`` match the KV filter ``pattern`` as NATS matches subjects (``*`` one token, ``>`` the rest)?"""
    wanted, tokens = pattern.split("."), key.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > index
        if index >= len(tokens) or token not in ("*", tokens[index]):
            return False
    return len(tokens) == len(wanted)


# The header JetStream's KV puts on a delete or purge marker (``DEL``, ``PURGE``); a value has none.
KV_OPERATION = "KV-Operation"


def kv_subject(bucket: Bucket | str, key: str) -> str:
    """The stream subject JetStream stores a KV key under."""
    return f"$KV.{bucket}.{key}"


# The shape of each bucket's keys: what a span names as its destination instead of one key (a trace backend
# groups by destination, and a name per instance would make one group per instance).
_KEY_TEMPLATES = {
    Bucket.SPEC: "{tenant}.{namespace}.{kind}.{name}",
    Bucket.STATUS: "{tenant}.{namespace}.{kind}.{name}",
    Bucket.CLUSTERS: "{cluster}",
    Bucket.PLACEMENTS: "{tenant}.{namespace}.{name}",
    Bucket.RETAINED: "{tenant}.{namespace}.{name}",
    Bucket.DATAPLANE: "{cluster}.{tenant}.{namespace}.{name}",
    Bucket.OBSERVED: "{cluster}.{tenant}.{namespace}.{name}",
    Bucket.LOCAL_OBJECTS: "{cluster}.{tenant}.{namespace}.{name}",
    Bucket.LEASES: "{component}.{cluster}",  # or leader.{service}.{tenant}
    Bucket.RESERVATIONS: "{cluster}",
}


def kv_subject_template(bucket: Bucket) -> str:
    """``kv_subject`` with the key's tokens named, not filled: ``$KV.fs-spec.{tenant}.{namespace}.{kind}.{name}``."""
    return kv_subject(bucket, _KEY_TEMPLATES[bucket])


def intake_subject_template() -> str:
    return intake_subject("{tenant}")


def kv_stream(bucket: Bucket | str) -> str:
    return f"KV_{bucket}"


# A consumer name may not hold a dot, a wildcard or a blank.
_NOT_IN_CONSUMER_NAME = re.compile(r"[^-_a-zA-Z0-9]")


def consumer_name(owner: str, unique: str) -> str:
    """``<owner>-<unique>``: whose consumer it is (a bus user or connection name) and a part never used before."""
    return f"{_NOT_IN_CONSUMER_NAME.sub('_', owner)}-{unique}"


# The JetStream API subjects a bus user's permissions name (docs/security.md). Each puts the stream, and where it
# can the key filter, in the subject itself, where a permission can see it. With a JetStream domain (a hub whose
# member clusters reach it through NATS leaf nodes, decision 0022) each starts ``$JS.<domain>.API``: the hub maps
# that to its own API, and only such subjects cross a leaf node to the hub's JetStream.


def js_api_prefix(domain: str | None = None) -> str:
    """``$JS.API``, or ``$JS.<domain>.API``: what nats-py's ``jetstream(domain=...)`` asks its requests under."""
    return f"$JS.{domain}.API" if domain else "$JS.API"


def kv_put_subject(bucket: Bucket, key: str, domain: str | None = None) -> str:
    """Where a write of ``key`` is published: the key's stream subject, or with a domain that subject under the
    domain's API (``$JS.<domain>.API.$KV.<bucket>.<key>``), which the hub maps to the stream subject. A leaf
    node forwards the latter only: the hub never tells a leaf of its interest in a bucket's ``$KV.<bucket>.>``."""
    subject = kv_subject(bucket, key)
    return f"{js_api_prefix(domain)}.{subject}" if domain else subject


def direct_get_subject(bucket: Bucket, key_filter: str, domain: str | None = None) -> str:
    """A direct get of the latest value of a key (or of the latest write to any key matching a filter)."""
    return f"{js_api_prefix(domain)}.DIRECT.GET.{kv_stream(bucket)}.{kv_subject(bucket, key_filter)}"


def consumer_create_subject(stream: str, name: str, filter_subject: str, domain: str | None = None) -> str:
    """The creation of a named consumer of ``stream`` filtered to ``filter_subject``: the server refuses a
    request whose body asks for another filter."""
    return f"{js_api_prefix(domain)}.CONSUMER.CREATE.{stream}.{name}.{filter_subject}"


def consumer_create_unfiltered_subject(stream: str, domain: str | None = None) -> str:
    """The creation of an unnamed consumer (its filter only in the body: no permission can pin it)."""
    return f"{js_api_prefix(domain)}.CONSUMER.CREATE.{stream}"


def consumer_subject(action: str, stream: str, name: str, domain: str | None = None) -> str:
    """``DELETE``, ``INFO`` or ``MSG.NEXT`` (a pull consumer's fetch) of one consumer."""
    return f"{js_api_prefix(domain)}.CONSUMER.{action}.{stream}.{name}"


def flow_control_subject(stream: str) -> str:
    """Where a push consumer of ``stream`` is answered that its subscriber has caught up."""
    return f"$JS.FC.{stream}.>"


def inbox_prefix(user: str) -> str:
    """A user's own inbox prefix: the replies it asks for come there, and only it may subscribe to them."""
    return f"_INBOX_{user}"


def inbox_subject(prefix: str) -> str:
    return f"{prefix}.>"
