"""A user exists once: of several createUser commands for one name at once, one creates it and the others get
UserAlreadyExists, as from mongod."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from pymongo.errors import OperationFailure

from fedstate_sim.mongo import FabricThread
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
