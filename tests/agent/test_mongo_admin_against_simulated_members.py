"""The agent's replica-set admin (pymongo, asyncio) against simulated members: initiate, users and
password rotation, reconfig with maxTimeMS, step-down, featureCompatibilityVersion."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from fedstate.models.dataplane import Credentials
from fedstate.replset import WantedMember, desired_config
from fedstate_agent.mongo import MongoAdmin, reconfig_document
from fedstate_sim.mongo import MongoFabric
from fedstate_sim.mongo.api import MemberLaunch
from fedstate_sim.mongo.testing import address, fast_settings, plan_members

OCTET = 219
CREDS = Credentials(
    key_file="k" * 64, root_password="root-1", cluster_admin_password="admin-1", cluster_monitor_password="monitor-1"
)


async def wait_for(check: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def members() -> AsyncIterator[tuple[MongoAdmin, list[MemberLaunch]]]:
    fabric = MongoFabric(fast_settings())
    launches = plan_members("rs", {"c1": 1, "c2": 1, "c3": 1}, OCTET, image="mongo:7.0")
    for launch in launches:
        await fabric.start_member(launch)
    admin = MongoAdmin()
    yield admin, launches
    await admin.close()
    await fabric.close()


def config(launches: list[MemberLaunch], voting: int = 3, version: int = 1) -> object:
    wanted = [WantedMember(i, address(launch), i < voting) for i, launch in enumerate(launches)]
    return desired_config("rs", wanted, version)


async def primary_of(admin: MongoAdmin, launches: list[MemberLaunch]) -> str:
    for launch in launches:
        state = await admin.observe(address(launch), CREDS)
        if state.role == "PRIMARY":
            return address(launch)
    raise AssertionError("no primary")


async def initiated_with_users(admin: MongoAdmin, launches: list[MemberLaunch]) -> str:
    assert await admin.initiate(address(launches[0]), config(launches))  # type: ignore[arg-type]

    async def has_primary() -> bool:
        return "PRIMARY" in [(await admin.observe(address(launch), CREDS)).role for launch in launches]

    await wait_for(has_primary)
    primary = await primary_of(admin, launches)
    assert ["created root", "created clusterAdmin", "created clusterMonitor"] == await admin.ensure_users(
        primary, CREDS, monitor=True
    )
    return primary


async def can_log_in(host: str, user: str, password: str) -> bool:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        host, directConnection=True, username=user, password=password, serverSelectionTimeoutMS=2000
    )
    try:
        await client.admin.command("ping")
        return True
    except OperationFailure:
        return False
    finally:
        await client.close()


async def test_each_user_has_its_own_password_and_root_rotates(members: tuple[MongoAdmin, list[MemberLaunch]]) -> None:
    admin, launches = members
    primary = await initiated_with_users(admin, launches)
    assert [] == await admin.ensure_users(primary, CREDS, monitor=True), "idempotent"
    assert await can_log_in(primary, "clusterAdmin", "admin-1")
    assert await can_log_in(primary, "clusterMonitor", "monitor-1")
    assert not await can_log_in(primary, "clusterAdmin", "root-1")

    rotated = CREDS.model_copy(update={"root_password": "root-2", "previous_root_password": "root-1"})
    assert ["rotated the password of root", "dropped clusterMonitor"] == await admin.ensure_users(
        primary, rotated, monitor=False
    )
    assert await can_log_in(primary, "root", "root-2")
    assert not await can_log_in(primary, "root", "root-1")
    assert [] == await admin.ensure_users(primary, rotated, monitor=False)
    # A fresh agent (no memory of what worked) still gets in with the new password.
    fresh = MongoAdmin()
    assert "PRIMARY" == (await fresh.observe(primary, rotated)).role
    await fresh.close()


async def test_root_rotates_after_changes_faster_than_the_agent(members: tuple[MongoAdmin, list[MemberLaunch]]) -> None:
    """root-1 → root-2 → root-3 before the agent ran once: the members still hold root-1, which the
    orchestrator carries as an older password, so the agent gets in and rotates straight to root-3."""
    admin, launches = members
    primary = await initiated_with_users(admin, launches)
    twice = CREDS.model_copy(update={"root_password": "root-3"}).with_earlier_root_passwords(["root-2", "root-1"])
    fresh = MongoAdmin()  # an agent that never saw root-2
    try:
        assert ["rotated the password of root"] == await fresh.ensure_users(primary, twice, monitor=True)
    finally:
        await fresh.close()
    assert await can_log_in(primary, "root", "root-3")
    assert not await can_log_in(primary, "root", "root-1")


async def test_reconfig_keeps_settings_and_is_applied_once(members: tuple[MongoAdmin, list[MemberLaunch]]) -> None:
    admin, launches = members
    primary = await initiated_with_users(admin, launches)
    state = await admin.observe(primary, CREDS)
    assert state.config is not None
    demoted = config(launches, voting=2, version=state.config.version + 1)
    assert await admin.reconfig(primary, CREDS, demoted)  # type: ignore[arg-type]
    assert not await admin.reconfig(primary, CREDS, demoted)  # type: ignore[arg-type]
    after = await admin.observe(primary, CREDS)
    assert after.config is not None and [1, 1, 0] == [m.votes for m in after.config.members]


def test_the_reconfig_document_keeps_fields_it_does_not_manage() -> None:
    current = {
        "_id": "rs",
        "version": 4,
        "term": 2,
        "settings": {"replicaSetId": "x", "electionTimeoutMillis": 5000},
        "members": [{"_id": 0, "host": "a:1", "votes": 1, "priority": 1, "tags": {"dc": "1"}, "hidden": False}],
    }
    wanted = desired_config("rs", [WantedMember(0, "a:1", False), WantedMember(1, "b:1", False)], 5)
    document = reconfig_document(current, wanted)
    assert {"replicaSetId": "x", "electionTimeoutMillis": 5000} == document["settings"]
    assert "term" not in document
    assert {"_id": 0, "host": "a:1", "votes": 0, "priority": 0, "tags": {"dc": "1"}, "hidden": False} == document[
        "members"
    ][0]


async def test_step_down_hands_the_primary_role_over(members: tuple[MongoAdmin, list[MemberLaunch]]) -> None:
    admin, launches = members
    primary = await initiated_with_users(admin, launches)

    async def caught_up() -> bool:
        states = [(await admin.observe(address(launch), CREDS)).role for launch in launches]
        return states.count("SECONDARY") == 2

    await wait_for(caught_up)
    await admin.step_down(primary, CREDS)
    assert "PRIMARY" != (await admin.observe(primary, CREDS)).role


async def test_feature_compatibility_version_is_raised_once(members: tuple[MongoAdmin, list[MemberLaunch]]) -> None:
    admin, launches = members
    primary = await initiated_with_users(admin, launches)
    await admin._admin_command(primary, CREDS, {"setFeatureCompatibilityVersion": "6.0"})
    assert "6.0" == await admin.feature_compatibility_version(primary, CREDS)
    assert "7.0" == await admin.ensure_fcv(primary, CREDS, "7.0")
    assert "7.0" == await admin.feature_compatibility_version(primary, CREDS)
