"""The bus users' keys and the nats-server authorization made from the permission template (``identities``).

Each user authenticates with an NKey (ed25519): its seed stays in a file only that user's process reads
(``<user>.nk``, mode 0600), and the server holds only public keys, so its configuration is no secret.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nkeys

from .access import seed_path
from .identities import MEMBER_COMPONENTS, Component, Identity, permissions


@dataclass(frozen=True)
class TlsFiles:
    """A certificate and its key, and the authority whose certificates the other side must present."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def ensure_seed(directory: Path, identity: Identity) -> str:
    """The user's public key; its seed is created (random, mode 0600) unless the directory holds it already."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = seed_path(directory, identity)
    if not path.exists():
        seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(seed + b"\n")
    return public_key(path)


def public_key(seed_file: Path) -> str:
    key_pair = nkeys.from_seed(bytearray(seed_file.read_bytes().strip()))
    try:
        return bytes(key_pair.public_key).decode()
    finally:
        key_pair.wipe()


def user_entry(identity: Identity, nkey: str, domain: str | None = None) -> dict[str, Any]:
    """One ``authorization.users`` entry of nats-server's configuration (its JetStream subjects under ``domain``)."""
    granted = permissions(identity, domain)
    entry_permissions: dict[str, Any] = {
        "publish": {"allow": list(granted.publish)},
        "subscribe": {"allow": list(granted.subscribe)},
    }
    if granted.allow_responses:
        entry_permissions["allow_responses"] = True
    return {"nkey": nkey, "permissions": entry_permissions}


def checked_under_domain(identity: Identity, *, at_leaf_node: bool) -> bool:
    """Whether a server sees ``identity``'s JetStream subjects under the hub's domain (decision 0022). The hub
    checks a client's after mapping ``$JS.<domain>.API`` to its own API, so as if without a domain whichever the
    client used; it checks a leaf node's link on the subjects as they arrive, before that mapping. A leaf node,
    without JetStream, maps nothing: it checks its local users on the subjects they send, under the domain."""
    return at_leaf_node or identity.component is Component.LEAF


def server_config(
    users: dict[Identity, str],
    tls: TlsFiles | None = None,
    domain: str | None = None,
    *,
    at_leaf_node: bool = False,
) -> str:
    """The users (and TLS) of a nats-server configuration, in JSON, which its parser reads; JetStream, the address
    and the store come from flags or from a file that includes this one.

    ``users`` maps each identity to its public key. With ``tls``, clients must connect with TLS and present a
    certificate signed by ``tls.ca_file``. With ``domain``, the hub's JetStream domain, the users whose subjects
    this server (a hub, or a leaf node when ``at_leaf_node``) sees under it are granted them so.
    """
    entries = [
        user_entry(identity, nkey, domain if checked_under_domain(identity, at_leaf_node=at_leaf_node) else None)
        for identity, nkey in users.items()
    ]
    config: dict[str, Any] = {"authorization": {"users": entries}}
    if tls is not None:
        config["tls"] = {
            "cert_file": str(tls.cert_file),
            "key_file": str(tls.key_file),
            "ca_file": str(tls.ca_file),
            "verify": True,
        }
    return json.dumps(config, indent=2)


def write_server_config(
    path: Path,
    credentials: Path,
    identities: Iterable[Identity],
    tls: TlsFiles | None = None,
    domain: str | None = None,
    *,
    at_leaf_node: bool = False,
) -> None:
    """Create every identity's seed in ``credentials`` (unless there) and the server's configuration at ``path``."""
    users = {identity: ensure_seed(credentials, identity) for identity in identities}
    _write_private(path, server_config(users, tls, domain, at_leaf_node=at_leaf_node))


def leaf_node_users(leaf: Identity) -> tuple[Identity, ...]:
    """The local users of ``leaf``'s server: its cluster's agent and collector."""
    return tuple(Identity(component, leaf.cluster, leaf.tenant) for component in MEMBER_COMPONENTS)


def write_leaf_node_users(path: Path, credentials: Path, leaf: Identity, domain: str) -> None:
    """The users of a member cluster's leaf node (``leaf_node_users``), each held there to its own permissions,
    for the leaf's configuration to include; their seeds are made in ``credentials`` unless there."""
    write_server_config(path, credentials, leaf_node_users(leaf), domain=domain, at_leaf_node=True)


def leaf_node_config(users: Path, hub_leaf_urls: Sequence[str], seed: Path, directory: Path) -> str:
    """A member cluster's leaf node, without JetStream (decision 0022), to be written in ``directory``: it accepts
    only ``users`` (a file from ``write_leaf_node_users``) and links to the hub's leaf node port as the user whose
    seed is ``seed``. The port and address come from flags."""
    remote = {"urls": list(hub_leaf_urls), "nkey": seed.read_text().strip()}
    return f"leafnodes {json.dumps({'remotes': [remote]})}\n{include(users, directory)}"


def write_leaf_node_config(path: Path, users: Path, hub_leaf_urls: Sequence[str], seed: Path) -> None:
    _write_private(path, leaf_node_config(users, hub_leaf_urls, seed, path.parent))


def include(config: Path, directory: Path) -> str:
    """nats-server's ``include`` of ``config`` in a file of ``directory``: its path must be relative to it."""
    return f"include {json.dumps(os.path.relpath(config.resolve(), directory.resolve()))}\n"


def _write_private(path: Path, text: str) -> None:
    """Mode 0600: a leaf node's configuration holds its seed."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
