"""A NATS server older than 2.10 is refused with a message that says why; the bundled one is accepted."""

from __future__ import annotations

import pytest

from fedstate.bus.connection import ServerTooOld, check_server_version
from fedstate.natsserver import nats_server_binary, server_version


@pytest.mark.parametrize("version", ["2.9.25", "2.2.0", "1.4.1"])
def test_servers_before_2_10_are_refused(version: str) -> None:
    with pytest.raises(ServerTooOld, match=r"needs 2\.10 or newer") as refused:
        check_server_version(version)
    assert "filter_subjects" in str(refused.value)


@pytest.mark.parametrize("version", ["2.10.0", "2.11.4-beta.1", "3.0.0"])
def test_servers_from_2_10_are_accepted(version: str) -> None:
    check_server_version(version)


def test_the_pinned_server_in_the_venv_is_recent_enough() -> None:
    check_server_version(server_version(nats_server_binary()))
