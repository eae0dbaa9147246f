"""The scheduler's domain layer is pure: no module in it imports a bus, Kubernetes or MongoDB client."""

from __future__ import annotations

import ast
from pathlib import Path

import fedstate_scheduler.domain

FORBIDDEN = ("nats", "kubernetes", "pymongo", "fedstate.bus", "fedstate.service", "asyncio")
DOMAIN = Path(fedstate_scheduler.domain.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_domain_module_imports_io() -> None:
    """Every module under fedstate_scheduler/domain imports only pure code."""
    offenders = {
        str(path.relative_to(DOMAIN)): sorted(m for m in imported_modules(path) if m.startswith(FORBIDDEN))
        for path in sorted(DOMAIN.rglob("*.py"))
    }
    assert {} == {path: modules for path, modules in offenders.items() if modules}
