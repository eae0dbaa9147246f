"""SCRAM keys derived once per agent process, not once per pymongo client.

A SCRAM login derives its keys from the password with PBKDF2 (SCRAM-SHA-256: 15,000 iterations, about 6 ms of
CPU). pymongo keeps them in the credential of one ``AsyncMongoClient`` only, and ``MongoAdmin`` opens a client
per (member, user, password) while a set changes, in each member cluster's agent: every new client derived
again, though all members of a set hold the same users with the same salt (users replicate like any data).

``ScramKeys`` keeps the last keys per (mechanism, user, password digest): a new client is seeded with them
before it logs in, and what a login derived is read back after. pymongo checks the salt and iteration count
itself and derives again when either differs (a user created again, a rotated password), so a seed can only
spare work, never fail a login. While nothing is known for a user and password, one client logs in alone
first and the others wait for its keys (the members of a set are looked at together).

It reaches one semi-private pymongo attribute, ``client.options.pool_options._credentials.cache.data``
(pymongo 4.20, pinned in pyproject.toml; ``MongoCredential.cache`` exists since pymongo 3.x). Where a
pymongo moved it, every client simply derives for itself, as before.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from typing import Any, Protocol

from pymongo import AsyncMongoClient

# Per user and password, so about two per instance (clusterAdmin, root): an agent process of 10 member
# clusters holding 2,000 instances' keys; the least recently used is dropped first, and then derived again.
CAPACITY = 4096

Key = tuple[str, str, str, bytes]  # mechanism, source database, user, SHA-256 of the password
Derived = tuple[Any, ...]  # pymongo's (client key, server key, salt, iteration count), kept opaque


class _Credential(Protocol):
    mechanism: str
    source: str
    username: str
    password: str
    cache: Any


def _credential(client: AsyncMongoClient[Any]) -> _Credential | None:
    """The client's credential if it has one where pymongo 4.20 keeps it, with a key cache."""
    credential = getattr(getattr(client.options, "pool_options", None), "_credentials", None)
    if credential is None or not hasattr(getattr(credential, "cache", None), "data"):
        return None
    return credential  # type: ignore[no-any-return]


def _digest(password: str) -> bytes:
    """What the store keeps of a password: a password is never held twice in plain."""
    return hashlib.sha256(password.encode()).digest()


def _key(credential: _Credential) -> Key:
    return (str(credential.mechanism), str(credential.source), str(credential.username), _digest(credential.password))


class ScramKeys:
    """The SCRAM keys logins of this process derived, per (mechanism, user, password digest)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._keys: OrderedDict[Key, Derived] = OrderedDict()
        self._deriving: dict[Key, asyncio.Event] = {}  # a first login under way: others wait for its keys

    async def ready(self, client: AsyncMongoClient[Any]) -> None:
        """Before a client's command: a client not logged in yet is seeded with the keys known for its user and
        password; when none are, it logs in now (``ping``) and keeps what it derived, one client at a time."""
        credential = _credential(client)
        if credential is None or credential.cache.data:  # no login, or logged in (or seeded) already
            return
        key = _key(credential)
        while (first := self._deriving.get(key)) is not None:
            await first.wait()
        if self._seed(credential, key):
            return
        first = self._deriving[key] = asyncio.Event()
        try:
            await client.admin.command("ping")
            self.keep(client)
        finally:
            self._deriving.pop(key, None)
            first.set()

    def _seed(self, credential: _Credential, key: Key) -> bool:
        derived = self._keys.get(key)
        if derived is not None:
            credential.cache.data = derived
        return derived is not None

    def keep(self, client: AsyncMongoClient[Any]) -> None:
        """After a client's command: the keys its login used, the latest for its user and password."""
        credential = _credential(client)
        if credential is None or not credential.cache.data:
            return
        key = _key(credential)
        self._keys[key] = credential.cache.data
        self._keys.move_to_end(key)
        while len(self._keys) > self._capacity:
            self._keys.popitem(last=False)

    def forget(self, password: str) -> None:
        """A password rotated away: its keys log in no more anywhere."""
        digest = _digest(password)
        for key in [k for k in self._keys if k[3] == digest]:
            del self._keys[key]

    def knows(self, user: str, password: str) -> bool:
        """Are keys kept for this user and password (any mechanism)?"""
        digest = _digest(password)
        return any(k[2] == user and k[3] == digest for k in self._keys)


# One per process: the member clusters an agent process serves share their members' users.
SCRAM_KEYS = ScramKeys()
