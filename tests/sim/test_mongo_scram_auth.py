"""SCRAM-SHA-256 authentication on members with a keyFile, as a pymongo client experiences it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pymongo.errors import OperationFailure

from fedstate_sim.mongo import FabricThread
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
