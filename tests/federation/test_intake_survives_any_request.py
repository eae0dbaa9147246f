"""Whatever arrives on the bus intake — bytes that are not JSON, JSON of any shape, fields of the wrong type, names
with dots, wildcards, unicode or hundreds of kilobytes, unknown kinds and API versions, objects over the size limit,
valid manifests with any field replaced by anything — gets an answer, never an internal error; a refused request
names the field path at fault and writes nothing to any bucket. ``FEDSTATE_FUZZ_EXAMPLES`` sets the number of cases
(300 by default; 10,000 for the long run, docs/operations.md)."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fedstate.bus.connection import Bus
from fedstate.bus.limits import MAX_OBJECT_BYTES, MAX_VALUE_BYTES
from fedstate.bus.names import Bucket, intake_subject, kv_stream
from fedstate.sealing import KeyRing
from fedstate_federation.intake import handle
from fedstate_federation.vault import Vault

EXAMPLES = int(os.environ.get("FEDSTATE_FUZZ_EXAMPLES", "300"))
TENANT = "fuzz"
# No password: one in clear is refused before anything else is looked at (a submitter seals it to the federation,
# tests/federation/test_intake_requests_carry_secrets_sealed.py), so the fuzz would reach no further.
VALID: dict[str, Any] = {
    "apiVersion": "middleware.fedstate.io/v1alpha1",
    "kind": "MultiCloudMongoDB",
    "metadata": {"name": "fuzzed", "namespace": "default", "labels": {"app": "db"}},
    "spec": {
        "replicaset": 3,
        "resource": {"limits": {"cpu": "1", "memory": "1Gi"}},
        "storage": {"storageClass": "standard", "storageSize": "1Gi"},
        "config": {"arbiter": False},
    },
}
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Names no key may hold, and long ones: around the size limit in bytes, in one- and two-byte characters.
HUGE = st.sampled_from([MAX_OBJECT_BYTES // 2, MAX_OBJECT_BYTES - 200, MAX_OBJECT_BYTES + 1]).flatmap(
    lambda size: st.sampled_from(["x" * size, "é" * (size // 2)])
)
NAMES = (
    st.sampled_from(["*", ">", "a.b", "a.*", "", " ", "ü", "-a", "A", "x" * 64])
    | st.text(alphabet="ab09-._A *>\nü/%é漢\x00", max_size=70)
    | HUGE
)
KINDS = st.sampled_from(["MultiCloudMongoDB", "MongoDB", "ConfigMap", "mcm", "Secret", "multicloudmongodbs", ""]) | (
    st.text(max_size=12)
)
API_VERSIONS = st.sampled_from(["middleware.fedstate.io/v1alpha1", "middleware.fedstate.io/v9", "v1", "apps/v1", ""])

# The federation's key of these tests: every intake request seals and opens with it.
VAULT = Vault(KeyRing.generate())


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``value``: dictionary keys and list indices."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replaced(manifest: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    parent = manifest
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value


@st.composite
def mutated_manifests(draw: st.DrawFn) -> dict[str, Any]:
    """The valid manifest with up to three changes: any field to any JSON, a name, a kind or an API version."""
    manifest = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        path, value = draw(
            st.one_of(
                st.tuples(st.sampled_from(paths(manifest)), JSON),
                st.tuples(st.sampled_from([("metadata", "name"), ("metadata", "namespace")]), NAMES),
                st.tuples(st.sampled_from([("metadata", "labels", "app"), ("spec", "auth", "rootPasswd")]), HUGE),
                st.tuples(st.just(("kind",)), KINDS),
                st.tuples(st.just(("apiVersion",)), API_VERSIONS | st.text(max_size=20)),
            )
        )
        try:
            replaced(manifest, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change took the path away
    return manifest


REQUESTS = st.fixed_dictionaries(
    {
        "op": st.sampled_from(["apply", "delete", "recover", "patch", "", None]) | st.text(max_size=6),
        "object": mutated_manifests(),
    },
    optional={
        "tenant": st.sampled_from([TENANT, "other", "*", ""]) | NAMES,
        "kind": KINDS,
        "namespace": NAMES,
        "name": NAMES,
        "targetCluster": NAMES,
        "force": st.booleans() | JSON,
    },
)
# A request with one field of any JSON type at all.
MISTYPED = st.tuples(REQUESTS, st.sampled_from(["op", "object", "tenant", "kind", "name", "force"]), JSON).map(
    lambda drawn: {**drawn[0], drawn[1]: drawn[2]}
)
PAYLOADS = (
    st.binary(max_size=200)
    | JSON.map(lambda value: json.dumps(value).encode())
    | (REQUESTS | MISTYPED).map(lambda request: json.dumps(request).encode())
)


async def revisions(bus: Bus) -> dict[Bucket, int]:
    """The last write to every bucket."""
    return {bucket: (await bus.js.stream_info(kv_stream(bucket))).state.last_seq for bucket in Bucket}


async def test_the_unchanged_manifest_is_accepted(bus: Bus) -> None:
    """The fuzz starts from a manifest the intake takes: its changes, not the base, make a request bad."""
    reply = await handle(
        bus, json.dumps({"op": "apply", "object": VALID}).encode(), subject=intake_subject(TENANT), vault=VAULT
    )
    assert reply.ok, reply.error


@pytest.mark.timeout(180 + EXAMPLES // 10)  # the long run takes minutes, past the suite's per-test limit
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(payload=PAYLOADS)
@example(payload=json.dumps({"op": "apply", "object": {**VALID, "kind": []}}).encode())  # was a 500
@example(payload=b"\xff\xfe")
@example(payload=json.dumps({"op": "apply", "object": VALID, "tenant": "x" * 300_000}).encode())  # echoed in full
@example(payload=json.dumps({"op": "delete", "kind": "mcm", "name": "x" * 900_000}).encode())  # a subject too long
@example(
    payload=json.dumps(
        {"op": "apply", "object": {**VALID, "metadata": {"name": "big", "labels": {"a": "é" * 200_000}}}}
    ).encode()
)
async def test_every_request_is_answered_and_a_refused_one_names_its_field_and_writes_nothing(
    bus: Bus, payload: bytes
) -> None:
    before = await revisions(bus)
    reply = await handle(bus, payload, subject=intake_subject(TENANT), vault=VAULT)
    if reply.ok:
        return
    # A refusal that does not fit in a NATS message never reaches the client: it waits until its timeout.
    assert len(reply.model_dump_json(by_alias=True).encode()) <= MAX_VALUE_BYTES, reply.error.message[:200]
    error = reply.error
    assert error is not None and 500 != error.code, error
    assert before == await revisions(bus), error
    if error.code in (400, 413, 422):  # a bad request, not a missing or changed object (404, 409)
        assert error.causes and all(cause.field for cause in error.causes), error
