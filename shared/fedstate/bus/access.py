"""How a process reaches the bus: which user it connects as (its NKey seed) and TLS — all optional.

Kept apart from the connection so that settings can name it without importing a NATS client.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .identities import Identity

SEED_SUFFIX = ".nk"


def nats_servers(urls: str | Sequence[str]) -> list[str]:
    """The server URLs of ``urls``: a list, or one string of comma-separated URLs (as the nats CLI's ``--server``
    takes them, and ``FEDSTATE_NATS_URL`` holds them)."""
    if isinstance(urls, str):
        urls = urls.split(",")
    return [url.strip() for url in urls if url.strip()]


def seed_path(directory: Path, identity: Identity) -> Path:
    """``<user>.nk``: the file holding a user's NKey seed, in the directory of a process's credentials."""
    return directory / f"{identity.user}{SEED_SUFFIX}"


@dataclass(frozen=True)
class BusAccess:
    """How a process reaches the bus: the directory of its users' NKey seeds, TLS, and the JetStream domain of the
    hub (when it reaches the hub through a leaf node, decision 0022); each optional."""

    credentials: Path | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    jetstream_domain: str | None = None

    def tls_context(self) -> ssl.SSLContext | None:
        """Verify the server with ``tls_ca_file`` (else the system's authorities) and present the client
        certificate when one is given; None when no TLS file is set."""
        if self.tls_ca_file is None and self.tls_cert_file is None:
            return None
        context = ssl.create_default_context(cafile=str(self.tls_ca_file) if self.tls_ca_file else None)
        if self.tls_cert_file is not None:
            context.load_cert_chain(self.tls_cert_file, self.tls_key_file)
        return context

    def seed_of(self, identity: Identity) -> Path:
        if self.credentials is None:
            raise ValueError("no credentials directory")
        return seed_path(self.credentials, identity)

    def options(self, identity: Identity | None) -> dict[str, Any]:
        """nats-py's connect options: the user's seed and its own inbox prefix, and TLS."""
        options: dict[str, Any] = {}
        if self.credentials is not None and identity is not None:
            options["nkeys_seed"] = str(seed_path(self.credentials, identity))
            options["inbox_prefix"] = identity.inbox_prefix
        tls = self.tls_context()
        if tls is not None:
            options["tls"] = tls
        return options


OPEN = BusAccess()
