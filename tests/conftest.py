"""Fixtures shared by every test: a real nats-server with JetStream, started once per session."""

from __future__ import annotations

import os
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import settings
from xdist.scheduler import LoadScopeScheduling

from fedstate.bus.access import BusAccess
from fedstate.bus.connection import Bus, connect
from fedstate.bus.credentials import write_server_config
from fedstate.bus.identities import Identity, every_identity
from fedstate.models.cluster import ClusterSnapshot
from fedstate.natsserver import NatsServer, start_nats_server

# Speed is measured by bench/, never by timed assertions: hypothesis's per-example deadline is one, and a
# loaded machine (CI, a stack running beside the tests) trips it.
settings.register_profile("fedstate", deadline=None)
settings.load_profile("fedstate")

REFERENCE = Path(__file__).resolve().parent / "fixtures" / "reference"
EXAMPLES = Path(__file__).resolve().parents[1] / "deploy" / "examples"


def example(kind: str) -> dict[str, Any]:
    """The seed sample of ``kind`` as deploy/examples gives it: the seed's own ``mongo:3.6`` is refused
    (docs/decisions/0025), so this is the seed with a supported image, and without the ConfigMap beside it."""
    documents = yaml.safe_load_all((EXAMPLES / f"{kind.lower()}-sample.yaml").read_text())
    return dict(next(d for d in documents if d["kind"] == kind))


END_TO_END = "tests/e2e"


class EndToEndTogether(LoadScopeScheduling):
    """``make test`` runs two pytest-xdist workers: the end-to-end tests share one stack, so they go to one worker
    as one unit, first, and every other module is a unit of its own, run beside them. The
    end-to-end tests are most of the suite's time, and mostly waits (elections, grace periods, failure
    thresholds) rather than CPU. A module stays on one worker: its fixtures hold fixed addresses (a simulator's
    VIP octet), which two workers would take at once. (xdist's own ``--dist loadgroup`` names the group in
    ``Item._nodeid``, which pytest 9 no longer reads.)"""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self.workqueue = _EndToEndFirst()

    def _split_scope(self, nodeid: str) -> str:
        return END_TO_END if nodeid.startswith(f"{END_TO_END}/") else nodeid.split("::", 1)[0]


class _EndToEndFirst(OrderedDict[str, Any]):
    """xdist's queue of units, largest first by default: the end-to-end unit goes first whatever its size, so its
    worker starts on it at once (a module of 99 parametrized tests would otherwise come before it)."""

    def __setitem__(self, scope: str, unit: Any) -> None:
        super().__setitem__(scope, unit)
        if scope == END_TO_END:
            self.move_to_end(scope, last=False)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    return EndToEndTogether(config, log) if config.getvalue("dist") == "load" else None


MEMBER_CLUSTERS = ("member-1", "member-2", "member-3")
# The tenants whose platform users the secured server has (they may ask their own tenant's intake only).
PLATFORM_TENANTS = ("default", "tenant-b")
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def register_clusters(bus: Bus, names: tuple[str, ...] = MEMBER_CLUSTERS) -> None:
    """What the collectors of a three-cluster stack would have reported: intake refuses unknown clusters."""
    for k, name in enumerate(names, start=1):
        # A heartbeat long past, so these never change a scheduler verdict while other tests run.
        await bus.clusters.put(name, ClusterSnapshot(name=name, vip=f"127.0.{k}.1", observed_at=LONG_AGO))


@pytest.fixture(scope="session", autouse=True)
def fedstate_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The CLI's current-context file lives in a temporary home, never the user's (subprocesses inherit it)."""
    home = tmp_path_factory.mktemp("fedstate-home")
    previous = os.environ.get("FEDSTATE_HOME")
    os.environ["FEDSTATE_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("FEDSTATE_HOME", None)
    else:
        os.environ["FEDSTATE_HOME"] = previous


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = start_nats_server(tmp_path_factory.mktemp("jetstream"))
    yield server
    server.stop()


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:
    connection = await connect(nats_server.url, name=f"test-{uuid.uuid4().hex[:6]}")
    yield connection
    await connection.close()


@dataclass(frozen=True)
class SecuredNats:
    """A nats-server whose every user has only its permissions (``fedstate.bus.identities``), as ``fedstate up``
    runs it; the admin has created the buckets and streams."""

    server: NatsServer
    credentials: Path

    async def connect(self, identity: Identity, *, create_layout: bool | None = None) -> Bus:
        access = BusAccess(credentials=self.credentials)
        return await connect(
            self.server.url, name=identity.user, identity=identity, access=access, create_layout=create_layout
        )


@pytest.fixture(scope="session")
def secured_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredNats]:
    root = tmp_path_factory.mktemp("secured-nats")
    identities = every_identity(MEMBER_CLUSTERS, platform_tenants=PLATFORM_TENANTS)
    write_server_config(root / "nats.conf", root / "credentials", identities)
    server = start_nats_server(root / "jetstream", config=root / "nats.conf")
    yield SecuredNats(server, root / "credentials")
    server.stop()
