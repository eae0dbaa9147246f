"""createUser and updateUser derive a user's SCRAM keys (PBKDF2: 10,000 and 15,000 iterations, milliseconds of
CPU) as mongod does, on the connection's own thread: every other simulated member, of every cluster, shares the
simulator's loop and keeps answering meanwhile. What a command read before its derivation it reads again after:
a user exists once, and an update lands on the user as it is then."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pymongo.errors import OperationFailure

from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.commands import users
from fedstate_sim.mongo.testing import MemberLaunch, SetHarness, fast_settings

OCTET = 210
USER_ALREADY_EXISTS = 51003


@pytest.fixture
def sim() -> Iterator[FabricThread]:
    with FabricThread(fast_settings()) as thread:
        yield thread


@pytest.fixture
def harness(sim: FabricThread) -> Iterator[SetHarness]:
    harness = SetHarness(sim, "rs0", {"c1": 1, "c2": 1, "c3": 1}, OCTET).start()
    harness.initiate()
    harness.wait_until_healthy()
    yield harness
    harness.close()


def derived_on(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads each key derivation from now on runs on."""
    threads: list[str] = []
    derive = users.make_credentials

    def recorded(*args: Any) -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return derive(*args)

    monkeypatch.setattr(users, "make_credentials", recorded)
    return threads


def test_a_user_s_keys_are_derived_off_the_loop_every_member_shares(
    harness: SetHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = derived_on(monkeypatch)
    primary = harness.wait_until_healthy()
    harness.local(primary, {"createUser": "root", "pwd": "first", "roles": ["root"]})
    client = harness.direct(primary, username="root", password="first")
    client.admin.command("updateUser", "root", pwd="second")
    assert 4 == len(threads)  # SCRAM-SHA-1 and SCRAM-SHA-256, twice
    assert "fedstate-sim-mongo" not in threads
    assert (
        "root"
        == harness.direct(primary, username="root", password="second").admin.command("connectionStatus")["authInfo"][
            "authenticatedUsers"
        ][0]["user"]
    )


def test_two_creates_of_one_user_at_once_make_one_user(harness: SetHarness) -> None:
    primary: MemberLaunch = harness.wait_until_healthy()

    def create() -> str:
        try:
            harness.local(primary, {"createUser": "twin", "pwd": "p", "roles": []})
        except OperationFailure as failure:
            return str(failure.code)
        return "created"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(lambda _: create(), range(4)))
    assert sorted(["created", *[str(USER_ALREADY_EXISTS)] * 3]) == outcomes
    harness.local(primary, {"createUser": "root", "pwd": "r", "roles": ["root"]})
    found = harness.direct(primary, username="root", password="r").admin.command("usersInfo", "twin")["users"]
    assert 1 == len(found)
