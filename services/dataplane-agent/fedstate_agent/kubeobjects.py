"""Apply, read and delete this agent's Kubernetes objects through the official client.

Objects are written with server-side apply under the field manager ``fedstate-agent``,
so a retried apply is a no-op and fields others own are left alone.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from kubernetes.aio import client
from kubernetes.aio.client.exceptions import ApiException

from fedstate.kube import list_raw

from .manifests import FIELD_MANAGER, INSTANCE_LABEL, KIND_LABEL

SINGLE_CLUSTER_KIND = "MongoDB"

APPLY = "application/apply-patch+yaml"


class KubeObjects:
    def __init__(self, api: client.ApiClient) -> None:
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)

    def _patcher(self, kind: str) -> Any:
        return {
            "Secret": self.core.patch_namespaced_secret,
            "ConfigMap": self.core.patch_namespaced_config_map,
            "Service": self.core.patch_namespaced_service,
            "StatefulSet": self.apps.patch_namespaced_stateful_set,
        }[kind]

    async def ensure_namespace(self, name: str) -> None:
        try:
            await self.core.read_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
            try:
                await self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
            except ApiException as create_exc:
                if create_exc.status != 409:
                    raise

    async def apply(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        await self._patcher(obj["kind"])(
            meta["name"], meta["namespace"], obj, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY
        )

    async def services(self, namespace: str, instance: str, kind: str | None = None) -> list[dict[str, Any]]:
        selector = _selector(instance, kind)
        return await list_raw(self.core, "list_namespaced_service", namespace, label_selector=selector)

    async def pods(self, namespace: str, instance: str) -> list[dict[str, Any]]:
        return await list_raw(self.core, "list_namespaced_pod", namespace, label_selector=_selector(instance))

    async def statefulsets(self, namespace: str, instance: str, kind: str | None = None) -> list[dict[str, Any]]:
        selector = _selector(instance, kind)
        return await list_raw(self.apps, "list_namespaced_stateful_set", namespace, label_selector=selector)

    async def claims(self, namespace: str, instance: str) -> list[dict[str, Any]]:
        return await list_raw(
            self.core, "list_namespaced_persistent_volume_claim", namespace, label_selector=_selector(instance)
        )

    async def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's decoded data, or None when there is no such Secret."""
        found = await list_raw(self.core, "list_namespaced_secret", namespace, field_selector=f"metadata.name={name}")
        if not found:
            return None
        return {k: base64.b64decode(v).decode() for k, v in (found[0].get("data") or {}).items()}

    async def config_map_data(self, namespace: str, name: str) -> dict[str, str] | None:
        found = await list_raw(
            self.core, "list_namespaced_config_map", namespace, field_selector=f"metadata.name={name}"
        )
        return dict(found[0].get("data") or {}) if found else None

    async def delete_member(self, namespace: str, name: str) -> None:
        await _ignore_missing(self.apps.delete_namespaced_stateful_set(name, namespace))
        await _ignore_missing(self.core.delete_namespaced_service(name, namespace))

    async def delete_instance(self, namespace: str, instance: str, kind: str) -> int:
        """Delete every object of the instance; PVCs follow each StatefulSet's retention policy. Returns how
        many objects were still there."""
        found = 0
        for sts in await self.statefulsets(namespace, instance, kind):
            found += 1
            await self.delete_member(namespace, sts["metadata"]["name"])
        for svc in await self.services(namespace, instance, kind):
            found += 1
            await _ignore_missing(self.core.delete_namespaced_service(svc["metadata"]["name"], namespace))
        for lister, deleter in (
            ("list_namespaced_secret", self.core.delete_namespaced_secret),
            ("list_namespaced_config_map", self.core.delete_namespaced_config_map),
        ):
            for item in await list_raw(self.core, lister, namespace, label_selector=_selector(instance, kind)):
                found += 1
                await _ignore_missing(deleter(item["metadata"]["name"], namespace))
        return found


def _selector(instance: str, kind: str | None = None) -> str:
    """Objects of one instance; with ``kind``, only those of a single-cluster MongoDB, or only the others."""
    if kind is None:
        return f"{INSTANCE_LABEL}={instance}"
    operator = "=" if kind == SINGLE_CLUSTER_KIND else "!="
    return f"{INSTANCE_LABEL}={instance},{KIND_LABEL}{operator}{SINGLE_CLUSTER_KIND.lower()}"


async def _ignore_missing(call: Any) -> None:
    try:
        await call
    except ApiException as exc:
        if exc.status != 404:
            raise


def api_error_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.reason)
    except (TypeError, ValueError):
        return str(exc.reason)
