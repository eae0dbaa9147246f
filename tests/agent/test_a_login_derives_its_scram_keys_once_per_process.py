"""A SCRAM login derives its keys (PBKDF2, milliseconds of CPU) once per user and password in an agent process,
not once per pymongo client: the members of a set share their users and salt."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from fedstate_agent.mongo import MongoAdmin
from fedstate_agent.scramkeys import ScramKeys, _credential

from . import test_mongo_admin_against_simulated_members as admin_tests
from .test_mongo_admin_against_simulated_members import CREDS, Members, initiated_with_users, wait_for

members = admin_tests.members  # the fixture: three simulated members of one set, not initiated
VIP_OCTET = 78  # the fixture's addresses, apart from its own module's when both run at once


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], int]]:
    """How many PBKDF2 derivations ran since (the simulated mongods derive only when a user is created)."""
    count = 0
    derive = hashlib.pbkdf2_hmac

    def counted(*args: Any, **kwargs: Any) -> bytes:
        nonlocal count
        count += 1
        return derive(*args, **kwargs)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counted)
    yield lambda: count


async def _all_log_in(admin: MongoAdmin, addresses: list[str]) -> bool:
    # Each read itself: a SECONDARY's watch names its primary, and its hello would answer for it.
    return all(state.users_ready for state in [await admin.observe(a, CREDS, itself=True) for a in addresses])


async def _users_everywhere(m: Members) -> None:
    await initiated_with_users(m)
    await wait_for(lambda: _all_log_in(m.admin, m.addresses))  # the users replicated to every member


async def test_the_members_of_a_set_looked_at_together_derive_once(
    members: Members, derivations: Callable[[], int]
) -> None:
    """Three clients to three members, opened at once, and another cluster's agent in the same process: one
    derivation for clusterAdmin."""
    await _users_everywhere(members)
    keys = ScramKeys()
    here, elsewhere = MongoAdmin(members.admin.shell, keys=keys), MongoAdmin(members.admin.shell, keys=keys)
    before = derivations()
    states = await asyncio.gather(*(here.observe(a, CREDS, itself=True) for a in members.addresses))
    assert [True, True, True] == [state.users_ready for state in states]
    assert 1 == derivations() - before

    await elsewhere.read_primary(members.addresses[0], CREDS, users_created=True)
    assert 1 == derivations() - before
    await here.close()
    await elsewhere.close()


async def test_a_user_created_again_with_the_same_password_derives_again(
    members: Members, derivations: Callable[[], int]
) -> None:
    """The keys kept are for the old salt: pymongo sees the new salt, derives again and logs in."""
    primary = await initiated_with_users(members)
    keys = ScramKeys()
    first = MongoAdmin(members.admin.shell, keys=keys)
    assert (await first.observe(primary, CREDS)).users_ready
    await first.close()
    root: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        primary, directConnection=True, username="root", password=CREDS.root_password
    )
    await root.admin.command("dropUser", "clusterAdmin")
    await root.admin.command(
        {"createUser": "clusterAdmin", "pwd": CREDS.cluster_admin_password, "roles": ["clusterAdmin"]}
    )
    await root.close()

    again = MongoAdmin(members.admin.shell, keys=keys)
    before = derivations()
    assert (await again.observe(primary, CREDS)).users_ready
    assert 1 == derivations() - before
    await again.close()


async def test_a_rotated_password_s_keys_are_forgotten(members: Members) -> None:
    primary = await initiated_with_users(members)
    keys = ScramKeys()
    admin = MongoAdmin(members.admin.shell, keys=keys)
    assert [] == await admin.ensure_users(primary, CREDS, monitor=True)
    assert keys.knows("root", "root-1")

    rotated = CREDS.model_copy(update={"root_password": "root-2", "previous_root_password": "root-1"})
    assert ["rotated the password of root"] == await admin.ensure_users(primary, rotated, monitor=True)
    assert not keys.knows("root", "root-1")
    assert keys.knows("root", "root-2")
    await admin.close()


async def test_pymongo_keeps_a_client_s_scram_keys_where_the_store_seeds_them() -> None:
    """Pinned: a pymongo that moved them makes every client derive for itself, which this test tells."""
    with_login: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        "mongodb://127.0.0.1:1/", connect=False, username="u", password="p"
    )
    without: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient("mongodb://127.0.0.1:1/", connect=False)
    credential = _credential(with_login)
    assert credential is not None
    assert credential.cache.data is None
    assert _credential(without) is None
    await with_login.close()
    await without.close()
