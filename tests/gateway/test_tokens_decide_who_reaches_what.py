"""Every API request carries a token (issue 10, item 5): none, an unknown or a revoked one is a 401; a viewer
reads and watches but writes nothing (403); each answer is a Kubernetes ``Status``; every write is logged with
who made it. The dashboard trades its token for an HttpOnly cookie that stands in for the header."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedstate.api import MULTICLOUD_MONGODB
from fedstate.tokens import Role, TokenRecord, issue, revoke
from tests.gateway.conftest import bearer

Manifest = Callable[..., dict[str, Any]]
ITEM = MULTICLOUD_MONGODB.item_path("default", "guarded")
LIST = MULTICLOUD_MONGODB.collection_path("default")
AUDIT = "fedstate.gateway.audit"
GUARDED_READS = (LIST, ITEM, MULTICLOUD_MONGODB.all_namespaces_path(), "/clusters", "/events", f"{ITEM}/placement")


def assert_status(response: httpx.Response, code: int, reason: str) -> None:
    body = response.json()
    assert (response.status_code, body["kind"], body["status"], body["code"], body["reason"]) == (
        code,
        "Status",
        "Failure",
        code,
        reason,
    )


@pytest.mark.parametrize("path", GUARDED_READS)
async def test_no_token_is_401_as_a_status(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path, headers={"Authorization": ""})
    assert_status(response, 401, "Unauthorized")
    assert "Bearer" in response.json()["message"]


@pytest.mark.parametrize("token", ["nonsense", "fst_000000000000_guessed", "fst__"])
async def test_an_unknown_token_is_401(api: httpx.AsyncClient, token: str, mcm_body: Manifest) -> None:
    refused = await api.put(ITEM, json=mcm_body("guarded"), headers={"Authorization": f"Bearer {token}"})
    assert_status(refused, 401, "Unauthorized")
    assert (await api.get(ITEM)).status_code == 404  # nothing was written


def revoked(tokens_file: Path, record: TokenRecord) -> None:
    assert [record] == revoke(tokens_file, record.id)


def half_copied(tokens_file: Path, _: TokenRecord) -> None:
    """The file as a copy that stopped half-way: it cannot be read, and then no token counts."""
    whole = tokens_file.read_text()
    tokens_file.write_text(whole[: len(whole) // 2])


@pytest.mark.parametrize("lose", [revoked, half_copied])
async def test_a_token_is_refused_from_the_next_request_once_revoked_or_unreadable(
    api: httpx.AsyncClient, tokens_file: Path, tenant: str, lose: Callable[[Path, TokenRecord], None]
) -> None:
    record, token = issue(tokens_file, tenant, Role.VIEWER, "leaving")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.get(LIST, headers=headers)).status_code == 200
    lose(tokens_file, record)
    assert_status(await api.get(LIST, headers=headers), 401, "Unauthorized")


async def test_a_viewer_reads_lists_and_watches_but_cannot_write(
    api: httpx.AsyncClient, tokens_file: Path, tenant: str, mcm_body: Manifest
) -> None:
    assert (await api.put(ITEM, json=mcm_body("guarded"))).status_code == 201
    viewer = bearer(tokens_file, tenant, Role.VIEWER)
    assert (await api.get(ITEM, headers=viewer)).json()["metadata"]["name"] == "guarded"
    assert [o["metadata"]["name"] for o in (await api.get(LIST, headers=viewer)).json()["items"]] == ["guarded"]
    assert (await api.get(LIST, params={"watch": "true", "timeoutSeconds": "1"}, headers=viewer)).status_code == 200
    writes = (
        api.put(ITEM, json=mcm_body("guarded", replicaset=5), headers=viewer),
        api.post(LIST, json=mcm_body("another"), headers=viewer),
        api.patch(
            ITEM,
            json={"spec": {"replicaset": 5}},
            headers={**viewer, "Content-Type": "application/merge-patch+json"},
        ),
        api.delete(ITEM, headers=viewer),
    )
    for write in writes:
        response = await write
        assert_status(response, 403, "Forbidden")
        assert "viewer" in response.json()["message"]
    after = (await api.get(ITEM)).json()
    assert after["spec"]["replicaset"] == 3
    assert "deletionTimestamp" not in after["metadata"]
    assert (await api.get(MULTICLOUD_MONGODB.item_path("default", "another"))).status_code == 404


async def test_an_editor_writes(api: httpx.AsyncClient, tokens_file: Path, tenant: str, mcm_body: Manifest) -> None:
    editor = bearer(tokens_file, tenant, Role.EDITOR)
    assert (await api.put(ITEM, json=mcm_body("guarded"), headers=editor)).status_code == 201
    assert (await api.delete(ITEM, headers=editor)).is_success


async def audit_lines(caplog: pytest.LogCaptureFixture, *requests: Awaitable[httpx.Response]) -> list[dict[str, Any]]:
    """What the audit logger says while ``requests`` are made, one dict of fields per line."""
    with caplog.at_level(logging.INFO, logger=AUDIT):
        for request in requests:
            await request
    return [record.__dict__ for record in caplog.records if record.name == AUDIT]


async def test_every_write_is_logged_with_its_token_tenant_verb_and_object(
    api: httpx.AsyncClient, tokens_file: Path, tenant: str, mcm_body: Manifest, caplog: pytest.LogCaptureFixture
) -> None:
    record, token = issue(tokens_file, tenant, Role.EDITOR, "ci-pipeline")
    headers = {"Authorization": f"Bearer {token}"}
    lines = await audit_lines(caplog, api.put(ITEM, json=mcm_body("guarded"), headers=headers), api.get(ITEM))
    assert len(lines) == 1  # the write; reads are not logged
    line = lines[0]
    assert {k: line[k] for k in ("token_id", "token_name", "tenant", "verb", "object", "outcome")} == {
        "token_id": record.id,
        "token_name": "ci-pipeline",
        "tenant": tenant,
        "verb": "apply",
        "object": "MultiCloudMongoDB/default/guarded",
        "outcome": "created",
    }
    assert token not in caplog.text


async def test_the_dashboard_logs_in_with_an_httponly_strict_cookie(
    api: httpx.AsyncClient, tokens_file: Path, tenant: str
) -> None:
    _, token = issue(tokens_file, tenant, Role.VIEWER, "browser")
    api.headers.pop("Authorization")
    assert_status(await api.get(LIST), 401, "Unauthorized")
    assert_status(await api.post("/login", json={"token": "fst_000000000000_guessed"}), 401, "Unauthorized")
    logged_in = await api.post("/login", json={"token": token})
    assert logged_in.json() == {"name": "browser", "tenant": tenant, "role": "viewer"}
    cookie = logged_in.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert (await api.get(LIST)).status_code == 200  # the cookie alone
    assert (await api.post("/logout")).status_code == 204
    assert_status(await api.get(LIST), 401, "Unauthorized")


async def test_the_page_discovery_health_and_metrics_need_no_token(api: httpx.AsyncClient) -> None:
    api.headers.pop("Authorization")
    for path in ("/", "/dashboard/app.js", "/healthz", "/version", "/apis", "/metrics", "/openapi.json"):
        assert (await api.get(path)).status_code == 200, path


async def test_every_refusal_is_logged_with_what_was_asked_never_the_token(
    api: httpx.AsyncClient, tokens_file: Path, tenant: str, mcm_body: Manifest, caplog: pytest.LogCaptureFixture
) -> None:
    record, token = issue(tokens_file, tenant, Role.VIEWER, "curious")
    lines = await audit_lines(
        caplog,
        api.put(ITEM, json=mcm_body("guarded"), headers={"Authorization": f"Bearer {token}"}),
        api.get(LIST, headers={"Authorization": "Bearer fst_000000000000_guessed"}),
    )
    refused = [line for line in lines if line["message"] == "refused"]
    assert [(r["code"], r["token_id"], r["method"], r["path"]) for r in refused] == [
        (403, record.id, "PUT", ITEM),
        (401, None, "GET", LIST),
    ]
    assert token not in caplog.text
    assert "guessed" not in caplog.text


async def test_an_oversized_body_is_413_with_or_without_a_token(api: httpx.AsyncClient) -> None:
    too_big = b"x" * (3 * 1024 * 1024 + 1)
    for headers in ({}, {"Authorization": ""}):
        response = await api.put(ITEM, content=too_big, headers={"Content-Type": "application/json", **headers})
        assert_status(response, 413, "RequestEntityTooLarge")
