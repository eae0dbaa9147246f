"""Updates (issue 5, item 2): an image upgrade rolls the members one at a time, secondaries first and the
primary stepped down last, then raises featureCompatibilityVersion; a downgrade across major versions
is refused; resources, exporter, pull policy and pull secret, and the mongod config roll the same way."""

from __future__ import annotations

import threading
import time
from typing import Any

from kubernetes import client
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from fedstate.cli.localstack import LocalStack

from .invariants import Ledger, apply, check, cluster_names, kube, uri_for, wait_settled

NAME = "rolly"
PASSWORD = "roll-pass"
HEALTHY = {"PRIMARY", "SECONDARY", "ARBITER"}


class DownWatch(threading.Thread):
    """Polls every voting member directly (its own state, not a peer's lagging view) and remembers the
    most voting members seen not PRIMARY/SECONDARY/ARBITER at once."""

    def __init__(self, uri: str) -> None:
        super().__init__(daemon=True)
        with MongoClient(uri, serverSelectionTimeoutMS=10_000) as mongo:
            members = mongo.admin.command("replSetGetConfig")["config"]["members"]
        self.voters = [m["host"] for m in members if m.get("votes", 1)]
        self.most_down = 0
        self.seen: list[tuple[str, str]] = []
        self.stop = threading.Event()

    @staticmethod
    def state(mongo: MongoClient[dict[str, Any]]) -> str:
        try:
            hello = mongo.admin.command("hello")
        except PyMongoError:
            return "DOWN"
        if hello.get("isWritablePrimary"):
            return "PRIMARY"
        return "SECONDARY" if hello.get("secondary") else "ARBITER" if hello.get("arbiterOnly") else "OTHER"

    def run(self) -> None:
        clients = [
            MongoClient(h, directConnection=True, serverSelectionTimeoutMS=300, connectTimeoutMS=300)
            for h in self.voters
        ]
        try:
            while not self.stop.is_set():
                states = [(h, self.state(c)) for h, c in zip(self.voters, clients, strict=True)]
                down = [s for s in states if s[1] not in HEALTHY]
                if len(down) > self.most_down:
                    self.most_down, self.seen = len(down), states
                time.sleep(0.05)
        finally:
            for c in clients:
                c.close()


def restarts(stack: LocalStack) -> list[str]:
    return [e.message for e in stack.gateway.events("default", NAME).items if e.reason == "MemberRestarting"]


def pods(stack: LocalStack) -> list[Any]:
    found = []
    for cluster in cluster_names(stack):
        with kube(stack, cluster) as api:
            found += (
                client.CoreV1Api(api)
                .list_namespaced_pod("default", label_selector=f"app.kubernetes.io/instance={NAME}")
                .items
            )
    return found


def test_an_upgrade_rolls_members_then_raises_fcv_and_a_downgrade_is_refused(stack: LocalStack) -> None:
    apply(stack, NAME, f"{{replicaset: 3, imageSetting: {{image: 'mongo:6.0'}}, auth: {{rootPasswd: {PASSWORD}}}}}")
    status = wait_settled(stack, NAME)
    before = {r["cluster"]: r["currentRevision"] for r in status["result"]}
    ledger = Ledger(uri_for(status, NAME, PASSWORD))
    ledger.write()
    watch = DownWatch(ledger.uri)
    watch.start()

    apply(stack, NAME, f"{{replicaset: 3, imageSetting: {{image: 'mongo:7.0'}}, auth: {{rootPasswd: {PASSWORD}}}}}")
    status = wait_settled(stack, NAME)
    watch.stop.set()
    check(stack, NAME, ledger)
    after = {r["cluster"]: r["currentRevision"] for r in status["result"]}
    assert set(before) == set(after) and all(before[c] != after[c] for c in before)
    assert 1 == len(set(after.values()))
    assert 3 == len(restarts(stack))
    reasons = [e.reason for e in stack.gateway.events("default", NAME).items]
    sequence = [r for r in reasons if r in ("MemberRestarting", "SteppedDown")]
    assert ["MemberRestarting", "MemberRestarting", "SteppedDown", "MemberRestarting"] == sequence
    assert watch.most_down <= 1, f"more than one voting member was down at once: {watch.seen}"
    with MongoClient(ledger.uri, serverSelectionTimeoutMS=10_000) as mongo:
        fcv = mongo.admin.command({"getParameter": 1, "featureCompatibilityVersion": 1})
        assert "7.0" == fcv["featureCompatibilityVersion"]["version"]
        for member in mongo.admin.command("replSetGetStatus")["members"]:
            host, port = member["name"].split(":")
            with MongoClient(host, int(port), directConnection=True) as one:
                assert one.admin.command("buildInfo")["version"].startswith("7.0")
    ledger.write()

    refused = stack.cli("apply", "-f", str(stack.workdir / f"{NAME}.yaml"), check=False)
    assert 0 == refused.returncode  # unchanged
    (stack.workdir / "down.yaml").write_text(
        (stack.workdir / f"{NAME}.yaml").read_text().replace("mongo:7.0", "mongo:6.0")
    )
    refused = stack.cli("apply", "-f", str(stack.workdir / "down.yaml"), check=False)
    assert 0 != refused.returncode
    assert "spec.imageSetting.image" in refused.stderr and "downgrading" in refused.stderr

    # Resources, the exporter, pull policy and pull credentials, and the mongod config: one more roll.
    (stack.workdir / "conf.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: rolly-conf}\n"
        "data: {mongod.conf: 'operationProfiling: {slowOpThresholdMs: 250}'}\n"
    )
    stack.cli("apply", "-f", str(stack.workdir / "conf.yaml"))
    apply(
        stack,
        NAME,
        "{replicaset: 3, auth: {rootPasswd: " + PASSWORD + "}, export: {enable: true},"
        " resource: {requests: {cpu: 250m, memory: 256Mi}, limits: {cpu: '1', memory: 512Mi}},"
        " imageSetting: {image: 'mongo:7.0', imagePullPolicy: Always, imagePullSecret: {username: u, password: p}},"
        " config: {configRef: rolly-conf, configSet: [{name: net.maxIncomingConnections, value: '100'}]}}",
    )
    status = wait_settled(stack, NAME)
    check(stack, NAME, ledger, extra_config_maps=3, pull_secret=True)
    assert 6 == len(restarts(stack))
    for pod in pods(stack):
        mongod = next(c for c in pod.spec.containers if c.name == "mongod")
        assert ("Always", "250m", "512Mi") == (
            mongod.image_pull_policy,
            mongod.resources.requests["cpu"],
            mongod.resources.limits["memory"],
        )
        assert ["exporter", "mongod"] == sorted(c.name for c in pod.spec.containers)
        assert [f"{NAME}-pull"] == [s.name for s in pod.spec.image_pull_secrets]
        assert "--config" in mongod.args
    with kube(stack, "member-1") as api:
        conf = client.CoreV1Api(api).read_namespaced_config_map(f"{NAME}-config", "default").data
    assert "maxIncomingConnections: 100" in conf["fedstate-mongod.conf"]
    assert "slowOpThresholdMs: 250" in conf["fedstate-mongod.conf"]
