"""The replica-set planner and the orchestrator's domain are pure: no module imports a bus, Kubernetes,
MongoDB client or asyncio (fedstate_federation.domain.admission builds intake replies from bus models)."""

from __future__ import annotations

import ast
from pathlib import Path

import fedstate.replset
import fedstate_agent.singlecluster
import fedstate_federation.domain

FORBIDDEN = ("nats", "kubernetes", "pymongo", "fedstate.service", "asyncio")
PURE = [
    *Path(fedstate.replset.__file__).parent.rglob("*.py"),
    *Path(fedstate_federation.domain.__file__).parent.rglob("*.py"),
    Path(fedstate_agent.singlecluster.__file__),
]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_decision_module_imports_io() -> None:
    offenders = {path.name: sorted(m for m in imported_modules(path) if m.startswith(FORBIDDEN)) for path in PURE}
    assert {} == {path: modules for path, modules in offenders.items() if modules}
