"""One local stack (NATS, simulator with 3 clusters, every service) shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fedstate.cli.localstack import LocalStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("stack"))
    try:
        local.up()
        yield local
    finally:
        local.down()
