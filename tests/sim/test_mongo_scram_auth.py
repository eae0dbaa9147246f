"""SCRAM-SHA-256 authentication on members with a keyFile, as a pymongo client experiences it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.commands import users
from fedstate_sim.mongo.testing import SetHarness, direct_client, fast_settings, replica_set_client, wait_until

OCTET = 204


@pytest.fixture
def secured(sim: FabricThread) -> Iterator[SetHarness]:
    """A 3-member set with a keyFile whose root user was created through the localhost exception."""
    harness = SetHarness(sim, "rs0", {"c1": 1, "c2": 1, "c3": 1}, OCTET, key_file="a" * 64).start()
    harness.initiate()
    primary = harness.wait_until_healthy()
    harness.local(primary, {"createUser": "root", "pwd": "s3cret!", "roles": ["root"]})
    yield harness
    harness.close()


@pytest.fixture
def sim() -> Iterator[FabricThread]:
    with FabricThread(fast_settings()) as thread:
        yield thread


def test_unauthenticated_commands_are_refused_once_a_user_exists(secured: SetHarness) -> None:
    """After the first user, replSetGetStatus needs authentication (Unauthorized, 13); ping does not."""
    client = secured.direct(secured.launches[1])
    assert 1.0 == client.admin.command("ping")["ok"]
    with pytest.raises(OperationFailure) as failure:
        client.admin.command("replSetGetStatus")
    assert 13 == failure.value.code


def test_an_authenticated_client_can_do_everything(secured: SetHarness) -> None:
    """A SCRAM-SHA-256 client reads status and writes with w:majority."""
    client = replica_set_client(
        secured.launches, "rs0", username="root", password="s3cret!", authMechanism="SCRAM-SHA-256"
    )
    assert 3 == len(client.admin.command("replSetGetStatus")["members"])
    client.app.items.insert_one({"x": 1})
    assert 1 == client.app.items.count_documents({"x": 1})
    client.close()


def test_the_default_mechanism_negotiates_scram_sha_256(secured: SetHarness) -> None:
    """hello answers saslSupportedMechs, so pymongo's default picks SCRAM-SHA-256 (or speculates it)."""
    client = direct_client(secured.launches[0], username="root", password="s3cret!")
    status = client.admin.command("connectionStatus")
    assert [{"user": "root", "db": "admin"}] == status["authInfo"]["authenticatedUsers"]
    mechanisms = client.admin.command("usersInfo", "root")["users"][0]["mechanisms"]
    assert ["SCRAM-SHA-1", "SCRAM-SHA-256"] == mechanisms
    client.close()


def test_a_wrong_password_fails_authentication(secured: SetHarness) -> None:
    client = direct_client(secured.launches[0], username="root", password="wrong")
    with pytest.raises(OperationFailure) as failure:
        client.admin.command("ping")
    assert 18 == failure.value.code
    client.close()


def test_users_replicate_to_every_member(secured: SetHarness) -> None:
    """The user document reaches the secondaries, so each member authenticates the user."""
    for launch in secured.launches:
        client = direct_client(launch, username="root", password="s3cret!", authMechanism="SCRAM-SHA-256")
        wait_until(lambda: client.admin.command("ping")["ok"] == 1.0, what=f"auth on {launch.port}")  # noqa: B023
        client.close()


def test_scram_sha_1_also_works(secured: SetHarness) -> None:
    """createUser stores both mechanisms' credentials, as mongod does by default."""
    client = direct_client(secured.launches[0], username="root", password="s3cret!", authMechanism="SCRAM-SHA-1")
    assert 1.0 == client.admin.command("ping")["ok"]
    client.close()


def test_a_user_may_run_only_what_its_built_in_roles_grant(secured: SetHarness) -> None:
    """As mongod: clusterAdmin manages the set but not users; clusterMonitor reads the set's state and changes
    nothing; readWrite on one database reads and writes there only; root may do everything."""
    primary = secured.wait_for_primary()
    root = secured.direct(primary, username="root", password="s3cret!")
    users = {
        "admin1": [{"role": "clusterAdmin", "db": "admin"}],
        "monitor1": [{"role": "clusterMonitor", "db": "admin"}],
        "app1": [{"role": "readWrite", "db": "app"}],
    }
    for user, roles in users.items():
        root.admin.command({"createUser": user, "pwd": "pw", "roles": roles, "writeConcern": {"w": "majority"}})

    def refused(user: str, run: Callable[[MongoClient[dict[str, Any]]], object]) -> bool:
        try:
            run(secured.direct(primary, username=user, password="pw"))
        except OperationFailure as failure:
            assert 13 == failure.code, failure
            return True
        return False

    def admin(command: str | dict[str, Any]) -> Callable[[MongoClient[dict[str, Any]]], object]:
        return lambda client: client.admin.command(command)

    assert not refused("admin1", admin("replSetGetConfig"))
    assert not refused("admin1", admin({"setFeatureCompatibilityVersion": "6.0"}))
    assert refused("admin1", admin({"createUser": "x", "pwd": "y", "roles": []}))
    assert not refused("monitor1", admin("replSetGetStatus"))
    assert refused("monitor1", admin({"replSetFreeze": 0}))
    assert not refused("app1", lambda client: client.app.items.insert_one({"_id": 1}))
    assert refused("app1", lambda client: client.other.items.insert_one({"_id": 1}))
    assert refused("app1", admin("replSetGetStatus"))


def test_a_user_given_the_same_password_again_gets_a_new_salt(secured: SetHarness) -> None:
    """mongod draws a salt per createUser and updateUser: a client's keys for the old salt no longer fit."""
    client = secured.client(username="root", password="s3cret!")

    def salts() -> tuple[str, str]:
        (user,) = client.admin.command("usersInfo", "root", showCredentials=True)["users"]
        return user["credentials"]["SCRAM-SHA-256"]["salt"], user["credentials"]["SCRAM-SHA-1"]["salt"]

    before = salts()
    client.admin.command("updateUser", "root", pwd="s3cret!")
    after = salts()
    assert before[0] != after[0] and before[1] != after[1]


def test_a_user_created_by_several_commands_at_once_exists_once(secured: SetHarness) -> None:
    """Of several createUser commands for one name at once, one creates the user and the others get
    UserAlreadyExists (51003), as from mongod."""
    client = secured.client(username="root", password="s3cret!")

    def create(_: int) -> str:
        try:
            client.admin.command("createUser", "twin", pwd="p", roles=[])
        except OperationFailure as failure:
            return str(failure.code)
        return "created"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(create, range(4)))
    assert ["51003", "51003", "51003", "created"] == outcomes
    assert 1 == len(client.admin.command("usersInfo", "twin")["users"])


def test_a_user_being_created_holds_up_no_other_server(secured: SetHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """createUser derives the user's keys (PBKDF2, about 10 ms) beside the simulator's event loop, not in it: a real
    mongod spends that on its own machine, so while one member derives, the others still answer. Here the derivation
    is held until another member has answered a ping; one that ran on the loop would hold that ping up for good."""
    derive = users.make_credentials
    deriving, answered = threading.Event(), threading.Event()

    def held(mechanism: str, user: str, password: str) -> dict[str, Any]:
        deriving.set()
        if not answered.wait(timeout=10):
            raise RuntimeError("no other member answered while a user was being created")
        return derive(mechanism, user, password)

    monkeypatch.setattr(users, "make_credentials", held)
    primary = secured.wait_for_primary()
    other = next(launch for launch in secured.launches if launch is not primary)
    root = secured.direct(primary, username="root", password="s3cret!")
    with ThreadPoolExecutor(1) as pool:
        created = pool.submit(root.admin.command, {"createUser": "app", "pwd": "app-pw", "roles": ["readWrite"]})
        assert deriving.wait(timeout=10)
        ping = secured.direct(other, serverSelectionTimeoutMS=5000, socketTimeoutMS=5000).admin.command("ping")
        answered.set()
        assert 1.0 == ping["ok"]
        assert 1.0 == created.result()["ok"]
    app = direct_client(primary, username="app", password="app-pw", authSource="admin")
    assert 1.0 == app.admin.command("ping")["ok"]
    app.close()
