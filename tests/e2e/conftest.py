"""One local stack (NATS, simulator with 3 clusters, every service) shared by the end-to-end tests, and the
invariants checked after every one of them: a state changes only with an event that says why, and no member
logged a failed login (the agent asks whether a user exists before it logs in as one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fedstate.cli.localstack import LocalStack

from .state_log import running, state_log


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running(tmp_path_factory.mktemp("stack")) as local:
        yield local


@pytest.fixture(autouse=True)
def every_state_change_is_told(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    for value in request.node.funcargs.values():
        if isinstance(value, LocalStack) and (log := state_log(value)) is not None:
            log.check()


@pytest.fixture(autouse=True)
def no_login_fails(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    for value in request.node.funcargs.values():
        if isinstance(value, LocalStack) and (log := value.paths.log("simulator")).exists():
            failed = [line[:300] for line in log.read_text().splitlines() if "authentication of" in line]
            assert [] == failed, "members logged failed logins"
