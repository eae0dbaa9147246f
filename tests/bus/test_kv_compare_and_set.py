"""Claims about the KV layer: compare-and-set refuses stale writers, watches see every change."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from fedstate.bus.connection import Bus
from fedstate.bus.envelope import SCHEMA_VERSION, InvalidValue, decode
from fedstate.bus.names import Bucket, kv_subject, kv_subject_template
from fedstate.bus.store import Conflict, Outcome
from fedstate.models.cluster import ClusterSnapshot
from tests.spans import in_memory_spans

MAJOR, MINOR = (int(part) for part in SCHEMA_VERSION.split("."))


def snapshot(name: str, vip: str = "127.0.9.1") -> ClusterSnapshot:
    return ClusterSnapshot(name=name, vip=vip, observed_at=datetime(2026, 1, 1, tzinfo=UTC))


async def test_a_stale_revision_loses_the_compare_and_set(bus: Bus) -> None:
    """Two writers read revision r; the first update wins, the second gets Conflict."""
    first = await bus.clusters.create("cas-a", snapshot("cas-a"))
    await bus.clusters.update("cas-a", snapshot("cas-a", "127.0.9.2"), first)
    with pytest.raises(Conflict):
        await bus.clusters.update("cas-a", snapshot("cas-a", "127.0.9.3"), first)
    stored = await bus.clusters.get("cas-a")
    assert stored is not None and stored.value.vip == "127.0.9.2"


async def test_create_refuses_an_existing_key(bus: Bus) -> None:
    await bus.clusters.create("cas-b", snapshot("cas-b"))
    with pytest.raises(Conflict):
        await bus.clusters.create("cas-b", snapshot("cas-b"))


async def test_create_takes_a_deleted_key_and_one_of_two_racing_creates_wins(bus: Bus) -> None:
    first = await bus.clusters.create("cas-d", snapshot("cas-d"))
    await bus.clusters.delete("cas-d")
    assert await bus.clusters.create("cas-d", snapshot("cas-d", "127.0.9.5")) > first
    with pytest.raises(Conflict):
        await bus.clusters.create("cas-d", snapshot("cas-d"))
    racing = await asyncio.gather(
        *(bus.clusters.create("cas-e", snapshot("cas-e", f"127.0.9.{i}")) for i in range(2)), return_exceptions=True
    )
    assert 1 == sum(isinstance(r, int) for r in racing) and 1 == sum(isinstance(r, Conflict) for r in racing)


async def test_a_delete_at_a_stale_revision_is_refused_and_one_at_a_deleted_key_changes_nothing(bus: Bus) -> None:
    """A delete at revision r removes the key only as it stood at r: written since, the value stays and the
    deleter is told (Conflict); deleted since, there is nothing to do (UNCHANGED), as without a revision."""
    first = await bus.clusters.create("cas-f", snapshot("cas-f"))
    second = await bus.clusters.update("cas-f", snapshot("cas-f", "127.0.9.6"), first)
    with pytest.raises(Conflict):
        await bus.clusters.delete("cas-f", revision=first)
    stored = await bus.clusters.get("cas-f")
    assert stored is not None and stored.value.vip == "127.0.9.6"
    assert await bus.clusters.delete("cas-f", revision=second) == Outcome.DELETED
    assert await bus.clusters.get("cas-f") is None
    assert await bus.clusters.delete("cas-f", revision=second) == Outcome.UNCHANGED
    assert await bus.clusters.delete("cas-never", revision=7) == Outcome.UNCHANGED


async def test_put_if_changed_says_what_happened(bus: Bus) -> None:
    assert await bus.clusters.put_if_changed("cas-c", snapshot("cas-c")) == Outcome.CREATED
    assert await bus.clusters.put_if_changed("cas-c", snapshot("cas-c")) == Outcome.UNCHANGED
    assert await bus.clusters.put_if_changed("cas-c", snapshot("cas-c", "127.0.9.4")) == Outcome.UPDATED
    assert await bus.clusters.delete("cas-c") == Outcome.DELETED
    assert await bus.clusters.get("cas-c") is None
    assert await bus.clusters.put_if_changed("cas-c", snapshot("cas-c")) == Outcome.CREATED


async def test_a_watch_sees_existing_keys_then_changes_and_deletes(bus: Bus) -> None:
    await bus.clusters.put("w-1", snapshot("w-1"))
    seen: list[tuple[str, bool]] = []

    async def follow() -> None:
        async for change in bus.clusters.watch(">"):
            if change.key.startswith("w-"):
                seen.append((change.key, change.deleted))
            if len(seen) == 3:
                return

    watcher = asyncio.create_task(follow())
    await asyncio.sleep(0.2)
    await bus.clusters.put("w-2", snapshot("w-2"))
    await bus.clusters.delete("w-1")
    await asyncio.wait_for(watcher, 5)
    assert [("w-1", False), ("w-2", False), ("w-1", True)] == seen


async def test_a_write_in_a_trace_is_a_publish_span_whose_context_it_carries_and_one_outside_is_neither(
    bus: Bus,
) -> None:
    from opentelemetry import trace

    spans = in_memory_spans()
    with trace.get_tracer("test").start_as_current_span("write") as write:
        await bus.clusters.put("traced", snapshot("traced"))
    await bus.clusters.put("untraced", snapshot("untraced"))
    traced, untraced = await bus.clusters.get("traced"), await bus.clusters.get("untraced")
    assert traced is not None and untraced is not None
    assert "traceparent" not in untraced.headers
    publish = next(s for s in spans.get_finished_spans() if s.name != "write")
    assert "publish $KV.fs-clusters.{cluster}" == publish.name
    assert publish.parent is not None and write.get_span_context().span_id == publish.parent.span_id
    assert f"{publish.context.span_id:016x}" in traced.headers["traceparent"]
    assert {
        "messaging.system": "nats",
        "messaging.destination.name": "$KV.fs-clusters.{cluster}",
        "messaging.operation.type": "send",
    }.items() <= dict(publish.attributes or {}).items()
    assert 2 == len(spans.get_finished_spans())  # the untraced write made none


def test_every_bucket_names_a_template_for_its_subjects() -> None:
    templates = [kv_subject_template(bucket) for bucket in Bucket]
    assert all(t.startswith("$KV.") and "{" in t for t in templates)


async def test_unknown_major_schema_versions_are_refused(bus: Bus) -> None:
    await bus.js.publish(kv_subject(bus.clusters.bucket, "future"), b'{"schemaVersion":"2.0","data":{}}')
    with pytest.raises(InvalidValue, match=r"unsupported schemaVersion '2\.0'"):
        await bus.clusters.get("future")
    with pytest.raises(InvalidValue, match="not JSON"):
        decode(b"{", ClusterSnapshot)


def test_a_newer_minor_version_is_read_without_its_new_fields_and_our_own_must_match() -> None:
    """A rolling upgrade: a newer writer's extra fields (nested ones too) are ignored by an older reader;
    an unknown field in a value of the reader's own version is still refused, naming the field."""
    wire = snapshot("minor").to_wire()
    wire["nodes"] = [{"name": "n1", "gpuCount": 8}]
    wire["carbonIntensity"] = 0.2
    newer = json.dumps({"schemaVersion": f"{MAJOR}.{MINOR + 1}", "kind": "ClusterSnapshot", "data": wire})
    read = decode(newer.encode(), ClusterSnapshot)
    assert ("minor", ["n1"]) == (read.name, [n.name for n in read.nodes])
    same = json.dumps({"schemaVersion": SCHEMA_VERSION, "kind": "ClusterSnapshot", "data": wire})
    with pytest.raises(InvalidValue, match="carbonIntensity"):
        decode(same.encode(), ClusterSnapshot)


async def test_a_cancellation_a_library_swallowed_still_stops_the_task_at_the_next_kv_call(bus: Bus) -> None:
    """Python 3.11's wait_for (inside nats-py's requests) can return a reply and drop the cancellation that
    arrived with it; a cancelled service must not carry on as if nothing happened (it hung shutdowns)."""
    reached: list[str] = []

    async def loop_that_was_cancelled() -> None:
        current = asyncio.current_task()
        assert current is not None
        current.cancel()
        try:
            await asyncio.sleep(0)  # the cancellation lands here and is swallowed, as wait_for may do
        except asyncio.CancelledError:
            pass
        await bus.clusters.put("cancel-a", snapshot("cancel-a"))
        reached.append("after put")
        await bus.clusters.get("cancel-a")
        reached.append("after get")

    task = asyncio.create_task(loop_that_was_cancelled())
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [] == reached


@pytest.mark.parametrize("key", ["*", ">", "kv-*", "with space", "line\n", "", "a..b"])
async def test_a_key_that_cannot_exist_holds_nothing_and_takes_nothing(bus: Bus, key: str) -> None:
    """A wildcard or blank never reads another key's value: nothing is stored under it, nothing can be."""
    await bus.clusters.put("kv-real", snapshot("kv-real"))
    assert None is await bus.clusters.get(key)
    with pytest.raises(ValueError, match="is not a KV key"):
        await bus.clusters.put(key, snapshot("kv-real"))
