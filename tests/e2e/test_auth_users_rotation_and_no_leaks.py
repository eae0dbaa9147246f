"""Auth (issue 5, item 4): a generated root password, a keyFile of the instance's own, root,
clusterAdmin and clusterMonitor each with its own password in a Secret per member cluster, rotation when
auth.rootPasswd changes, and no credential in logs, events or status.

No secret in clear on the bus (issue 10, item 3): through a create, a root-password rotation, a scale and a
delete, no password, keyFile or registry password is in any message the bus carried (the intake requests, whose
passwords the gateway sealed to the federation, included) or any stream holds (every bucket's history), in any log,
event, status or REST response. The same holds of a single-cluster MongoDB's rootPassword and registry password,
through its create, its root-password rotation and its delete."""

from __future__ import annotations

import base64
import json
import re
import time

from kubernetes import client
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from fedstate.api.resources import MONGODB, MULTICLOUD_MONGODB
from fedstate.cli.localstack import LocalStack

from .bus_tap import BusTap
from .invariants import Ledger, apply, auth_secrets, check, kube, uri_for, wait_gone, wait_settled
from .test_single_cluster_mongodb import wait_running

NAME = "authy"
CLUSTER = "member-2"
NEW_ROOT = "rotated-root-pass"
REGISTRY_PASSWORD = "registry-pass-4711"
PULL = f"imageSetting: {{imagePullSecret: {{username: bot, password: {REGISTRY_PASSWORD}}}}}"


def logs_in(status: dict[str, object], user: str, password: str) -> bool:
    hosts = status["externalAddr"]
    uri = f"mongodb://{user}:{password}@{hosts}/?replicaSet={NAME}&authSource=admin"
    with MongoClient(uri, serverSelectionTimeoutMS=10_000) as mongo:
        try:
            mongo.admin.command("ping")
        except OperationFailure:
            return False
    return True


def pull_secrets(stack: LocalStack) -> dict[str, str]:
    """cluster → the dockerconfigjson of ``<name>-pull``, decoded."""
    found = {}
    for cluster in stack.gateway.clusters().items:
        with kube(stack, cluster.name) as api:
            for secret in client.CoreV1Api(api).list_namespaced_secret("default").items:
                if secret.metadata.name == f"{NAME}-pull":
                    found[cluster.name] = base64.b64decode(secret.data[".dockerconfigjson"]).decode()
    return found


def test_users_have_their_own_passwords_root_rotates_and_nothing_leaks(stack: LocalStack) -> None:
    with BusTap(stack) as tap:
        secrets_seen, surfaces = users_rotation_scale_and_delete(stack)
        single_secrets, single_surfaces = single_cluster_rotation_and_delete(stack)
    secrets_seen += single_secrets
    surfaces |= single_surfaces
    for log in stack.paths.logs.glob("*.log"):
        surfaces[log.name] = log.read_text(errors="replace")
    for secret in secrets_seen:
        assert [] == tap.where(secret), "a credential is in clear on the bus"
    assert tap.published and tap.stored, "the tap saw the bus"
    assert tap.intake_requests(), "the tap saw the intake requests"
    for where, text in surfaces.items():
        for secret in secrets_seen:
            assert secret not in text, f"a credential appears in {where}"


def users_rotation_scale_and_delete(stack: LocalStack) -> tuple[list[str], dict[str, str]]:
    """Create, rotate root, scale, delete: the secrets that were used, and what a user could read meanwhile."""
    spec = f"{{replicaset: 3, export: {{enable: true}}, {PULL}}}"
    apply(stack, NAME, spec)
    status = wait_settled(stack, NAME)
    assert 3 == len(pulls := pull_secrets(stack)) and all(REGISTRY_PASSWORD in p for p in pulls.values())
    secrets = auth_secrets(stack, NAME)
    assert 3 == len(secrets) and 1 == len({json.dumps(s, sort_keys=True) for s in secrets.values()})
    creds = next(iter(secrets.values()))
    assert {"keyfile", "root-password", "cluster-admin-password", "cluster-monitor-password"} == set(creds)
    assert 4 == len(set(creds.values())), "every user and the keyFile have their own secret"
    assert re.fullmatch(r"[A-Za-z0-9+/]{64}", creds["keyfile"]), "mongod accepts only base64 characters"
    generated = creds["root-password"]
    for user, key in (("root", "root-password"), ("clusterAdmin", "cluster-admin-password"),
                      ("clusterMonitor", "cluster-monitor-password")):  # fmt: skip
        assert logs_in(status, user, creds[key]), user
    ledger = Ledger(uri_for(status, NAME, generated))
    ledger.write()

    apply(stack, NAME, f"{{replicaset: 3, export: {{enable: true}}, auth: {{rootPasswd: {NEW_ROOT}}}, {PULL}}}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not logs_in(status, "root", NEW_ROOT):
        time.sleep(0.5)
    assert logs_in(status, "root", NEW_ROOT)
    assert not logs_in(status, "root", generated)
    status = wait_settled(stack, NAME)
    assert {NEW_ROOT} == {s["root-password"] for s in auth_secrets(stack, NAME).values()}
    ledger.uri = uri_for(status, NAME, NEW_ROOT)
    check(stack, NAME, ledger, pull_secret=True)
    events = [e.reason for e in stack.gateway.events("default", NAME).items]
    assert "Users" in events

    secrets_seen = [
        generated,
        NEW_ROOT,
        creds["cluster-admin-password"],
        creds["cluster-monitor-password"],
        creds["keyfile"],
        REGISTRY_PASSWORD,
    ]
    obj = stack.gateway.get_object(MULTICLOUD_MONGODB, "default", NAME)
    item = MULTICLOUD_MONGODB.item_path("default", NAME)
    surfaces = {
        "status": json.dumps(obj.status),
        "events": json.dumps([e.to_wire() for e in stack.gateway.events("default", NAME).items]),
        "describe": stack.cli("describe", "mcm", NAME).stdout,
        "get -o yaml": stack.cli("get", "mcm", NAME, "-o", "yaml").stdout,
        "apply's answer": stack.cli("apply", "-f", str(stack.workdir / f"{NAME}.yaml")).stdout,
        "GET dataplane": json.dumps(stack.gateway.find(f"{item}/dataplane")),
        "GET placement": json.dumps(stack.gateway.find(f"{item}/placement")),
    }

    apply(stack, NAME, f"{{replicaset: 5, export: {{enable: true}}, auth: {{rootPasswd: {NEW_ROOT}}}, {PULL}}}")
    status = wait_settled(stack, NAME)
    ledger.uri = uri_for(status, NAME, NEW_ROOT)
    assert 5 == len(check(stack, NAME, ledger, pull_secret=True)["members"])
    surfaces["GET dataplane, scaled"] = json.dumps(stack.gateway.find(f"{item}/dataplane"))

    stack.cli("delete", "mcm", NAME)
    wait_gone(stack, NAME)
    surfaces["events, deleted"] = json.dumps([e.to_wire() for e in stack.gateway.events("default", NAME).items])
    return secrets_seen, surfaces


SINGLE = "authy-single"
SINGLE_ROOT, SINGLE_NEW_ROOT, SINGLE_REGISTRY = "single-root-pass-1", "single-root-pass-2", "single-registry-pass"


def single_cluster_rotation_and_delete(stack: LocalStack) -> tuple[list[str], dict[str, str]]:
    """A single-cluster MongoDB with a rootPassword and a registry password: created, root rotated, deleted."""

    def applied(root: str) -> None:
        pull = f"imagePullSecret: {{username: bot, password: {SINGLE_REGISTRY}}}"
        apply(stack, SINGLE, f"{{members: 1, rootPassword: {root}, {pull}}}", "MongoDB", "--cluster", CLUSTER)

    applied(SINGLE_ROOT)
    wait_running(stack, SINGLE, CLUSTER, 1)
    assert {CLUSTER: SINGLE_ROOT} == {c: s["root-password"] for c, s in auth_secrets(stack, SINGLE).items()}
    applied(SINGLE_NEW_ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and auth_secrets(stack, SINGLE)[CLUSTER]["root-password"] != SINGLE_NEW_ROOT:
        time.sleep(0.5)
    status = wait_running(stack, SINGLE, CLUSTER, 1)
    assert SINGLE_NEW_ROOT == auth_secrets(stack, SINGLE)[CLUSTER]["root-password"], "the agent opened the new one"
    surfaces = {
        "single-cluster status": json.dumps(status),
        "get mongodb -o yaml": stack.cli("get", "mongodb", SINGLE, "--cluster", CLUSTER, "-o", "yaml").stdout,
        "describe mongodb": stack.cli("describe", "mongodb", SINGLE).stdout,
        "single-cluster events": json.dumps([e.to_wire() for e in stack.gateway.events("default", SINGLE).items]),
    }
    stack.cli("delete", "mongodb", SINGLE)
    wait_gone(stack, SINGLE, MONGODB)
    return [SINGLE_ROOT, SINGLE_NEW_ROOT, SINGLE_REGISTRY], surfaces
