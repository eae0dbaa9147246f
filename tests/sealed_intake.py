"""What a submitter publishes on the intake: a request with its secret fields sealed to the federation's key."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fedstate.bus.intake import IntakeRequest, sealed_request
from fedstate.bus.names import DEFAULT_TENANT
from fedstate.sealing import write_public_keys
from fedstate_federation.vault import Vault


def federation_public_keys(vault: Vault, directory: Path) -> Path:
    """``vault``'s ``federation.pub`` in ``directory``: what a test's gateway or crd-bridge seals secrets to."""
    return write_public_keys(vault.ring, directory / "federation.key")


def sealed_payload(vault: Vault, request: IntakeRequest, tenant: str = DEFAULT_TENANT) -> bytes:
    """``request`` as a submitter publishes it to the federation holding ``vault``'s key."""
    with tempfile.TemporaryDirectory() as directory:
        sealed = sealed_request(request, tenant, federation_public_keys(vault, Path(directory)))
    return sealed.model_dump_json(by_alias=True).encode()
