# The official client types every model field as Optional and its methods as taking models, while it accepts
# plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index"
"""Lists honour ``resourceVersion``/``resourceVersionMatch`` and watches send bookmarks, as kube-apiserver does."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kube_support import new_namespace, refusal, refused_fields, simulated_api
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from fedstate_sim.config import SimSettings
from fedstate_sim.kube import http_watch

HISTORY = 30


@pytest.fixture(scope="module")
def sim_api() -> Iterator[client.ApiClient]:
    """A cluster that keeps only ``HISTORY`` changes, so old versions are compacted soon."""
    with simulated_api(SimSettings(watch_history=HISTORY)) as api:
        yield api


def names(items: list[client.V1ConfigMap]) -> list[tuple[str, str]]:
    return [(c.metadata.name, (c.data or {}).get("k", "")) for c in items]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"resource_version_match": "Exact"}, "resourceVersionMatch is forbidden unless resourceVersion is provided"),
        ({"resource_version_match": "Exact", "resource_version": "0"}, 'forbidden for resourceVersion "0"'),
        ({"resource_version_match": "Sometime", "resource_version": "1"}, 'supported values: "Exact", "NotOlderThan"'),
    ],
)
def test_a_malformed_version_match_is_422(sim_core: client.CoreV1Api, query: dict[str, str], words: str) -> None:
    """``ValidateListOptions``: 422 Invalid on ``resourceVersionMatch``."""
    with pytest.raises(ApiException) as refused:
        sim_core.list_namespaced_config_map("default", **query)
    assert (422, ["resourceVersionMatch"]) == (refused.value.status, refused_fields(refused.value))
    assert words in refusal(refused.value)["message"]


def test_an_exact_list_shows_the_past_and_a_compacted_one_is_410(sim_core: client.CoreV1Api) -> None:
    """``Exact`` lists what was there at that version; past the kept history, 410 Expired; ahead of now, 504."""
    ns = new_namespace(sim_core)
    ours = {"label_selector": "test=exact"}
    sim_core.create_namespaced_config_map(
        ns, {"metadata": {"name": "a", "labels": {"test": "exact"}}, "data": {"k": "1"}}
    )
    first = sim_core.list_namespaced_config_map(ns, **ours).metadata.resource_version
    sim_core.patch_namespaced_config_map("a", ns, {"data": {"k": "2"}})
    sim_core.create_namespaced_config_map(ns, {"metadata": {"name": "b", "labels": {"test": "exact"}}})
    second = sim_core.list_namespaced_config_map(ns, **ours).metadata.resource_version
    sim_core.delete_namespaced_config_map("a", ns)

    def at(version: str) -> list[tuple[str, str]]:
        listed = sim_core.list_namespaced_config_map(
            ns, resource_version=version, resource_version_match="Exact", **ours
        )
        assert version == listed.metadata.resource_version
        return names(listed.items)

    assert ([("a", "1")], [("a", "2"), ("b", "")]) == (at(first), at(second))
    assert [("b", "")] == names(sim_core.list_namespaced_config_map(ns, **ours).items)
    for i in range(HISTORY):
        sim_core.create_namespaced_config_map(ns, {"metadata": {"name": f"filler-{i}"}})
    with pytest.raises(ApiException) as compacted:
        at(first)
    assert (410, "Expired") == (compacted.value.status, refusal(compacted.value)["reason"])
    ahead = str(int(second) + 10_000)
    with pytest.raises(ApiException) as future:
        sim_core.list_namespaced_config_map(ns, resource_version=ahead, resource_version_match="NotOlderThan")
    assert 504 == future.value.status


def test_bookmarks_keep_coming_while_events_flow(sim_core: client.CoreV1Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A watch with ``allowWatchBookmarks`` gets its periodic bookmark even when it is never idle."""
    monkeypatch.setattr(http_watch, "BOOKMARK_SECONDS", 0.2)
    ns = new_namespace(sim_core)
    start = sim_core.list_namespaced_config_map(ns).metadata.resource_version
    stop = threading.Event()

    def traffic() -> None:
        for i in range(2000):
            if stop.wait(0.02):
                return
            sim_core.create_namespaced_config_map(ns, {"metadata": {"name": f"busy-{i}"}})

    writer = threading.Thread(target=traffic)
    writer.start()
    seen: list[str] = []
    try:
        stream = watch.Watch().stream(
            sim_core.list_namespaced_config_map,
            ns,
            resource_version=start,
            allow_watch_bookmarks=True,
            timeout_seconds=60,
        )
        for event in stream:
            seen.append(event["type"])
            if "BOOKMARK" in seen and seen[-1] == "ADDED":
                break
    finally:
        stop.set()
        writer.join()
    assert seen.index("BOOKMARK") > 0 and "ADDED" in seen[seen.index("BOOKMARK") :]
