"""Passwords in a spec (auth.rootPasswd, a registry password) are never shown back: every read and every
intake reply carries the redaction marker, and applying what was read keeps the stored passwords."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fedstate.api import MULTICLOUD_MONGODB
from fedstate.api.resources import by_kind
from fedstate.bus.connection import Bus
from fedstate.bus.names import InstanceKey, Kind
from fedstate.models.redaction import REDACTED
from fedstate_federation.vault import Vault
from tests.secret_fields import SPECS, secret_paths, spec_with_every_secret, value_at

Manifest = Callable[..., dict[str, Any]]
SECRETS = {
    "auth": {"rootPasswd": "s3cret-root"},
    "imageSetting": {"image": "mongo:6.0", "imagePullSecret": {"username": "bot", "password": "s3cret-pull"}},
}


async def test_reads_never_show_a_password(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    path = MULTICLOUD_MONGODB.item_path("default", "hush")
    created = await api.put(path, json=mcm_body("hush", **SECRETS))
    read = await api.get(path)
    listed = await api.get(MULTICLOUD_MONGODB.collection_path("default"))
    for body in (created.text, read.text, listed.text):
        assert "s3cret" not in body
    spec = read.json()["spec"]
    assert (REDACTED, REDACTED, "bot") == (
        spec["auth"]["rootPasswd"],
        spec["imageSetting"]["imagePullSecret"]["password"],
        spec["imageSetting"]["imagePullSecret"]["username"],
    )


@pytest.mark.parametrize("kind", SPECS)
async def test_every_read_of_either_kind_shows_the_marker_in_every_secret_field(
    api: httpx.AsyncClient, kind: str
) -> None:
    """The reply to a write, a read, a list and a list across namespaces: each secret field, found in the
    model, reads as the marker; no stored value shows anywhere."""
    resource = by_kind(kind)
    body = {"apiVersion": resource.api_version, "kind": kind, "metadata": {"name": "hush"}}
    written = await api.put(
        resource.item_path("default", "hush"),
        params={"cluster": "member-1"} if kind == "MongoDB" else {},
        json={**body, "spec": spec_with_every_secret(kind)},
    )
    assert written.status_code in (200, 201), written.text
    read = await api.get(resource.item_path("default", "hush"))
    listed = await api.get(resource.collection_path("default"))
    everywhere = await api.get(resource.all_namespaces_path())
    specs = [written.json()["spec"], read.json()["spec"]]
    specs += [item["spec"] for response in (listed, everywhere) for item in response.json()["items"]]
    assert [{REDACTED}] * 4 == [{value_at(spec, path) for path in secret_paths(kind)} for spec in specs]
    assert [] == [r.request.url for r in (written, read, listed, everywhere) if "s3cret" in r.text]


async def test_applying_what_was_read_keeps_the_passwords_and_the_generation(
    api: httpx.AsyncClient, mcm_body: Manifest, bus: Bus, tenant: str, federation_vault: Vault
) -> None:
    path = MULTICLOUD_MONGODB.item_path("default", "again")
    await api.put(path, json=mcm_body("again", **SECRETS))
    read = (await api.get(path)).json()
    unchanged = await api.put(path, json={k: read[k] for k in ("apiVersion", "kind", "metadata", "spec")})
    assert 1 == unchanged.json()["metadata"]["generation"]
    read["spec"]["replicaset"] = 5
    scaled = await api.put(path, json={k: read[k] for k in ("apiVersion", "kind", "metadata", "spec")})
    assert 2 == scaled.json()["metadata"]["generation"]
    stored = await bus.spec.get(InstanceKey(tenant, "default", Kind.MULTICLOUD_MONGODB, "again").spec_key)
    assert stored is not None
    assert "s3cret" not in json.dumps(stored.value.spec), "kept sealed to the federation"
    kept = federation_vault.opened_object(stored.value).spec
    assert "s3cret-root" == kept["auth"]["rootPasswd"]
    assert "s3cret-pull" == kept["imageSetting"]["imagePullSecret"]["password"]


async def test_the_marker_where_nothing_is_stored_is_refused_with_the_field(
    api: httpx.AsyncClient, mcm_body: Manifest
) -> None:
    refused = await api.put(
        MULTICLOUD_MONGODB.item_path("default", "blank"), json=mcm_body("blank", auth={"rootPasswd": REDACTED})
    )
    assert 422 == refused.status_code
    assert "spec.auth.rootPasswd" in json.dumps(refused.json())
