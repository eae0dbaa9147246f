"""``fedstate token create|list|revoke`` (issue 10, item 5): a token is printed once and stored hashed, in a file
only its owner reads; its role decides what the CLI may do with it; revoked, the gateway refuses it."""

from __future__ import annotations

import stat
from collections.abc import Callable
from typing import Any

import pytest
from served_gateway import ServedGateway

from fedstate.cli.client import TOKEN_ENV

MANIFEST = """apiVersion: middleware.fedstate.io/v1alpha1
kind: MultiCloudMongoDB
metadata: {name: NAME}
spec: {replicaset: 3, imageSetting: {image: "mongo:6.0"}}
"""


def test_a_viewer_token_reads_cannot_write_and_once_revoked_reads_nothing(
    served: ServedGateway, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    tokens = str(served.tokens_file)
    made = cli(
        "token", "create", "--tenant", served.tenant, "--role", "viewer", "--name", name, "--tokens-file", tokens
    )
    assert made.exit_code == 0, made.output
    token = made.stdout.splitlines()[-1]
    assert token.startswith("fst_")
    assert token not in served.tokens_file.read_text()  # only its hash is kept
    assert stat.S_IMODE(served.tokens_file.stat().st_mode) == 0o600
    listed = cli("token", "list", "--tokens-file", tokens)
    assert any(name in line and "viewer" in line and served.tenant in line for line in listed.stdout.splitlines())
    assert token not in listed.stdout

    monkeypatch.setenv(TOKEN_ENV, token)
    assert cli("get", "mcm").exit_code == 0
    refused = cli("apply", "-f", "-", input=MANIFEST.replace("NAME", name))
    assert refused.exit_code != 0
    assert "Forbidden" in refused.output

    assert cli("token", "revoke", name, "--tokens-file", tokens).exit_code == 0
    gone = cli("get", "mcm")
    assert gone.exit_code != 0
    assert "Unauthorized" in gone.output


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--tenant", "default", "--role", "root"], "--role"),
        (["--tenant", "Not.A.Label", "--role", "viewer"], "--tenant"),
    ],
)
def test_a_bad_role_or_tenant_makes_no_token(
    served: ServedGateway, cli: Callable[..., Any], args: list[str], said: str
) -> None:
    before = served.tokens_file.read_text()
    made = cli("token", "create", *args, "--tokens-file", str(served.tokens_file))
    assert made.exit_code != 0
    assert said in made.output
    assert served.tokens_file.read_text() == before
