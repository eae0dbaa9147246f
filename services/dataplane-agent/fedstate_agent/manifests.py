"""Render the Kubernetes objects of one instance's members in this cluster (pure).

Per member ``i``: a NodePort Service and a one-replica StatefulSet named ``<instance>-m<i>``;
per instance: the ``<instance>-auth`` Secret and, when configured, the ``<instance>-config`` ConfigMap.
"""

from __future__ import annotations

import base64
from typing import Any

from fedstate.models.dataplane import DataPlaneSpec, MemberSpec

MONGO_PORT = 27017
EXPORTER_PORT = 9216
EXPORTER_IMAGE = "percona/mongodb_exporter:0.40"
FIELD_MANAGER = "fedstate-agent"
INSTANCE_LABEL = "app.kubernetes.io/instance"
MEMBER_LABEL = "fedstate.io/member"
MANAGED_BY = {"app.kubernetes.io/managed-by": FIELD_MANAGER, "app.kubernetes.io/name": "mongodb"}
REVISION_ANNOTATION = "fedstate.io/revision"
KEYFILE_PATH = "/etc/mongod-auth/keyfile"
CONFIG_DIR = "/etc/mongod"


def instance_labels(spec: DataPlaneSpec) -> dict[str, str]:
    return {**MANAGED_BY, INSTANCE_LABEL: spec.instance.name}


def member_labels(spec: DataPlaneSpec, member: MemberSpec) -> dict[str, str]:
    return {**instance_labels(spec), MEMBER_LABEL: f"m{member.ordinal}"}


def auth_secret_name(spec: DataPlaneSpec) -> str:
    return f"{spec.instance.name}-auth"


def config_map_name(spec: DataPlaneSpec) -> str:
    return f"{spec.instance.name}-config"


def _meta(name: str, spec: DataPlaneSpec, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": spec.instance.namespace, "labels": labels}


def auth_secret(spec: DataPlaneSpec) -> dict[str, Any]:
    creds = spec.credentials
    values = {
        "keyfile": creds.key_file,
        "root-password": creds.root_password,
        "cluster-admin-password": creds.cluster_admin_password,
        "cluster-monitor-password": creds.cluster_monitor_password,
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(auth_secret_name(spec), spec, instance_labels(spec)),
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }


def mongod_config(spec: DataPlaneSpec) -> dict[str, Any] | None:
    """The custom mongod config: the federated ConfigMap's content plus config.configSet entries."""
    if spec.config_content is None and not spec.config_set:
        return None
    data = dict(spec.config_content or {})
    if spec.config_set:
        data["fedstate-config-set.conf"] = "\n".join(f"{e.name}: {e.value}" for e in spec.config_set) + "\n"
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
    mounts = [
        {"name": "data", "mountPath": "/data/db"},
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


def _pod_spec(spec: DataPlaneSpec, has_config: bool) -> dict[str, Any]:
    containers = [_mongod_container(spec, has_config)]
    if spec.export.enable:
        containers.append(_exporter_container(spec))
    volumes: list[dict[str, Any]] = [
        {"name": "auth", "secret": {"secretName": auth_secret_name(spec), "defaultMode": 0o400}}
    ]
    if has_config:
        volumes.append({"name": "config", "configMap": {"name": config_map_name(spec)}})
    pod: dict[str, Any] = {"containers": containers, "volumes": volumes}
    if spec.node_selector:
        pod["nodeSelector"] = spec.node_selector
    if spec.tolerations:
        pod["tolerations"] = spec.tolerations
    if spec.affinity:
        pod["affinity"] = spec.affinity
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
                "metadata": {"labels": labels, "annotations": {REVISION_ANNOTATION: spec.revision}},
                "spec": _pod_spec(spec, mongod_config(spec) is not None),
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": instance_labels(spec)}, "spec": claim}],
        },
    }


def render_all(spec: DataPlaneSpec) -> list[dict[str, Any]]:
    """Every object, in the order they must exist: Secret and ConfigMap before the pods that mount them."""
    objects = [auth_secret(spec)]
    config = mongod_config(spec)
    if config is not None:
        objects.append(config)
    for member in spec.members:
        objects += [member_service(spec, member), member_statefulset(spec, member)]
    return objects
