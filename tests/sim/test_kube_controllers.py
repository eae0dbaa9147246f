# The official client types every model field as Optional and its methods as taking models, while it
# accepts plain dict bodies at runtime; these tests read fields the server always sets.
# mypy: disable-error-code="union-attr, arg-type, index, operator, misc"
"""The simulated controllers, observed through the asyncio official client: StatefulSets, volumes,
scheduling, readiness, and the MongoDB member start/stop calls (recorded by a fake MemberHost)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from kube_support import RecordingHost, eventually, mongod_statefulset, node_port_service
from kubernetes.aio import client

from fedstate_sim.config import SimSettings, default_config
from fedstate_sim.kube.controllers import members
from fedstate_sim.kube.tokens import ADMIN_TOKEN
from fedstate_sim.mongo.api import MemberLaunch
from fedstate_sim.world import World

ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}  # the simulator's cluster-admin

NS = "db"


@dataclass
class Env:
    world: World
    host: RecordingHost
    core: client.CoreV1Api
    apps: client.AppsV1Api
    storage: client.StorageV1Api


async def _env(settings: SimSettings | None = None) -> AsyncIterator[Env]:
    host = RecordingHost()
    async with World(default_config(1, settings), host=host) as world:
        async with client.ApiClient(
            client.Configuration(host=world.clusters["member-1"].api_url, api_key=ADMIN)
        ) as api:
            env = Env(world, host, client.CoreV1Api(api), client.AppsV1Api(api), client.StorageV1Api(api))
            await env.core.create_namespace({"metadata": {"name": NS}})
            yield env


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async for value in _env():
        yield value


@pytest.fixture
async def slow_env() -> AsyncIterator[Env]:
    async for value in _env(SimSettings(pod_startup_seconds=0.3)):
        yield value


async def _ready_replicas(env: Env, name: str, want: int) -> bool:
    sts = await env.apps.read_namespaced_stateful_set(name, NS)
    return sts.status.ready_replicas == want and sts.status.replicas == want


async def _events(env: Env, name: str) -> list[tuple[str, str, str]]:
    items = (await env.core.list_namespaced_event(NS, field_selector=f"involvedObject.name={name}")).items
    return [(e.type, e.reason, e.message) for e in items]


async def test_statefulset_pods_become_ready_with_bound_claims(env: Env) -> None:
    await env.apps.create_namespaced_stateful_set(NS, mongod_statefulset("rs", replicas=3))
    await eventually(lambda: _ready_replicas(env, "rs", 3))
    pods = (await env.core.list_namespaced_pod(NS, label_selector="app=rs")).items
    assert [p.metadata.name for p in pods] == ["rs-0", "rs-1", "rs-2"]
    assert len({p.spec.node_name for p in pods}) == 3, "least-allocated spreads the pods"
    vip = env.world.clusters["member-1"].vip
    assert all(p.status.pod_ip == vip and p.status.container_statuses[0].ready for p in pods)
    assert pods[0].metadata.owner_references[0].kind == "StatefulSet"
    claims = (await env.core.list_namespaced_persistent_volume_claim(NS)).items
    assert [(c.metadata.name, c.status.phase, c.spec.storage_class_name) for c in claims] == [
        (f"data-rs-{i}", "Bound", "standard") for i in range(3)
    ]
    sts = await env.apps.read_namespaced_stateful_set("rs", NS)
    assert sts.status.current_revision == sts.status.update_revision and sts.status.observed_generation == 1


async def test_rolling_update_and_scaling(env: Env) -> None:
    await env.apps.create_namespaced_stateful_set(NS, mongod_statefulset("rs", replicas=2))
    await eventually(lambda: _ready_replicas(env, "rs", 2))
    await env.apps.patch_namespaced_stateful_set(
        "rs",
        NS,
        {"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "mongod", "image": "mongo:7.0"}]}}}},
    )

    async def rolled() -> bool:
        sts = await env.apps.read_namespaced_stateful_set("rs", NS)
        pods = (await env.core.list_namespaced_pod(NS)).items
        return (
            sts.status.updated_replicas == 3
            and sts.status.ready_replicas == 3
            and sts.status.current_revision == sts.status.update_revision
            and {p.spec.containers[0].image for p in pods} == {"mongo:7.0"}
        )

    await eventually(rolled)
    await env.apps.patch_namespaced_stateful_set("rs", NS, {"spec": {"replicas": 1}})
    await eventually(lambda: _ready_replicas(env, "rs", 1))
    claims = (await env.core.list_namespaced_persistent_volume_claim(NS)).items
    assert len(claims) == 3, "whenScaled=Retain keeps the claims"


async def test_pod_that_fits_nowhere_stays_pending(env: Env) -> None:
    await env.core.create_namespaced_pod(
        NS,
        {
            "metadata": {"name": "huge"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100"}}}]},
        },
    )
    message = "0/3 nodes are available: 3 Insufficient cpu."
    assert await eventually(lambda: _has_event(env, "huge", "FailedScheduling", message))
    pod = await env.core.read_namespaced_pod("huge", NS)
    scheduled = next(c for c in pod.status.conditions if c.type == "PodScheduled")
    assert (pod.status.phase, scheduled.status, scheduled.reason) == ("Pending", "False", "Unschedulable")
    assert pod.spec.node_name is None


async def _has_event(env: Env, name: str, reason: str, message: str) -> bool:
    return any(r == reason and m == message for _, r, m in await _events(env, name))


async def test_missing_storage_class_leaves_the_claim_pending(env: Env) -> None:
    await env.apps.create_namespaced_stateful_set(NS, mongod_statefulset("rs", storage_class="fast"))
    assert await eventually(
        lambda: _has_event(env, "data-rs-0", "ProvisioningFailed", 'storageclass.storage.k8s.io "fast" not found')
    )
    claim = await env.core.read_namespaced_persistent_volume_claim("data-rs-0", NS)
    assert claim.status.phase == "Pending"
    assert await eventually(
        lambda: _has_event(
            env,
            "rs-0",
            "FailedScheduling",
            "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
        )
    )
    await env.storage.create_storage_class({"metadata": {"name": "fast"}, "provisioner": "sim.fedstate.io/csi"})
    await eventually(lambda: _ready_replicas(env, "rs", 1))


async def test_readiness_waits_for_pod_startup_seconds(slow_env: Env) -> None:
    await slow_env.core.create_namespaced_pod(
        NS, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    )
    assert await eventually(lambda: _pod_state_is(slow_env, "p", ("Running", False)))
    assert await eventually(lambda: _pod_state_is(slow_env, "p", ("Running", True)))


async def _pod_state_is(env: Env, name: str, wanted: tuple[str, bool]) -> bool:
    pod = await env.core.read_namespaced_pod(name, NS)
    ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
    return (pod.status.phase, ready) == wanted


async def test_members_follow_pods_services_and_faults(env: Env) -> None:
    """start_member for a Ready mongod pod behind a NodePort; stop on kill and on cluster failure."""
    cluster = env.world.clusters["member-1"]
    await env.apps.create_namespaced_stateful_set(NS, mongod_statefulset("rs", repl_set="rs7"))
    service = await env.core.create_namespaced_service(NS, node_port_service("rs-0", "rs-0"))
    port = service.spec.ports[0].node_port
    launch = await eventually(lambda: _running(env, (cluster.vip, port)))
    assert (launch.cluster, launch.repl_set, launch.data_key, launch.pod, launch.image) == (
        "member-1",
        "rs7",
        f"member-1/{NS}/data-rs-0",
        f"{NS}/rs-0",
        "mongo:6.0",
    )
    first_uid = (await env.core.read_namespaced_pod("rs-0", NS)).metadata.uid
    await env.world.kill_pod("member-1", NS, "rs-0")
    await eventually(lambda: _recreated(env, first_uid))
    await eventually(lambda: _running(env, (cluster.vip, port)))
    assert ("stop", cluster.vip, port) in env.host.calls
    await env.world.fail_cluster("member-1")
    assert await eventually(lambda: _stopped(env, (cluster.vip, port)))
    assert ("down", "member-1", True) in env.host.calls
    await env.world.recover_cluster("member-1")
    await eventually(lambda: _running(env, (cluster.vip, port)))
    await env.core.delete_namespaced_service("rs-0", NS)
    assert await eventually(lambda: _stopped(env, (cluster.vip, port)))
    await env.apps.delete_namespaced_stateful_set("rs", NS)
    await env.core.delete_namespaced_persistent_volume_claim("data-rs-0", NS)
    assert await eventually(lambda: _called(env, ("forget", f"member-1/{NS}/data-rs-0")))


async def test_members_follow_service_spec_changes_only(env: Env) -> None:
    """Selector and type changes start and stop the member; Services selecting nothing and pod
    changes that no Service cares about leave it alone."""
    vip = env.world.clusters["member-1"].vip
    await env.apps.create_namespaced_stateful_set(NS, mongod_statefulset("rs"))
    port = (await env.core.create_namespaced_service(NS, node_port_service("rs-0", "rs-0"))).spec.ports[0].node_port
    assert await eventually(lambda: _running(env, (vip, port)))
    starts = sum(1 for call in env.host.calls if call[0] == "start")
    await env.core.create_namespaced_service(NS, node_port_service("idle", "nobody"))
    await env.core.patch_namespaced_pod("rs-0", NS, {"metadata": {"labels": {"note": "unrelated"}}})
    await env.core.patch_namespaced_service("rs-0", NS, {"metadata": {"labels": {"note": "unrelated"}}})
    await env.core.patch_namespaced_service(
        "rs-0", NS, {"spec": {"selector": {"statefulset.kubernetes.io/pod-name": "x"}}}
    )
    assert await eventually(lambda: _stopped(env, (vip, port)))
    await env.core.patch_namespaced_service(
        "rs-0", NS, {"spec": {"selector": {"statefulset.kubernetes.io/pod-name": "rs-0"}}}
    )
    assert await eventually(lambda: _running(env, (vip, port)))
    assert sum(1 for call in env.host.calls if call[0] == "start") == starts + 1
    assert not [call for call in env.host.calls if call[0] == "start" and call[1].port != port]
    await env.core.delete_namespaced_service("idle", NS)
    assert env.host.running.get((vip, port))


async def _running(env: Env, address: tuple[str, int]) -> object:
    return env.host.running.get(address)


async def _stopped(env: Env, address: tuple[str, int]) -> bool:
    return address not in env.host.running


async def _called(env: Env, call: tuple[str, ...]) -> bool:
    return call in env.host.calls


async def _recreated(env: Env, old_uid: str) -> bool:
    pods = (await env.core.list_namespaced_pod(NS, field_selector="metadata.name=rs-0")).items
    return bool(pods) and pods[0].metadata.uid != old_uid


async def test_a_taken_member_address_is_reported_and_retried(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process on VIP:nodePort gives a MemberStartFailed warning on the pod, then a retry."""
    monkeypatch.setattr(members, "_PORT_RETRY_SECONDS", 0.05)
    original = env.host.start_member
    failures: list[MemberLaunch] = []

    async def busy_once(launch: MemberLaunch) -> None:
        if not failures:
            failures.append(launch)
            raise OSError(98, "Address already in use")
        await original(launch)

    monkeypatch.setattr(env.host, "start_member", busy_once)
    await env.apps.create_namespaced_stateful_set(NS, mongod_statefulset("rs"))
    port = (await env.core.create_namespaced_service(NS, node_port_service("rs-0", "rs-0"))).spec.ports[0].node_port
    vip = env.world.clusters["member-1"].vip
    assert await eventually(lambda: _running(env, (vip, port)))
    reasons = [(t, r) for t, r, _ in await _events(env, "rs-0")]
    assert ("Warning", "MemberStartFailed") in reasons


def _keyed(name: str, secret: str) -> dict[str, object]:
    """A mongod StatefulSet started with --keyFile from the Secret ``secret`` mounted at /etc/auth."""
    sts = mongod_statefulset(name)
    pod = sts["spec"]["template"]["spec"]
    pod["containers"][0]["command"] += ["--keyFile", "/etc/auth/keyfile"]
    pod["containers"][0]["volumeMounts"] = [{"name": "auth", "mountPath": "/etc/auth", "readOnly": True}]
    pod["volumes"] = [{"name": "auth", "secret": {"secretName": secret, "defaultMode": 0o400}}]
    return sts


async def test_the_keyfile_comes_from_the_mounted_secret(env: Env) -> None:
    """The member starts with the keyFile's content (whitespace dropped) from the Secret its pod mounts."""
    await env.core.create_namespaced_secret(NS, {"metadata": {"name": "auth"}, "stringData": {"keyfile": "abc123\n"}})
    await env.apps.create_namespaced_stateful_set(NS, _keyed("rs", "auth"))
    port = (await env.core.create_namespaced_service(NS, node_port_service("rs-0", "rs-0"))).spec.ports[0].node_port
    launch = await eventually(lambda: _running(env, (env.world.clusters["member-1"].vip, port)))
    assert ("abc123", True) == (launch.key_file, launch.access_control)


async def test_a_pod_whose_secret_is_missing_waits_in_container_creating_until_it_exists(env: Env) -> None:
    """As kubelet: a Secret volume that cannot be set up starts no container (Pending, ContainerCreating, not Ready,
    a FailedMount warning), and no member; once the Secret exists, a later try mounts it and mongod starts."""
    await env.apps.create_namespaced_stateful_set(NS, _keyed("rs", "auth"))
    port = (await env.core.create_namespaced_service(NS, node_port_service("rs-0", "rs-0"))).spec.ports[0].node_port

    async def failed_mount() -> list[str]:
        return [m for t, r, m in await _events(env, "rs-0") if (t, r) == ("Warning", "FailedMount")]

    assert ['MountVolume.SetUp failed for volume "auth" : secret "auth" not found'] == await eventually(failed_mount)
    pod = await env.core.read_namespaced_pod("rs-0", NS)
    waiting = pod.status.container_statuses[0].state.waiting
    assert ("Pending", "ContainerCreating") == (pod.status.phase, waiting.reason)
    assert not [c for c in pod.status.conditions if c.type == "Ready" and c.status == "True"]
    assert not [call for call in env.host.calls if call[0] == "start"]
    await env.core.create_namespaced_secret(NS, {"metadata": {"name": "auth"}, "stringData": {"keyfile": "abc123\n"}})
    launch = await eventually(lambda: _running(env, (env.world.clusters["member-1"].vip, port)))
    assert "abc123" == launch.key_file


async def test_a_config_map_volume_naming_a_missing_key_is_not_mounted(env: Env) -> None:
    """``items`` naming a key the ConfigMap lacks is a FailedMount too; an ``optional`` volume whose Secret is
    missing is skipped."""
    await env.core.create_namespaced_config_map(NS, {"metadata": {"name": "cm"}, "data": {"other": "x"}})
    sts = mongod_statefulset("rs")
    sts["spec"]["template"]["spec"]["volumes"] = [
        {"name": "conf", "configMap": {"name": "cm", "items": [{"key": "mongod.conf", "path": "m.conf"}]}},
        {"name": "extra", "secret": {"secretName": "absent", "optional": True}},
    ]
    await env.apps.create_namespaced_stateful_set(NS, sts)

    async def failed_mount() -> list[str]:
        return [m for t, r, m in await _events(env, "rs-0") if (t, r) == ("Warning", "FailedMount")]

    message = 'MountVolume.SetUp failed for volume "conf" : configmap references non-existent config key: mongod.conf'
    assert [message] == await eventually(failed_mount)
    assert "Pending" == (await env.core.read_namespaced_pod("rs-0", NS)).status.phase


async def test_a_mongod_without_its_keyfile_does_not_start(env: Env) -> None:
    """A keyFile that cannot be read (its Secret lacks it) stops mongod at start: no member, a MemberStartFailed
    warning saying why."""
    await env.core.create_namespaced_secret(NS, {"metadata": {"name": "other"}, "stringData": {"password": "x"}})
    await env.apps.create_namespaced_stateful_set(NS, _keyed("rs", "other"))
    await env.core.create_namespaced_service(NS, node_port_service("rs-0", "rs-0"))

    async def warned() -> list[str]:
        return [m for t, r, m in await _events(env, "rs-0") if r == "MemberStartFailed"]

    assert ["mongod exits: Error reading file /etc/auth/keyfile: No such file or directory"] == await eventually(warned)
    assert not [call for call in env.host.calls if call[0] == "start"]


async def _member_pod(env: Env) -> tuple[tuple[str, int], str]:
    """A Ready mongod pod backing a member: its member's address and the pod's uid."""
    vip = env.world.clusters["member-1"].vip
    await env.apps.create_namespaced_stateful_set(NS, mongod_statefulset("rs"))
    port = (await env.core.create_namespaced_service(NS, node_port_service("rs-0", "rs-0"))).spec.ports[0].node_port
    await eventually(lambda: _running(env, (vip, port)))
    return (vip, port), (await env.core.read_namespaced_pod("rs-0", NS)).metadata.uid


async def test_a_deleted_pod_terminates_its_mongod_shuts_down_then_it_goes_and_comes_back(env: Env) -> None:
    """As kube-apiserver and kubelet: the delete marks the pod (deletionTimestamp at the end of its 30 s grace
    period), its container gets SIGTERM (a clean mongod shutdown), then the pod goes; the StatefulSet makes the next."""
    address, uid = await _member_pod(env)
    deleted = await env.core.delete_namespaced_pod("rs-0", NS)
    assert (uid, 30) == (deleted.metadata.uid, deleted.metadata.deletion_grace_period_seconds)
    assert deleted.metadata.deletion_timestamp is not None
    await eventually(lambda: _recreated(env, uid))
    assert ("shut down", *address) in env.host.calls
    await eventually(lambda: _running(env, address))


def _sigterm_never_ends(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Members whose clean shutdown does not end (a primary waiting for a secondary): only a kill stops them."""
    record = env.host.stop_member

    async def hangs_on_sigterm(host: str, port: int, clean: bool = False) -> None:
        if clean:
            await asyncio.Event().wait()
        await record(host, port)

    monkeypatch.setattr(env.host, "stop_member", hangs_on_sigterm)


async def test_a_mongod_that_outlives_its_grace_period_is_killed(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean shutdown that does not end (a primary waiting for a secondary) holds the pod, Terminating and not
    Ready, for its grace period only; then it is killed and the pod goes."""
    address, uid = await _member_pod(env)
    _sigterm_never_ends(env, monkeypatch)
    await env.core.delete_namespaced_pod("rs-0", NS, grace_period_seconds=2)

    async def terminating() -> object:
        pod = await env.core.read_namespaced_pod("rs-0", NS)
        ready = next(c.status for c in pod.status.conditions if c.type == "Ready")
        return pod.metadata.deletion_timestamp is not None and ready == "False"

    assert await eventually(terminating)
    await asyncio.sleep(1)
    assert uid == (await env.core.read_namespaced_pod("rs-0", NS)).metadata.uid, "gone before its grace period"
    await eventually(lambda: _recreated(env, uid), timeout=5)
    assert ("stop", *address) in env.host.calls


async def test_a_second_delete_with_a_shorter_grace_period_has_the_mongod_killed_sooner(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pod deleted with 30 s, then again with 1 s: the API server keeps the shorter period and the kubelet kills
    the container when that one ends, not 30 s after the first delete; a longer one asked after that changes
    nothing."""
    address, uid = await _member_pod(env)
    _sigterm_never_ends(env, monkeypatch)
    await env.core.delete_namespaced_pod("rs-0", NS, grace_period_seconds=30)
    await asyncio.sleep(0.5)
    shortened = await env.core.delete_namespaced_pod("rs-0", NS, grace_period_seconds=1)
    assert 1 == shortened.metadata.deletion_grace_period_seconds
    lengthened = await env.core.delete_namespaced_pod("rs-0", NS, grace_period_seconds=20)
    assert 1 == lengthened.metadata.deletion_grace_period_seconds
    await eventually(lambda: _recreated(env, uid), timeout=5)
    assert ("stop", *address) in env.host.calls


async def test_a_pod_deleted_with_no_grace_period_goes_at_once(env: Env) -> None:
    """``--grace-period=0 --force``: no SIGTERM, no Terminating pod."""
    address, uid = await _member_pod(env)
    await env.core.delete_namespaced_pod("rs-0", NS, grace_period_seconds=0)
    await eventually(lambda: _recreated(env, uid))
    assert ("stop", *address) in env.host.calls and ("shut down", *address) not in env.host.calls
