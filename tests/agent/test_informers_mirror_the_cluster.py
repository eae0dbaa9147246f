"""An informer holds exactly the labelled objects its cluster has: those there before it started, every
change while it watches, and — after a broken watch — what changed meanwhile, deletions included."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from kubernetes.aio import client

from fedstate.informer import Informer, KubeDict
from fedstate_agent.kubeobjects import pod_as_observed, without_status
from fedstate_sim.config import default_config
from fedstate_sim.kube.tokens import ADMIN_TOKEN
from fedstate_sim.world import NullMemberHost, World

OURS = "app.kubernetes.io/managed-by=fedstate-agent"


def config_map(name: str, ours: bool = True, value: str = "1") -> client.V1ConfigMap:
    labels = {"app.kubernetes.io/managed-by": "fedstate-agent", "app.kubernetes.io/instance": "rs"} if ours else {}
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data={"v": value})


@pytest.fixture
async def core() -> AsyncIterator[client.CoreV1Api]:
    async with World(default_config(1), host=NullMemberHost()) as world:
        configuration = client.Configuration(host=world.clusters["member-1"].api_url)
        configuration.api_key = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        async with client.ApiClient(configuration) as api:
            yield client.CoreV1Api(api)


async def eventually(check: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the informer never showed {what}")


def names(informer: Informer) -> set[str]:
    return {o["metadata"]["name"] for o in informer.indexed("rs")}


def instance(obj: KubeDict) -> str | None:
    return (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/instance")


async def test_an_informer_holds_what_was_there_and_follows_every_change(core: client.CoreV1Api) -> None:
    await core.create_namespaced_config_map("default", config_map("before"))
    await core.create_namespaced_config_map("default", config_map("not-ours", ours=False))
    changed: list[str] = []
    informer = Informer(
        core, "list_config_map_for_all_namespaces", OURS, lambda o: changed.append(o["metadata"]["name"]), instance
    )
    following = asyncio.ensure_future(informer.run())
    try:
        await informer.synced.wait()
        assert {"before"} == names(informer) and len(informer) == 1
        await core.create_namespaced_config_map("default", config_map("after"))
        await core.patch_namespaced_config_map("before", "default", {"data": {"v": "2"}})
        await core.delete_namespaced_config_map("after", "default")

        def updated_and_gone() -> bool:
            before = informer.get("default", "before")
            return before is not None and before["data"] == {"v": "2"} and names(informer) == {"before"}

        await eventually(updated_and_gone, "the update and the deletion")
        assert ["before", "after", "before", "after"] == changed
    finally:
        following.cancel()


async def test_after_a_broken_watch_the_informer_lists_again_and_sees_deletions(core: client.CoreV1Api) -> None:
    for name in ("kept", "deleted"):
        await core.create_namespaced_config_map("default", config_map(name))
    gone: list[str] = []
    informer = Informer(
        core,
        "list_config_map_for_all_namespaces",
        OURS,
        lambda o: gone.append(o["metadata"]["name"]) if o["metadata"]["name"] == "deleted" else None,
        instance,
    )
    following = asyncio.ensure_future(informer.run())
    await informer.synced.wait()
    following.cancel()  # the connection drops; the cluster changes meanwhile
    await core.delete_namespaced_config_map("deleted", "default")
    await core.create_namespaced_config_map("default", config_map("new"))
    following = asyncio.ensure_future(informer.run())
    try:
        await eventually(lambda: names(informer) == {"kept", "new"}, "the cluster as it is after the gap")
        assert ["deleted", "deleted"] == gone, "the deletion missed while disconnected was reported"
    finally:
        following.cancel()


async def test_a_kind_without_its_definition_is_logged_as_not_served(
    core: client.CoreV1Api, caplog: pytest.LogCaptureFixture
) -> None:
    """An operator reading the agent's log learns why its custom-resource watch waits: the API's 404, not an
    exception's empty repr; once at info, its retries at debug (100 idle clusters would log 100 lines a minute)."""
    custom = client.CustomObjectsApi(core.api_client)
    informer = Informer(custom, "list_cluster_custom_object", "", lambda o: None, args=("example.io", "v1", "things"))
    following = asyncio.ensure_future(informer.run())

    def retries() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.msg == "watch broke, listing again"]

    try:
        with caplog.at_level("DEBUG", logger="fedstate.informer"):
            await eventually(lambda: len(retries()) >= 2, "two retries")
    finally:
        following.cancel()
    first, again = retries()[:2]
    assert first.error.startswith("404 Not Found") and "CustomResourceDefinition" in first.error  # type: ignore[attr-defined]
    assert (logging.INFO, logging.DEBUG) == (first.levelno, again.levelno)
    assert not informer.synced.is_set()


async def test_a_status_the_agent_does_not_read_sends_it_nowhere_a_pods_progress_does(core: client.CoreV1Api) -> None:
    """The simulated StatefulSet controller counts its replicas in the StatefulSet's status several times while its
    pod starts: none of that is a reason for the agent to look again. The pod being scheduled, running and ready is."""
    apps = client.AppsV1Api(core.api_client)
    labels = {"app.kubernetes.io/managed-by": "fedstate-agent", "app.kubernetes.io/instance": "rs"}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "mongod", "image": "mongo:6.0"}]}}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "rs-m0", "labels": labels},
           "spec": {"replicas": 1, "serviceName": "rs-m0", "selector": {"matchLabels": labels}, "template": template}}  # fmt: skip
    told: dict[str, list[KubeDict]] = {"StatefulSet": [], "Pod": []}
    informers = {
        "StatefulSet": Informer(
            apps, "list_stateful_set_for_all_namespaces", OURS, told["StatefulSet"].append, notable=without_status
        ),
        "Pod": Informer(core, "list_pod_for_all_namespaces", OURS, told["Pod"].append, notable=pod_as_observed),
    }
    following = [asyncio.ensure_future(i.run()) for i in informers.values()]
    try:
        for informer in informers.values():
            await informer.synced.wait()
        await apps.create_namespaced_stateful_set("default", sts)

        def ready() -> bool:
            stored = informers["StatefulSet"].get("default", "rs-m0")
            return stored is not None and (stored.get("status") or {}).get("readyReplicas") == 1

        await eventually(ready, "the StatefulSet's pod ready")
        assert 1 == len(told["StatefulSet"])  # created; its status changed since, and nothing else
        phases = [p["status"].get("phase") for p in told["Pod"]]
        assert "Running" == phases[-1] and "Pending" in phases, phases
        assert {"True"} == {c["status"] for c in told["Pod"][-1]["status"]["conditions"] if c["type"] == "Ready"}
    finally:
        for task in following:
            task.cancel()
