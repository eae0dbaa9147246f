"""The scheduler's domain layer is pure: no module in it imports a bus, Kubernetes or MongoDB client."""

from __future__ import annotations

from pathlib import Path

import fedstate_scheduler.domain
from tests.purity import forbidden_imports

FORBIDDEN = ("nats", "kubernetes", "pymongo", "fedstate.bus", "fedstate.service", "asyncio")
DOMAIN = Path(fedstate_scheduler.domain.__file__).parent


def test_no_domain_module_imports_io() -> None:
    """Every module under fedstate_scheduler/domain imports only pure code."""
    assert {} == forbidden_imports(sorted(DOMAIN.rglob("*.py")), FORBIDDEN)
