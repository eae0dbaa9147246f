"""Files a container sees through its Secret and ConfigMap volumes, read from the store.

Only what the simulator needs to know about a container's filesystem: the mongod keyFile
and config file it is started with, and the files the mongo shell reads through
``pods/exec``. A path resolves through the container's ``volumeMounts`` (the longest
``mountPath`` that contains it, honouring ``subPath``) to a volume's key: a Secret's
``data`` (base64) or ``stringData``, a ConfigMap's ``data`` or ``binaryData``, renamed by
``items`` when given. Anything else (emptyDir, PVCs, image content) reads as absent.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from fedstate_sim.kube.meta import Obj, meta, spec_of
from fedstate_sim.kube.resources import CONFIGMAPS, SECRETS
from fedstate_sim.kube.store import ObjectStore

FileReader = Callable[[str], str | None]


def file_reader(store: ObjectStore, pod: Obj, container: Obj) -> FileReader:
    """``read(path)``: the file's text in ``container`` of ``pod``, or None when it is not there."""
    return lambda path: read_file(store, pod, container, path)


def read_file(store: ObjectStore, pod: Obj, container: Obj, path: str) -> str | None:
    path = posixpath.normpath(path)
    mount = _mount(container, path)
    if mount is None:
        return None
    relative = posixpath.relpath(path, posixpath.normpath(mount["mountPath"]))
    inner = posixpath.normpath(posixpath.join(mount.get("subPath") or "", "" if relative == "." else relative))
    volume = next((v for v in spec_of(pod).get("volumes") or [] if v.get("name") == mount.get("name")), None)
    if volume is None or inner in (".", ""):
        return None
    return _volume_file(store, meta(pod).get("namespace") or "default", volume, inner)


def missing_sources(store: ObjectStore, pod: Obj) -> list[str]:
    """Why each Secret or ConfigMap volume of ``pod`` cannot be set up, in the kubelet's words: the object is not
    there, or lacks a key its ``items`` name (unless the volume is ``optional``). While any is, the kubelet starts
    none of the pod's containers."""
    namespace = meta(pod).get("namespace") or "default"
    found = []
    for volume in spec_of(pod).get("volumes") or []:
        source = _source(store, namespace, volume)
        if source is None or source.spec.get("optional"):
            continue
        prefix = f'MountVolume.SetUp failed for volume "{volume.get("name")}" : '
        if source.files is None:
            found.append(f'{prefix}{source.kind} "{source.name}" not found')
            continue
        found.extend(
            f"{prefix}configmap references non-existent config key: {item.get('key')}"
            if source.kind == "configmap"
            else f"{prefix}references non-existent secret key: {item.get('key')}"
            for item in source.spec.get("items") or []
            if item.get("key") not in source.files
        )
    return found


def _mount(container: Obj, path: str) -> Obj | None:
    """The mount holding ``path``: the one with the longest mountPath that is a prefix of it."""
    best: Obj | None = None
    for mount in container.get("volumeMounts") or []:
        root = posixpath.normpath(str(mount.get("mountPath") or "/"))
        inside = path == root or path.startswith(root.rstrip("/") + "/")
        if inside and (best is None or len(root) > len(posixpath.normpath(best["mountPath"]))):
            best = mount
    return best


@dataclass(frozen=True)
class _Source:
    """A Secret or ConfigMap volume's source: its kind and name as kubelet words them, the volume's ``secret`` or
    ``configMap`` stanza, and the object's files by key (None: no such object)."""

    kind: str
    name: str
    spec: Obj
    files: dict[str, str] | None


def _source(store: ObjectStore, namespace: str, volume: Obj) -> _Source | None:
    """The volume's Secret or ConfigMap, read from the store; None for any other kind of volume."""
    if "secret" in volume:
        spec = volume["secret"] or {}
        name = str(spec.get("secretName", ""))
        secret = store.get(SECRETS, namespace, name)
        return _Source("secret", name, spec, _secret_files(secret) if secret is not None else None)
    if "configMap" in volume:
        spec = volume["configMap"] or {}
        name = str(spec.get("name", ""))
        config_map = store.get(CONFIGMAPS, namespace, name)
        return _Source("configmap", name, spec, _config_map_files(config_map) if config_map is not None else None)
    return None


def _volume_file(store: ObjectStore, namespace: str, volume: Obj, inner: str) -> str | None:
    source = _source(store, namespace, volume)
    if source is None:
        return None
    files = source.files or {}
    items = source.spec.get("items")
    if items:
        files = {str(i.get("path")): files[i.get("key")] for i in items if i.get("key") in files}
    return files.get(inner)


def _secret_files(secret: Obj) -> dict[str, str]:
    files = {k: str(v) for k, v in (secret.get("stringData") or {}).items()}
    for key, value in (secret.get("data") or {}).items():
        try:
            files[key] = base64.b64decode(str(value)).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            continue
    return files


def _config_map_files(config_map: Obj) -> dict[str, str]:
    files = {k: str(v) for k, v in (config_map.get("data") or {}).items()}
    for key, value in (config_map.get("binaryData") or {}).items():
        try:
            files.setdefault(key, base64.b64decode(str(value)).decode("utf-8", errors="replace"))
        except (binascii.Error, ValueError):
            continue
    return files
