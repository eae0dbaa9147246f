"""What a module imports, read from its source: the pure-decision tests check no I/O library is among them."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def forbidden_imports(paths: Iterable[Path], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """file → the forbidden modules it imports, for the files that import any."""
    found = {str(path): sorted(m for m in imported_modules(path) if m.startswith(forbidden)) for path in paths}
    return {path: modules for path, modules in found.items() if modules}
