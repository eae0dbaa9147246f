"""Render the Kubernetes objects of one instance's members in this cluster (pure).

Per member ``i``: a NodePort Service and a one-replica StatefulSet named ``<instance>-m<i>``, whose
data volume claim is named after the instance's uid (``data-<uid8>-<instance>-m<i>-0``) so that a new
instance of the same name never attaches the volumes an earlier one left behind, unless it asked to
adopt them (then ``volume_uid`` is the earlier instance's); an arbiter keeps no data and gets an
``emptyDir``. Per instance: the ``<instance>-auth`` Secret, the image pull Secret
when credentials are given, and the ``<instance>-config`` ConfigMap when a ``configRef`` or
``configSet`` is given (mongod reads the merged ``fedstate-mongod.conf`` through ``--config``).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import yaml

from fedstate.models.dataplane import DataPlaneSpec, MemberSpec

MONGO_PORT = 27017
EXPORTER_PORT = 9216
EXPORTER_IMAGE = "percona/mongodb_exporter:0.40"
FIELD_MANAGER = "fedstate-agent"
INSTANCE_LABEL = "app.kubernetes.io/instance"
MEMBER_LABEL = "fedstate.io/member"
MANAGED_BY = {"app.kubernetes.io/managed-by": FIELD_MANAGER, "app.kubernetes.io/name": "mongodb"}
REVISION_ANNOTATION = "fedstate.io/revision"
# How this agent renders a member's pod. Bump it with any change to the rendering that changes what a
# running pod is (an agent upgrade): members whose pods carry another render version count as outdated,
# so the orchestrator restarts them one at a time, as for a spec change, instead of every pod at once.
# tests/agent/test_rendering_changes_roll_members.py pins the rendering of this version.
RENDER_VERSION = 1
RENDER_ANNOTATION = "fedstate.io/render"
UID_LABEL = "fedstate.io/instance-uid"
# On top-level objects only (never on pod templates or selectors): which kind of instance owns them,
# so a single-cluster MongoDB and a federated member of the same name are never torn down for each other.
KIND_LABEL = "fedstate.io/kind"
KEYFILE_PATH = "/etc/mongod-auth/keyfile"
CONFIG_DIR = "/etc/mongod"
CONFIG_FILE = "fedstate-mongod.conf"
DOCKER_HUB = "https://index.docker.io/v1/"


def instance_labels(spec: DataPlaneSpec) -> dict[str, str]:
    return {**MANAGED_BY, INSTANCE_LABEL: spec.instance.name}


def member_labels(spec: DataPlaneSpec, member: MemberSpec) -> dict[str, str]:
    return {**instance_labels(spec), MEMBER_LABEL: f"m{member.ordinal}"}


def auth_secret_name(spec: DataPlaneSpec) -> str:
    return f"{spec.instance.name}-auth"


def config_map_name(spec: DataPlaneSpec) -> str:
    return f"{spec.instance.name}-config"


def pull_secret(spec: DataPlaneSpec) -> dict[str, Any] | None:
    """A dockerconfigjson Secret named ``image_pull_secret`` when registry credentials were given."""
    creds = spec.registry_credentials
    if creds is None or not spec.image_pull_secret:
        return None
    token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    config = {
        "auths": {creds.registry or DOCKER_HUB: {"username": creds.username, "password": creds.password, "auth": token}}
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(spec.image_pull_secret, spec, instance_labels(spec)),
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }


def volume_name(spec: DataPlaneSpec) -> str:
    """The data volume claim template: ``data-<first 8 of the uid>``, the uid of the instance whose
    volumes the members mount (its own, or a deleted one's it adopted)."""
    uid = (spec.volume_uid or spec.instance.uid).replace("-", "")[:8]
    return f"data-{uid}" if uid else "data"


def _meta(name: str, spec: DataPlaneSpec, labels: dict[str, str]) -> dict[str, Any]:
    labels = {**labels, KIND_LABEL: spec.instance.kind.lower()}
    return {"name": name, "namespace": spec.instance.namespace, "labels": labels}


def auth_secret(spec: DataPlaneSpec) -> dict[str, Any]:
    creds = spec.unsealed()
    values = {
        "keyfile": creds.key_file,
        "root-password": creds.root_password,
        "cluster-admin-password": creds.cluster_admin_password,
        "cluster-monitor-password": creds.cluster_monitor_password,
    }
    if creds.previous_root_password:
        # Kept until the next change, so a restarted agent can still finish a rotation.
        values["previous-root-password"] = creds.previous_root_password
    if creds.older_root_passwords:
        values["older-root-passwords"] = json.dumps(creds.older_root_passwords)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(auth_secret_name(spec), spec, instance_labels(spec)),
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def _scalar(text: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, str | int | float | bool) else text


def merged_config(spec: DataPlaneSpec) -> dict[str, Any]:
    """mongod options: every YAML ``*.conf``/``*.yaml`` of the configRef content, then each configSet
    entry (``net.maxIncomingConnections: 100``: a dotted option path and its value) on top."""
    merged: dict[str, Any] = {}
    for name, text in sorted((spec.config_content or {}).items()):
        if name.endswith((".conf", ".yaml", ".yml")):
            try:
                loaded = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            if isinstance(loaded, dict):
                _merge(merged, loaded)
    for entry in spec.config_set:
        *path, leaf = entry.name.split(".")
        node = merged
        for part in path:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else node
        node[leaf] = _scalar(entry.value)
    return merged


def mongod_config(spec: DataPlaneSpec) -> dict[str, Any] | None:
    """The custom mongod config: the federated ConfigMap's content plus the merged file mongod reads."""
    if spec.config_content is None and not spec.config_set:
        return None
    data = {k: v for k, v in (spec.config_content or {}).items() if k != CONFIG_FILE}
    data[CONFIG_FILE] = yaml.safe_dump(merged_config(spec), sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(config_map_name(spec), spec, instance_labels(spec)),
        "data": data,
    }


def member_service(spec: DataPlaneSpec, member: MemberSpec) -> dict[str, Any]:
    ports = [{"name": "mongodb", "port": MONGO_PORT, "targetPort": MONGO_PORT, "protocol": "TCP"}]
    if spec.export.enable:
        ports.append({"name": "metrics", "port": EXPORTER_PORT, "targetPort": EXPORTER_PORT, "protocol": "TCP"})
    labels = member_labels(spec, member)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(member.name, spec, labels),
        "spec": {
            "type": "NodePort",
            "selector": {INSTANCE_LABEL: spec.instance.name, MEMBER_LABEL: labels[MEMBER_LABEL]},
            "ports": ports,
            # Members must find each other while starting, before they are Ready.
            "publishNotReadyAddresses": True,
        },
    }


def _resources(requirements: Any) -> dict[str, Any]:
    return requirements.to_wire() if requirements is not None else {}


def _mongod_container(spec: DataPlaneSpec, has_config: bool) -> dict[str, Any]:
    args = ["--replSet", spec.repl_set_name, "--bind_ip_all", "--port", str(MONGO_PORT), "--keyFile", KEYFILE_PATH]
    if has_config:
        args += ["--config", f"{CONFIG_DIR}/{CONFIG_FILE}"]
    mounts = [
        {"name": volume_name(spec), "mountPath": "/data/db"},
        {"name": "auth", "mountPath": "/etc/mongod-auth", "readOnly": True},
    ]
    if has_config:
        mounts.append({"name": "config", "mountPath": CONFIG_DIR, "readOnly": True})
    return {
        "name": "mongod",
        "image": spec.image,
        "imagePullPolicy": spec.image_pull_policy,
        "command": ["mongod"],
        "args": args,
        **({"env": [{"name": e.name, "value": e.value} for e in spec.env]} if spec.env else {}),
        "ports": [{"name": "mongodb", "containerPort": MONGO_PORT, "protocol": "TCP"}],
        "resources": _resources(spec.resources),
        "volumeMounts": mounts,
        "readinessProbe": {"tcpSocket": {"port": MONGO_PORT}, "periodSeconds": 5},
    }


def _exporter_container(spec: DataPlaneSpec) -> dict[str, Any]:
    return {
        "name": "exporter",
        "image": EXPORTER_IMAGE,
        "args": [f"--mongodb.uri=mongodb://127.0.0.1:{MONGO_PORT}", "--collect-all"],
        "env": [
            {
                "name": "MONGODB_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": auth_secret_name(spec), "key": "cluster-monitor-password"}},
            }
        ],
        "ports": [{"name": "metrics", "containerPort": EXPORTER_PORT, "protocol": "TCP"}],
        "resources": _resources(spec.export.resource),
    }


def _pod_spec(spec: DataPlaneSpec, member: MemberSpec, has_config: bool) -> dict[str, Any]:
    containers = [_mongod_container(spec, has_config)]
    if spec.export.enable and not member.arbiter:
        containers.append(_exporter_container(spec))
    volumes: list[dict[str, Any]] = [
        {"name": "auth", "secret": {"secretName": auth_secret_name(spec), "defaultMode": 0o400}}
    ]
    if member.arbiter:
        volumes.append({"name": volume_name(spec), "emptyDir": {}})
    if has_config:
        volumes.append({"name": "config", "configMap": {"name": config_map_name(spec)}})
    pod: dict[str, Any] = {"containers": containers, "volumes": volumes}
    if spec.node_selector:
        pod["nodeSelector"] = spec.node_selector
    if spec.tolerations:
        pod["tolerations"] = spec.tolerations
    if spec.affinity:
        pod["affinity"] = spec.affinity
    if spec.security_context:
        pod["securityContext"] = spec.security_context
    if spec.topology_spread_constraints:
        pod["topologySpreadConstraints"] = spec.topology_spread_constraints
    if spec.image_pull_secret:
        pod["imagePullSecrets"] = [{"name": spec.image_pull_secret}]
    return pod


def member_statefulset(spec: DataPlaneSpec, member: MemberSpec) -> dict[str, Any]:
    labels = member_labels(spec, member)
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.storage.storage_size}},
    }
    if spec.storage.storage_class:
        claim["storageClassName"] = spec.storage.storage_class
    volume_uid = spec.volume_uid or spec.instance.uid
    claim_labels = {**instance_labels(spec), UID_LABEL: volume_uid} if volume_uid else instance_labels(spec)
    claims = (
        [] if member.arbiter else [{"metadata": {"name": volume_name(spec), "labels": claim_labels}, "spec": claim}]
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(member.name, spec, labels),
        "spec": {
            "replicas": 1,
            "serviceName": member.name,
            "selector": {"matchLabels": {INSTANCE_LABEL: spec.instance.name, MEMBER_LABEL: labels[MEMBER_LABEL]}},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": spec.storage.retention_policy,
                "whenScaled": "Retain",
            },
            "template": {
                "metadata": {"labels": labels, "annotations": _pod_annotations(spec)},
                "spec": _pod_spec(spec, member, mongod_config(spec) is not None),
            },
            "volumeClaimTemplates": claims,
        },
    }


def render_all(spec: DataPlaneSpec) -> list[dict[str, Any]]:
    """Every object, in the order they must exist: Secret and ConfigMap before the pods that mount them."""
    objects = [auth_secret(spec)]
    pull = pull_secret(spec)
    if pull is not None:
        objects.append(pull)
    config = mongod_config(spec)
    if config is not None:
        objects.append(config)
    for member in spec.members:
        objects += [member_service(spec, member), member_statefulset(spec, member)]
    return objects


def _pod_annotations(spec: DataPlaneSpec) -> dict[str, str]:
    annotations = {REVISION_ANNOTATION: spec.revision}
    if RENDER_VERSION != 1:  # absent means 1: the first version added no annotation, so it rolled nothing
        annotations[RENDER_ANNOTATION] = str(RENDER_VERSION)
    return annotations


def running_revision(annotations: dict[str, str]) -> str:
    """The revision a pod (or pod template) runs, as compared with the spec's: its spec revision, marked
    outdated when another render version of the agent made it."""
    revision = annotations.get(REVISION_ANNOTATION, "")
    render = annotations.get(RENDER_ANNOTATION, "1")
    return revision if not revision or render == str(RENDER_VERSION) else f"{revision}/render-{render}"


def statefulset_revision(sts: dict[str, Any]) -> str:
    """The revision a StatefulSet's pod template carries (see ``running_revision``)."""
    template = sts.get("spec", {}).get("template", {})
    return running_revision(template.get("metadata", {}).get("annotations") or {})


def keep_volume_claims(rendered: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    """A StatefulSet's volume claim templates cannot change: keep the existing ones (and the data mount's
    name), so a new storage class or size applies to members created later, never fails an update."""
    claims = existing.get("spec", {}).get("volumeClaimTemplates") or []
    spec = {**rendered["spec"], "volumeClaimTemplates": claims}
    if claims:
        old_name = claims[0]["metadata"]["name"]
        template = spec["template"]
        containers = [
            {
                **c,
                "volumeMounts": [
                    {**v, "name": old_name} if v.get("mountPath") == "/data/db" else v
                    for v in c.get("volumeMounts", [])
                ],
            }
            for c in template["spec"]["containers"]
        ]
        spec["template"] = {**template, "spec": {**template["spec"], "containers": containers}}
    return {**rendered, "spec": spec}
