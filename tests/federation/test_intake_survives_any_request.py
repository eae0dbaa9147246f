"""Whatever arrives on the bus intake — bytes that are not JSON, JSON of any shape, requests whose object is a
valid manifest with any field replaced by anything — gets an answer, never an internal error, and a refused
request writes nothing. ``FEDSTATE_FUZZ_EXAMPLES`` raises the number of cases (10,000 for the long run)."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import uuid
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fedstate.bus.connection import connect
from fedstate.bus.names import intake_subject
from fedstate.natsserver import NatsServer
from fedstate.sealing import KeyRing
from fedstate_federation.intake import handle
from fedstate_federation.vault import Vault

EXAMPLES = int(os.environ.get("FEDSTATE_FUZZ_EXAMPLES", "300"))
VALID = {
    "apiVersion": "middleware.fedstate.io/v1alpha1",
    "kind": "MultiCloudMongoDB",
    "metadata": {"name": "fuzzed", "namespace": "default", "labels": {"app": "db"}},
    "spec": {
        "replicaset": 3,
        "auth": {"rootPasswd": "secret"},
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
        "storage": {"storageClass": "standard", "resources": {"requests": {"storage": "1Gi"}}},
        "config": {"arbiter": False},
    },
}
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)

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


@st.composite
def mutated_manifests(draw: st.DrawFn) -> dict[str, Any]:
    manifest = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths(manifest)))
        parent = manifest
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = draw(JSON)
    return manifest


REQUESTS = st.fixed_dictionaries(
    {
        "op": st.sampled_from(["apply", "delete", "patch", "", None]) | st.text(max_size=6),
        "object": mutated_manifests(),
    },
    optional={"tenant": st.sampled_from(["fuzz", "other", "*", ""]), "kind": st.text(max_size=12)},
)
PAYLOADS = (
    st.binary(max_size=200)
    | JSON.map(lambda value: json.dumps(value).encode())
    | REQUESTS.map(lambda request: json.dumps(request).encode())
)


async def answer(url: str, payload: bytes) -> tuple[dict[str, Any], int, int]:
    bus = await connect(url, name=f"fuzz-{uuid.uuid4().hex[:6]}")
    try:
        before = await bus.spec.last_revision()
        reply = await handle(bus, payload, subject=intake_subject("fuzz"), vault=VAULT)
        return reply.model_dump(), before, await bus.spec.last_revision()
    finally:
        await bus.close()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=PAYLOADS)
@example(payload=json.dumps({"op": "apply", "object": {**VALID, "kind": []}}).encode())  # was a 500
@example(payload=b"\xff\xfe")
def test_every_request_is_answered_and_a_refused_one_writes_nothing(nats_server: NatsServer, payload: bytes) -> None:
    reply, before, after = asyncio.run(answer(nats_server.url, payload))
    error = reply.get("error")
    assert error is None or error["code"] != 500, error
    if not reply["ok"]:
        assert before == after, reply
