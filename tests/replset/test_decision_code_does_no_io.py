"""The replica-set planner and the orchestrator's domain are pure: no module imports a bus, Kubernetes,
MongoDB client or asyncio (fedstate_federation.domain.admission builds intake replies from bus models)."""

from __future__ import annotations

from pathlib import Path

import fedstate.replset
import fedstate_agent.singlecluster
import fedstate_federation.domain
from tests.purity import forbidden_imports

FORBIDDEN = ("nats", "kubernetes", "pymongo", "fedstate.service", "asyncio")
PURE = [
    *Path(fedstate.replset.__file__).parent.rglob("*.py"),
    *Path(fedstate_federation.domain.__file__).parent.rglob("*.py"),
    Path(fedstate_agent.singlecluster.__file__),
]


def test_no_decision_module_imports_io() -> None:
    assert {} == forbidden_imports(PURE, FORBIDDEN)
